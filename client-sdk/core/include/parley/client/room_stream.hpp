// Per-room ordering on the client: the last contiguous seq handed to the app, plus a bounded
// buffer of events that arrived ahead of a gap (brief, Semantics 6). The engine decides when
// to ask for a fill; this class only keeps the order, so it is easy to test and fuzz alone.
#pragma once

#include "parley/protocol/messages.hpp"

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace parley::client {

/// Ordering state of one room: delivers each (epoch, seq) once, in order.
class room_stream {
 public:
  /// Events held ahead of a gap; beyond this, later events are dropped and fetched again by
  /// the fill (which pages forward from the last delivered seq), so memory stays bounded.
  static constexpr std::size_t max_buffered = 1000;

  /// What admit() did with an event.
  enum class outcome {
    delivered,  // it (and maybe buffered successors) went to `ready`
    duplicate,  // already delivered or already buffered: dropped
    buffered,   // ahead of a gap: held until the missing events arrive
    overflow,   // ahead of a gap and the buffer is full: dropped, the fill brings it back
  };

  /// Continue from `at` with an empty buffer (join without resume, or a reset).
  void restart(proto::resume_point at);
  /// Forget buffered events but keep the resume point: the next replay sends them again.
  void drop_buffer() {
    buffer_.clear();
    highest_ = last();
  }
  /// Where a rejoin resumes from; nullopt until the room was first joined.
  std::optional<proto::resume_point> resume() const { return at_; }
  /// Epoch of the log being followed (0 before the first join).
  std::uint64_t epoch() const { return at_ ? at_->epoch : 0; }
  /// Last contiguous seq delivered.
  std::uint64_t last() const { return at_ ? at_->seq : 0; }
  /// True while some seq after last() was seen but not delivered (buffered or overflowed).
  bool has_gap() const { return highest_ > last(); }

  /// Feed one event of the current epoch; appends every event now deliverable to `ready`,
  /// in seq order (the event itself and any buffered successors).
  outcome admit(proto::room_event ev, std::vector<proto::room_event>& ready);

  /// The missing events cannot be fetched any more (history trimmed): continue from the
  /// first buffered event (or, with nothing buffered, after the highest seq seen), appending
  /// the deliverable run to `ready`. Returns the seq that delivery now continues after (the
  /// new "head" the app reloads up to).
  std::uint64_t skip_gap(std::vector<proto::room_event>& ready);

 private:
  void drain(std::vector<proto::room_event>& ready);

  std::optional<proto::resume_point> at_;
  std::map<std::uint64_t, proto::room_event> buffer_;  // keyed by seq, all > at_->seq + 1
  std::uint64_t highest_ = 0;  // highest seq seen, so events dropped on overflow are not forgotten
};

}  // namespace parley::client
