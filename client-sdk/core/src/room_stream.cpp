#include "parley/client/room_stream.hpp"

#include "parley/protocol/rules.hpp"

#include <algorithm>
#include <utility>

namespace parley::client {

void room_stream::restart(proto::resume_point at) {
  at_ = at;
  buffer_.clear();
  highest_ = at.seq;
}

room_stream::outcome room_stream::admit(proto::room_event ev,
                                        std::vector<proto::room_event>& ready) {
  if (!at_) at_ = proto::resume_point{ev.epoch, 0};
  highest_ = std::max(highest_, ev.seq);
  switch (proto::classify_seq(at_->seq, ev.seq)) {
    case proto::seq_verdict::duplicate:
      return outcome::duplicate;
    case proto::seq_verdict::deliver:
      at_->seq = ev.seq;
      ready.push_back(std::move(ev));
      drain(ready);
      return outcome::delivered;
    case proto::seq_verdict::gap:
      break;
  }
  if (buffer_.count(ev.seq) != 0) return outcome::duplicate;
  if (buffer_.size() >= max_buffered) return outcome::overflow;
  const auto seq = ev.seq;
  buffer_.emplace(seq, std::move(ev));
  return outcome::buffered;
}

std::uint64_t room_stream::skip_gap(std::vector<proto::room_event>& ready) {
  if (!at_) return 0;
  const auto skipped_to = buffer_.empty() ? highest_ : buffer_.begin()->first - 1;
  at_->seq = skipped_to;
  drain(ready);
  return skipped_to;
}

void room_stream::drain(std::vector<proto::room_event>& ready) {
  // Buffered events are all ahead of the delivered seq; take them while they are contiguous.
  while (!buffer_.empty() && buffer_.begin()->first == at_->seq + 1) {
    auto node = buffer_.extract(buffer_.begin());
    at_->seq = node.key();
    ready.push_back(std::move(node.mapped()));
  }
}

}  // namespace parley::client
