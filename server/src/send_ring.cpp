#include "send_ring.hpp"

#include "log.hpp"

#include <liburing.h>

#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace parley::server {
namespace {

constexpr int send_flags = MSG_DONTWAIT | MSG_NOSIGNAL;
/// io_uring_enter calls interrupted by a signal before a batch's results are all in, at most.
constexpr int max_interrupts = 100;

}  // namespace

send_ring::send_ring(bool enabled) {
  if (!enabled) {
    refusal_ = "turned off (io_uring = false)";
    return;
  }
  auto ring = std::make_unique<io_uring>();
  // The completion queue is twice the submission queue (liburing's default): one batch always
  // fits, and every batch is reaped before the next is staged.
  if (const int error = io_uring_queue_init(depth, ring.get(), 0); error < 0) {
    refusal_ = std::string("the kernel refused io_uring: ") + std::strerror(-error);
    return;
  }
  ring_ = std::move(ring);
  staged_.reserve(depth);
  arena_.resize(std::size_t{depth} * max_send);
}

send_ring::~send_ring() {
  if (ring_) io_uring_queue_exit(ring_.get());
}

bool send_ring::stage(int fd, std::span<const unsigned char> header, std::string_view body,
                      sender& owner) {
  if (!open_ || header.size() + body.size() > max_send) return false;
  const std::size_t size = header.size() + body.size();
  // Packed back to back: a batch of 226-byte frames touches 57 KiB of arena, not 128. No send
  // exceeds max_send, so the arena (depth * max_send) cannot fill before the batch does.
  if (staged_.size() == depth) {
    submit();
    // That batch may have failed and given the ring up: nothing may be staged in it then.
    if (!open_) return false;
  }
  const std::size_t offset = used_;
  used_ += size;
  std::memcpy(arena_.data() + offset, header.data(), header.size());
  if (!body.empty()) std::memcpy(arena_.data() + offset + header.size(), body.data(), body.size());
  staged_.push_back({&owner, fd, offset, size, -ECANCELED});
  return true;
}

void send_ring::finish() {
  submit();
  open_ = false;
}

void send_ring::submit() {
  if (staged_.empty()) return;
  const unsigned count = static_cast<unsigned>(staged_.size());
  for (unsigned i = 0; i < count; ++i) {
    // Never null: the queue holds `depth` entries and is emptied by every submit.
    io_uring_sqe* sqe = io_uring_get_sqe(ring_.get());
    const staged& send = staged_[i];
    io_uring_prep_send(sqe, send.fd, arena_.data() + send.offset, send.size, send_flags);
    sqe->user_data = i;
  }
  unsigned completed = 0;
  int submitted = io_uring_submit_and_wait(ring_.get(), count);
  for (int interrupts = 0; submitted == -EINTR && interrupts < max_interrupts; ++interrupts) {
    submitted = io_uring_submit_and_wait(ring_.get(), count);
  }
  if (submitted >= 0) {
    // MSG_DONTWAIT sends finish during the submission, so this normally does not wait; a wait
    // cut short by a signal is resumed.
    for (int interrupts = 0; completed < static_cast<unsigned>(submitted);) {
      io_uring_cqe* cqe = nullptr;
      const int error = io_uring_wait_cqe(ring_.get(), &cqe);
      if (error == -EINTR && ++interrupts < max_interrupts) continue;
      if (error < 0) break;
      if (cqe->user_data < count) staged_[cqe->user_data].result = cqe->res;
      io_uring_cqe_seen(ring_.get(), cqe);
      ++completed;
    }
  }
  if (submitted < 0 || completed < count) {
    // Not expected from non-blocking sends. If it happens, the ring is given up for good. A send
    // the kernel never took is made here, in order, as the wire would have made it; one it took
    // without reporting may or may not have gone, so its connection fails (-EIO) rather than
    // risk sending its bytes twice: the client resumes from its last seq.
    const unsigned taken = submitted < 0 ? 0 : static_cast<unsigned>(submitted);
    log_line(log_level::warn, std::string("io_uring batch failed (") +
                                  std::strerror(submitted < 0 ? -submitted : ETIME) +
                                  "); sending with send(2) from now on");
    io_uring_queue_exit(ring_.get());
    ring_.reset();
    refusal_ = "a batch failed";
    for (unsigned i = 0; i < count; ++i) {
      staged& send = staged_[i];
      if (send.result != -ECANCELED) continue;
      if (i < taken) {
        send.result = -EIO;
        continue;
      }
      const ssize_t written = ::send(send.fd, arena_.data() + send.offset, send.size, send_flags);
      send.result = written >= 0 ? written : -errno;
    }
  }
  // The senders hear in staging order; none of them stages while it hears.
  const bool open = open_;
  open_ = false;
  for (unsigned i = 0; i < count; ++i) {
    const staged& send = staged_[i];
    send.owner->ring_sent(std::span<const char>(arena_.data() + send.offset, send.size),
                          send.result);
  }
  open_ = open && ring_ != nullptr;
  staged_.clear();
  used_ = 0;
}

}  // namespace parley::server
