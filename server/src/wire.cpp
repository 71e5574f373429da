#include "wire.hpp"

#include "frame_header.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace parley::server {
namespace {

/// Pieces per sendmsg: a full frame of max_batch messages plus a header, with room to spare.
/// (Linux takes up to 1024; more pieces would only make one call longer.)
constexpr std::size_t max_pieces = 256;
/// Largest frame (header included) that send() copies flat rather than gathering.
constexpr std::size_t small_frame = 512;

std::size_t chunk_size(const std::size_t header_size, const std::vector<shared_buffer>& parts) {
  std::size_t size = header_size;
  for (const auto& part : parts) size += part->size();
  return size;
}

/// The pieces of one sendmsg, skipping the first `offset` bytes (already written).
class piece_list {
 public:
  explicit piece_list(std::size_t offset) : offset_(offset) {}

  bool full() const { return used_ == max_pieces; }
  void add(const void* data, std::size_t size) {
    if (offset_ >= size) {  // already written
      offset_ -= size;
      return;
    }
    pieces_[used_].iov_base = const_cast<char*>(static_cast<const char*>(data) + offset_);
    pieces_[used_].iov_len = size - offset_;
    offset_ = 0;
    ++used_;
  }
  /// Adds as many of `parts` as fit.
  void add(std::span<const shared_buffer> parts) {
    for (const auto& part : parts) {
      if (full()) return;
      add(part->data(), part->size());
    }
  }
  ssize_t send(int fd) {
    msghdr message{};
    message.msg_iov = pieces_.data();
    message.msg_iovlen = used_;
    // Non-blocking whatever mode Asio left the descriptor in; no SIGPIPE from a reset peer.
    return ::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
  }

 private:
  std::array<iovec, max_pieces> pieces_;
  std::size_t used_ = 0;
  std::size_t offset_;
};

}  // namespace

bool wire::write_frame(const frame_view& frame) {
  std::array<unsigned char, 10> header;
  const std::size_t header_size = frame_header(ws_opcode::binary, frame.bytes, header);
  return write(std::span(header).first(header_size), frame.messages, header_size + frame.bytes,
               /*may_stage=*/true);
}

bool wire::write_control(unsigned opcode, std::string_view payload) {
  std::array<unsigned char, 10> header;
  const std::size_t header_size = frame_header(opcode, payload.size(), header);
  shared_buffer body;
  if (!payload.empty()) body = std::make_shared<const std::string>(payload);
  return write(std::span(header).first(header_size),
               std::span<const shared_buffer>(&body, payload.empty() ? 0 : 1),
               header_size + payload.size(), /*may_stage=*/false);
}

bool wire::write(std::span<const unsigned char> header, std::span<const shared_buffer> parts,
                 std::size_t size, bool may_stage) {
  auto queued = [&] {
    chunk rest;
    std::copy(header.begin(), header.end(), rest.header.begin());
    rest.header_size = header.size();
    rest.parts.assign(parts.begin(), parts.end());
    return rest;
  };
  if (!queue_.empty() || failed_ || in_ring_) {
    // Behind bytes still waiting or staged (or on a failed socket, where async_drain reports
    // it).
    queue_.push_back(queued());
    flush();
    return queue_.empty();
  }
  // The common case: nothing waits, so the frame goes now, from where its bytes already lie.
  const std::size_t written = send(header, parts, may_stage);
  if (written == size) return true;
  if (failed_) return false;  // async_drain reports the error
  queue_.push_back(queued());
  offset_ = written;
  return false;
}

void wire::flush() {
  if (in_ring_) return;  // the staged frame goes first; ring_sent() comes before any drain
  for (;;) {
    // Drop every chunk fully written.
    std::size_t done = 0;
    while (done < queue_.size()) {
      const std::size_t size = chunk_size(queue_[done].header_size, queue_[done].parts);
      if (offset_ < size) break;
      offset_ -= size;
      ++done;
    }
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(done));
    if (queue_.empty() || failed_) break;
    const std::size_t written = send_queue();
    if (written == 0) return;
    offset_ += written;
  }
  if (queue_.empty()) {
    offset_ = 0;
    // Release a backlog's slots once the connection is quiet again.
    if (queue_.capacity() > 4) queue_.shrink_to_fit();
  }
}

std::size_t wire::send(std::span<const unsigned char> header,
                       std::span<const shared_buffer> parts, bool may_stage) {
  const int fd = socket_.native_handle();
  // A lone small frame (the usual fan-out delivery: one message) is copied next to its header
  // and sent with send(2): copying ~100 bytes costs less than the kernel's import and walk of a
  // two-piece iovec (2-4 % of a delivery: `parley-bench floor` against `floor --gather`).
  if (parts.size() <= 1) {
    const std::size_t body = parts.empty() ? 0 : parts.front()->size();
    std::array<char, small_frame> flat;
    if (header.size() + body <= flat.size()) {
      const std::string_view bytes =
          body == 0 ? std::string_view() : std::string_view(*parts.front());
      if (may_stage && ring_ != nullptr && ring_->stage(fd, header, bytes, *this)) {
        in_ring_ = true;  // counted as written until ring_sent() says otherwise
        return header.size() + body;
      }
      std::memcpy(flat.data(), header.data(), header.size());
      if (body != 0) std::memcpy(flat.data() + header.size(), parts.front()->data(), body);
      return finish_send(
          ::send(fd, flat.data(), header.size() + body, MSG_DONTWAIT | MSG_NOSIGNAL));
    }
  }
  piece_list pieces(0);
  pieces.add(header.data(), header.size());
  pieces.add(parts);
  return finish_send(pieces.send(fd));
}

void wire::ring_sent(std::span<const char> staged, const long result) {
  in_ring_ = false;
  if (result == static_cast<long>(staged.size())) return;  // anything queued behind is drained
  if (result < 0 && result != -EAGAIN && result != -EWOULDBLOCK && result != -EINTR) {
    failed_ = error_code(static_cast<int>(-result), boost::system::system_category());
    queue_.clear();
    offset_ = 0;
  } else {
    // The rest of the frame goes before whatever was queued behind it; nothing of those has
    // been written (offset_ is 0 while a frame is staged).
    const std::size_t written = result < 0 ? 0 : static_cast<std::size_t>(result);
    chunk rest;
    rest.parts.push_back(std::make_shared<const std::string>(staged.data() + written,
                                                              staged.size() - written));
    queue_.insert(queue_.begin(), std::move(rest));
  }
  if (backlog_) backlog_();
}

std::size_t wire::send_queue() {
  piece_list pieces(offset_);
  for (const chunk& next : queue_) {
    if (pieces.full()) break;
    pieces.add(next.header.data(), next.header_size);
    pieces.add(next.parts);
  }
  return finish_send(pieces.send(socket_.native_handle()));
}

std::size_t wire::finish_send(const ssize_t written) {
  if (written >= 0) return static_cast<std::size_t>(written);
  // EINTR and EAGAIN alike: nothing went; async_drain waits for writability and tries again.
  if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
    failed_ = error_code(errno, boost::system::system_category());
    queue_.clear();
    offset_ = 0;
  }
  return 0;
}

}  // namespace parley::server
