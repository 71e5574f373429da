#include "wire.hpp"

#include "frame_header.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

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

}  // namespace

bool wire::write_frame(frame_parts& frame) {
  chunk next;
  next.header_size = frame_header(ws_opcode::binary, frame.bytes, next.header);
  next.parts = std::move(frame.messages);
  const std::size_t size = next.header_size + frame.bytes;
  frame.clear();
  const bool drained = write_chunk(next, size);
  // Hand the vector's capacity back to the caller for the next frame (empty unless queued).
  if (next.parts.empty()) frame.messages = std::move(next.parts);
  return drained;
}

bool wire::write_control(unsigned opcode, std::string_view payload) {
  chunk next;
  next.header_size = frame_header(opcode, payload.size(), next.header);
  if (!payload.empty()) next.parts.push_back(std::make_shared<const std::string>(payload));
  return write_chunk(next, next.header_size + payload.size());
}

bool wire::write_chunk(chunk& next, std::size_t size) {
  if (!queue_.empty() || failed_) {
    // Behind bytes still waiting (or on a failed socket, where async_drain reports it).
    queue_.push_back(std::move(next));
    next.parts.clear();
    flush();
    return queue_.empty();
  }
  // The common case: nothing waits, so the frame goes now without entering the queue.
  const std::size_t written = send(&next, 1, 0);
  if (written == size) {
    next.parts.clear();
    return true;
  }
  if (failed_) return false;  // async_drain reports the error
  queue_.push_back(std::move(next));
  next.parts.clear();
  offset_ = written;
  return false;
}

void wire::flush() {
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
    const std::size_t written = send(queue_.data(), queue_.size(), offset_);
    if (written == 0) return;
    offset_ += written;
  }
  if (queue_.empty()) {
    offset_ = 0;
    // Release a backlog's slots once the connection is quiet again.
    if (queue_.capacity() > 4) queue_.shrink_to_fit();
  }
}

std::size_t wire::send(const chunk* chunks, std::size_t count, std::size_t offset) {
  const int fd = socket_.native_handle();
  // A lone small frame (the usual fan-out delivery: one message) is copied next to its header
  // and sent with send(2): copying ~100 bytes costs less than the kernel's import and walk of a
  // two-piece iovec (2-4 % of a delivery: `parley-bench floor` against `floor --gather`).
  if (count == 1 && offset == 0 && chunks[0].parts.size() <= 1) {
    const chunk& only = chunks[0];
    const std::size_t body = only.parts.empty() ? 0 : only.parts.front()->size();
    std::array<char, small_frame> flat;
    if (only.header_size + body <= flat.size()) {
      std::memcpy(flat.data(), only.header.data(), only.header_size);
      if (body != 0) std::memcpy(flat.data() + only.header_size, only.parts.front()->data(), body);
      return finish_send(::send(fd, flat.data(), only.header_size + body,
                                MSG_DONTWAIT | MSG_NOSIGNAL));
    }
  }
  std::array<iovec, max_pieces> pieces;
  std::size_t used = 0;
  auto add = [&](const void* data, std::size_t size) {
    if (offset >= size) {  // already written
      offset -= size;
      return;
    }
    pieces[used].iov_base = const_cast<char*>(static_cast<const char*>(data) + offset);
    pieces[used].iov_len = size - offset;
    offset = 0;
    ++used;
  };
  for (std::size_t c = 0; c < count && used < max_pieces; ++c) {
    add(chunks[c].header.data(), chunks[c].header_size);
    for (const auto& part : chunks[c].parts) {
      if (used == max_pieces) break;
      add(part->data(), part->size());
    }
  }
  msghdr message{};
  message.msg_iov = pieces.data();
  message.msg_iovlen = used;
  // Non-blocking whatever mode Asio left the descriptor in; no SIGPIPE from a reset peer.
  return finish_send(::sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL));
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
