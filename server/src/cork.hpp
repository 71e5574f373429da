// Holds connections' writes until the event loop's current burst of input has been handled, so
// that everything one burst queued for a connection leaves in one write (uWebSockets calls this
// corking). A broadcast to 1,000 members is 1,000 sends whether it carries one message or ten,
// and a send costs far more than the bytes in it: when a publisher's frames arrive faster than
// they fan out, the next flush carries all of them.
//
// "The burst" is approximated without a clock: the release is posted behind the handlers
// already queued, and posted again while those handlers brought more input (a frame read by
// any session), at most max_rounds times. An idle loop therefore flushes after one extra hop;
// a busy one coalesces up to max_rounds turns of input. The outbound queue's byte bound still
// applies while a write is held.
//
// A release is also one send batch: the writers' lone small frames are staged in the
// send_ring while it uncorks them, and leave together (send_ring.hpp) before it returns.
#pragma once

#include "net.hpp"
#include "send_ring.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <memory>
#include <vector>

namespace parley::server {

/// A connection whose writes a cork can hold.
class corked {
 public:
  /// Writes what the connection has pending (its held output).
  virtual void uncork() = 0;

 protected:
  ~corked() = default;
};

/// The held writes of one io_context (one per server).
class cork {
 public:
  /// Rounds of input a held write may wait for, at most.
  static constexpr unsigned max_rounds = 8;

  /// `ring` (may be null: every writer sends for itself) batches the sends of a release.
  explicit cork(net::io_context::executor_type executor, send_ring* ring = nullptr)
      : executor_(executor), ring_(ring) {}

  /// The ring the writers of this loop stage their sends in (null when there is none).
  send_ring* ring() const { return ring_ != nullptr && ring_->available() ? ring_ : nullptr; }

  /// `writer` is uncorked once this burst of input is over. Once per burst: the writer remembers
  /// that it is held until uncork() runs.
  void hold(std::shared_ptr<corked> writer);
  /// A frame was read: the burst goes on.
  void note_input() { ++inputs_; }
  /// Lets go of every held writer without uncorking (the server is stopping).
  void drop() { held_.clear(); }

 private:
  void release();

  net::io_context::executor_type executor_;
  send_ring* ring_;
  std::vector<std::shared_ptr<corked>> held_;
  std::vector<std::shared_ptr<corked>> releasing_;  // kept for its capacity
  std::uint64_t inputs_ = 0;
  std::uint64_t inputs_seen_ = 0;
  unsigned rounds_ = 0;
  bool posted_ = false;
};

}  // namespace parley::server
