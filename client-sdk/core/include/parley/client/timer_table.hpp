// The engine's timers as data (quinn-proto's timer.rs): one optional deadline per timer kind.
// The driver owns one real timer armed at the earliest deadline; the engine decides what is due.
#pragma once

#include "parley/protocol/rules.hpp"

#include <array>
#include <cstddef>
#include <optional>

namespace parley::client {

/// The earlier of two optional deadlines (an absent one never wins).
inline std::optional<proto::millis> earlier(std::optional<proto::millis> a,
                                            std::optional<proto::millis> b) {
  if (a && b) return *a < *b ? a : b;
  return a ? a : b;
}

/// Every deadline the engine can be waiting for.
enum class timer : std::size_t {
  reconnect,      // backing_off: when to open the next transport
  connect,        // connecting/handshaking: give up if welcome has not arrived by then
  dead_peer,      // ready: the server has been silent for dead_peer_after(heartbeat)
  rate_retry,     // ready: resend what the server refused with rate_limited
  typing_expiry,  // earliest typing(on) from another user that lapses without a refresh
};

/// One optional deadline per timer; poll() is the earliest armed one.
class timer_table {
 public:
  /// Number of timer kinds.
  static constexpr std::size_t size = static_cast<std::size_t>(timer::typing_expiry) + 1;

  /// Arm (or move) a timer.
  void set(timer t, proto::millis deadline) { deadlines_[index(t)] = deadline; }
  /// Disarm a timer; harmless if it was not armed.
  void stop(timer t) { deadlines_[index(t)].reset(); }
  /// Disarm every timer (the engine went idle or failed).
  void stop_all() { deadlines_.fill(std::nullopt); }
  /// Deadline of one timer, if armed.
  std::optional<proto::millis> get(timer t) const { return deadlines_[index(t)]; }
  /// True (and disarmed) if the timer was armed with a deadline at or before `now`.
  bool take_expired(timer t, proto::millis now) {
    auto& d = deadlines_[index(t)];
    if (!d || *d > now) return false;
    d.reset();
    return true;
  }
  /// Earliest armed deadline.
  std::optional<proto::millis> poll() const {
    std::optional<proto::millis> earliest;
    for (const auto& d : deadlines_) earliest = earlier(earliest, d);
    return earliest;
  }

 private:
  static constexpr std::size_t index(timer t) { return static_cast<std::size_t>(t); }
  std::array<std::optional<proto::millis>, size> deadlines_{};
};

}  // namespace parley::client
