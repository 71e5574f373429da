#include "outbound_queue.hpp"

namespace parley::server {

namespace {

/// Above this many slots an empty queue gives its memory back: a burst (a join's replay, a
/// reconnect's backlog) should not stay allocated on a connection that has gone quiet.
constexpr std::size_t kept_capacity = 8;

}  // namespace

std::string frame_parts::joined() const {
  std::string payload;
  payload.reserve(bytes);
  for (const auto& message : messages) payload.append(*message);
  return payload;
}

push_result outbound_queue::push(shared_buffer message, bool droppable) {
  // Ephemeral messages give way early so that a backed-up session keeps its room-log events.
  if (droppable && bytes_ > max_bytes_ / 2) return push_result::dropped;
  if (bytes_ + message->size() > max_bytes_) return push_result::overflow;
  bytes_ += message->size();
  pending_.push_back(std::move(message));
  return push_result::queued;
}

bool outbound_queue::take_frame(frame_parts& frame) {
  if (empty()) return false;
  std::size_t count = 0;
  while (head_ < pending_.size() && count < frame_messages_) {
    auto& next = pending_[head_];
    // The first message always goes, even alone over frame_bytes (max_text bounds it).
    if (count > 0 && frame.bytes + next->size() > frame_bytes_) break;
    frame.bytes += next->size();
    frame.messages.push_back(std::move(next));
    ++head_;
    ++count;
  }
  bytes_ -= frame.bytes;
  if (empty()) {
    clear();
  } else if (head_ > kept_capacity && head_ * 2 > pending_.size()) {
    // A session that never quite catches up must not grow the taken prefix forever.
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
  return true;
}

void outbound_queue::clear() {
  pending_.clear();
  if (pending_.capacity() > kept_capacity) pending_.shrink_to_fit();
  head_ = 0;
  bytes_ = 0;
}

}  // namespace parley::server
