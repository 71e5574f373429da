// Shared protocol rules: the timing and ordering rules both ends follow, as pure functions and
// small value types. No clocks: every `now` is a monotonic millisecond count from the caller.
#pragma once

#include "parley/protocol/messages.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace parley::proto {

/// Monotonic time in milliseconds since an origin the driver chooses.
using millis = std::chrono::milliseconds;

/// Deterministic random numbers (splitmix64). Seeded by the driver, so tests are repeatable and
/// the browser and native clients run the same sequence for the same seed.
class random_source {
 public:
  explicit random_source(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next();
  /// Uniform in [0, bound]; bound 0 gives 0.
  std::uint64_t uniform(std::uint64_t bound);

 private:
  std::uint64_t state_;
};

/// Reconnect backoff: exponential with full jitter (delay uniform in [0, min(cap, base*2^n)]).
struct backoff_policy {
  millis base{500};
  millis cap{30000};
  /// Delay before attempt `attempt` (0 = first retry after a drop).
  millis delay(std::uint32_t attempt, random_source& rng) const;
  /// Upper bound of that delay (what the jitter is drawn under).
  millis ceiling(std::uint32_t attempt) const;
};

/// Silence after which a peer is considered dead, given the announced heartbeat interval.
/// Two missed heartbeats plus half an interval of slack for scheduling and transit.
millis dead_peer_after(millis heartbeat);

/// Sender side of typing: decides when a typing(on) must go out given the throttle.
class typing_throttle {
 public:
  /// The user typed at `now`. True if a typing(on) should be sent now.
  bool on_keystroke(millis now, millis throttle);
  /// The user stopped (sent, cleared input). True if a typing(off) should be sent.
  bool on_stop();
  bool active() const { return active_; }

 private:
  bool active_ = false;
  millis last_sent_{0};
};

/// Presence grace: a user whose last session closed is announced offline only after the grace
/// period, so a quick reconnect does not flap offline/online. One instance per (tenant, user).
class presence_grace {
 public:
  /// A session of the user opened. True if the user was offline (announce online).
  bool on_session_open();
  /// A session closed at `now`. When it was the last, the grace deadline starts.
  void on_session_close(millis now, millis grace);
  /// Deadline at which offline must be announced, or millis::max() if none is pending.
  millis deadline() const { return deadline_; }
  /// Called at `now` >= deadline(): true if the user is now offline (announce it).
  bool on_timeout(millis now);
  int sessions() const { return sessions_; }
  bool online() const { return online_; }

 private:
  int sessions_ = 0;
  bool online_ = false;
  millis deadline_ = millis::max();
};

/// What a receiver should do with an event given the last contiguous seq it has for the room.
enum class seq_verdict { deliver, duplicate, gap };
seq_verdict classify_seq(std::uint64_t last_seq, std::uint64_t event_seq);

/// Pick the common protocol version, or 0 if the ranges do not overlap.
std::uint32_t negotiate_version(std::uint32_t client_min, std::uint32_t client_max);

/// Room ids: 1..64 bytes of [A-Za-z0-9._-]. Same rule on every end.
bool valid_room_id(std::string_view room);

/// Client ids: 1..64 bytes, printable ASCII.
bool valid_client_id(std::string_view cid);

/// User ids as named by a client (add_member): 1..64 bytes of UTF-8.
bool valid_user_id(std::string_view user);

/// Token bucket for rate limits; `now` in ms.
class token_bucket {
 public:
  token_bucket(std::uint32_t rate_per_sec, std::uint32_t burst);
  /// Take one token at `now`. On failure, `retry_after` is how long until one is available.
  bool take(millis now, millis& retry_after);

 private:
  double rate_per_ms_;
  double burst_;
  double tokens_;
  millis last_{0};
  bool started_ = false;
};

}  // namespace parley::proto
