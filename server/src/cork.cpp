#include "cork.hpp"

#include <boost/asio/post.hpp>

namespace parley::server {

void cork::hold(std::shared_ptr<corked> writer) {
  held_.push_back(std::move(writer));
  if (posted_) return;
  posted_ = true;
  rounds_ = 0;
  inputs_seen_ = inputs_;
  net::post(executor_, [this] { release(); });
}

void cork::release() {
  // The first round always waits: the input that held a writer is usually followed by more
  // already queued behind this release (the rest of a read buffer's frames).
  if (rounds_ == 0 || (inputs_ != inputs_seen_ && rounds_ < max_rounds)) {
    ++rounds_;
    inputs_seen_ = inputs_;
    net::post(executor_, [this] { release(); });
    return;
  }
  posted_ = false;
  releasing_.swap(held_);
  // Writers held while this runs (a session released here and destroyed announces its user's
  // presence to others) go into held_, for the next release, not into this loop.
  if (ring_ != nullptr) ring_->begin();
  for (auto& writer : releasing_) writer->uncork();
  // Every writer is still held here: a staged send reports to a live wire.
  if (ring_ != nullptr) ring_->finish();
  releasing_.clear();
}

}  // namespace parley::server
