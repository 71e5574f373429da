#include "outbound_queue.hpp"

namespace parley::server {

namespace {

/// Above this many slots an empty queue gives its memory back: a burst (a join's replay, a
/// reconnect's backlog) should not stay allocated on a connection that has gone quiet.
constexpr std::size_t kept_capacity = 8;

}  // namespace

std::string frame_view::joined() const {
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
  if (empty()) {
    only_ = std::move(message);
  } else {
    if (only_) pending_.push_back(std::move(only_));
    pending_.push_back(std::move(message));
  }
  return push_result::queued;
}

frame_view outbound_queue::next_frame() const {
  if (only_) return {std::span<const shared_buffer>(&only_, 1), only_->size()};
  frame_view frame;
  std::size_t end = head_;
  while (end < pending_.size() && end - head_ < frame_messages_) {
    const std::size_t size = pending_[end]->size();
    // The first message always goes, even alone over frame_bytes (max_text bounds it).
    if (end > head_ && frame.bytes + size > frame_bytes_) break;
    frame.bytes += size;
    ++end;
  }
  frame.messages = std::span<const shared_buffer>(pending_.data() + head_, end - head_);
  return frame;
}

void outbound_queue::pop_frame(const frame_view& frame) {
  bytes_ -= frame.bytes;
  if (frame.messages.data() == &only_) {
    only_.reset();
    return;
  }
  const std::size_t end = head_ + frame.messages.size();
  if (end == pending_.size()) {
    clear();
    return;
  }
  // Sent messages are let go now, not when the prefix is next erased.
  for (; head_ < end; ++head_) pending_[head_].reset();
  if (head_ > kept_capacity && head_ * 2 > pending_.size()) {
    // A session that never quite catches up must not grow the sent prefix forever.
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

void outbound_queue::clear() {
  only_.reset();
  pending_.clear();
  if (pending_.capacity() > kept_capacity) pending_.shrink_to_fit();
  head_ = 0;
  bytes_ = 0;
}

}  // namespace parley::server
