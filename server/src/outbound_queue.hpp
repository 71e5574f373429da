// A session's bounded outbound queue. Messages arrive already encoded as shared buffers (a
// broadcast is encoded once and the same bytes are queued for every recipient); take_frame()
// coalesces what is pending into one WebSocket frame, which is the protocol's batching.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <string>

namespace parley::server {

/// An encoded message shared by every recipient.
using shared_buffer = std::shared_ptr<const std::string>;

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

  /// Queues `message`; see push_result.
  push_result push(shared_buffer message, bool droppable);
  /// The next frame: the oldest pending messages concatenated (the buffer itself when only one
  /// fits). Null when nothing is pending. Sets `messages` to how many it holds.
  shared_buffer take_frame(std::size_t& messages);
  /// Drops everything pending (the session is closing abortively).
  void clear();

  bool empty() const { return pending_.empty(); }
  /// Bytes pending (not counting a frame already taken).
  std::size_t bytes() const { return bytes_; }

 private:
  std::size_t max_bytes_, frame_bytes_, frame_messages_;
  std::deque<shared_buffer> pending_;
  std::size_t bytes_ = 0;
};

}  // namespace parley::server
