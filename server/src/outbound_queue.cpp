#include "outbound_queue.hpp"

namespace parley::server {

push_result outbound_queue::push(shared_buffer message, bool droppable) {
  // Ephemeral messages give way early so that a backed-up session keeps its room-log events.
  if (droppable && bytes_ > max_bytes_ / 2) return push_result::dropped;
  if (bytes_ + message->size() > max_bytes_) return push_result::overflow;
  bytes_ += message->size();
  pending_.push_back(std::move(message));
  return push_result::queued;
}

shared_buffer outbound_queue::take_frame(std::size_t& messages) {
  messages = 0;
  if (pending_.empty()) return nullptr;
  std::size_t count = 1;
  std::size_t size = pending_.front()->size();
  while (count < pending_.size() && count < frame_messages_ &&
         size + pending_[count]->size() <= frame_bytes_) {
    size += pending_[count]->size();
    ++count;
  }
  messages = count;
  bytes_ -= size;
  if (count == 1) {
    auto only = std::move(pending_.front());
    pending_.pop_front();
    return only;
  }
  auto frame = std::make_shared<std::string>();
  frame->reserve(size);
  for (std::size_t i = 0; i < count; ++i) {
    frame->append(*pending_.front());
    pending_.pop_front();
  }
  return frame;
}

void outbound_queue::clear() {
  pending_.clear();
  bytes_ = 0;
}

}  // namespace parley::server
