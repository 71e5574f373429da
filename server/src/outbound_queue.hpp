// A session's bounded outbound queue. Messages arrive already encoded as shared buffers (a
// broadcast is encoded once and the same bytes are queued for every recipient); next_frame()
// shows what is pending, oldest first, as the parts of one WebSocket frame, which is the
// protocol's batching, and pop_frame() drops them once they are written. The parts are viewed
// where they lie, never moved or copied on the way out: the plain-TCP driver sends them
// straight from the queue, and keeps copies only of what the socket did not take.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace parley::server {

/// An encoded message shared by every recipient.
using shared_buffer = std::shared_ptr<const std::string>;

/// The messages of one outgoing frame, in order; written back to back they are its payload.
/// A view: valid until the queue it came from changes.
struct frame_view {
  std::span<const shared_buffer> messages;
  std::size_t bytes = 0;  // payload size: the messages' sizes summed

  bool empty() const { return messages.empty(); }
  /// The payload as one buffer (for TLS, where each write is its own record, and for tests).
  std::string joined() const;
};

/// What push() did with a message.
enum class push_result {
  queued,
  dropped,   // droppable (typing) and the queue is above half its bound
  overflow,  // over the bound: the session is a slow consumer and must be closed
};

/// Pending outbound messages with a byte bound.
class outbound_queue {
 public:
  /// `max_bytes`: the bound (send_queue_bytes). A frame holds at most `frame_messages`
  /// messages and, unless a single message is larger, at most `frame_bytes` bytes, so that
  /// clients can decode server frames with the same limits they are given for their own.
  outbound_queue(std::size_t max_bytes, std::size_t frame_bytes, std::size_t frame_messages)
      : max_bytes_(max_bytes), frame_bytes_(frame_bytes), frame_messages_(frame_messages) {}
  outbound_queue(const outbound_queue&) = delete;  // a frame_view may point into it
  outbound_queue& operator=(const outbound_queue&) = delete;

  /// Queues `message`; see push_result.
  push_result push(shared_buffer message, bool droppable);
  /// The oldest pending messages that fit one frame; empty when nothing is pending. It stays
  /// valid until the next push, pop or clear.
  frame_view next_frame() const;
  /// Drops `frame`, which next_frame() returned and nothing has changed since, from the front.
  void pop_frame(const frame_view& frame);
  /// Drops everything pending (the session is closing abortively).
  void clear();

  bool empty() const { return !only_ && head_ == pending_.size(); }
  /// Bytes pending.
  std::size_t bytes() const { return bytes_; }

 private:
  // The usual queue holds one message: written before the next one arrives. It waits in
  // only_, inside the session object, so a fan-out touches no heap block of the queue; a
  // second message moves it to pending_ first. Invariant: only_ is set only while pending_
  // holds nothing unsent.
  shared_buffer only_;
  std::size_t bytes_ = 0;
  std::size_t max_bytes_;
  // A vector consumed from head_ rather than a deque: libstdc++'s deque allocates ~600 bytes
  // even when empty, which every idle connection would pay.
  std::vector<shared_buffer> pending_;
  std::size_t head_ = 0;
  std::size_t frame_bytes_, frame_messages_;
};

}  // namespace parley::server
