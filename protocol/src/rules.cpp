// Shared protocol rules (rules.hpp). Pure arithmetic on caller-supplied time and randomness, so
// the server, the native client and the browser client behave identically for the same inputs.
#include "parley/protocol/rules.hpp"

#include "parley/protocol/codec.hpp"

#include <algorithm>
#include <cmath>

namespace parley::proto {

std::uint64_t random_source::next() {
  // splitmix64 (Steele, Lea, Flood 2014): one add and three xor-shift-multiplies per draw.
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

std::uint64_t random_source::uniform(std::uint64_t bound) {
  if (bound == 0) return 0;
  const std::uint64_t draw = next();
  if (bound == UINT64_MAX) return draw;
  // Plain modulo: the bias is below bound / 2^64, far under anything a backoff can notice, and
  // it keeps exactly one draw per call so every platform consumes the sequence identically.
  return draw % (bound + 1);
}

millis backoff_policy::ceiling(std::uint32_t attempt) const {
  const std::int64_t base_ms = std::max<std::int64_t>(base.count(), 0);
  const std::int64_t cap_ms = std::max<std::int64_t>(cap.count(), 0);
  if (base_ms == 0) return millis{0};
  // Double until the cap; stopping there also keeps the shift from overflowing.
  std::int64_t ceiling_ms = base_ms;
  for (std::uint32_t i = 0; i < attempt && ceiling_ms < cap_ms; ++i) ceiling_ms *= 2;
  return millis{std::min(ceiling_ms, cap_ms)};
}

millis backoff_policy::delay(std::uint32_t attempt, random_source& rng) const {
  return millis{static_cast<millis::rep>(
      rng.uniform(static_cast<std::uint64_t>(ceiling(attempt).count())))};
}

millis dead_peer_after(millis heartbeat) { return heartbeat * 2 + heartbeat / 2; }

bool typing_throttle::on_keystroke(millis now, millis throttle) {
  if (active_ && now - last_sent_ < throttle) return false;
  active_ = true;
  last_sent_ = now;
  return true;
}

bool typing_throttle::on_stop() {
  const bool was_active = active_;
  active_ = false;
  return was_active;
}

bool presence_grace::on_session_open() {
  ++sessions_;
  deadline_ = millis::max();  // a reconnect inside the grace cancels the pending offline
  if (online_) return false;
  online_ = true;
  return true;
}

void presence_grace::on_session_close(millis now, millis grace) {
  if (sessions_ > 0) --sessions_;
  if (sessions_ == 0 && online_) deadline_ = now + grace;
}

bool presence_grace::on_timeout(millis now) {
  if (sessions_ > 0 || !online_ || now < deadline_) return false;
  online_ = false;
  deadline_ = millis::max();
  return true;
}

seq_verdict classify_seq(std::uint64_t last_seq, std::uint64_t event_seq) {
  if (event_seq <= last_seq) return seq_verdict::duplicate;
  if (event_seq == last_seq + 1) return seq_verdict::deliver;
  return seq_verdict::gap;
}

std::uint32_t negotiate_version(std::uint32_t client_min, std::uint32_t client_max) {
  if (client_min > client_max) return 0;
  const std::uint32_t low = std::max(client_min, version_min);
  const std::uint32_t high = std::min(client_max, version_max);
  return low <= high ? high : 0;
}

bool valid_room_id(std::string_view room) {
  if (room.empty() || room.size() > 64) return false;
  return std::all_of(room.begin(), room.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
  });
}

bool valid_client_id(std::string_view cid) {
  if (cid.empty() || cid.size() > 64) return false;
  return std::all_of(cid.begin(), cid.end(), [](char c) { return c >= 0x20 && c <= 0x7E; });
}

bool valid_user_id(std::string_view user) {
  return !user.empty() && user.size() <= 64 && valid_utf8(user);
}

// The bucket counts milli-tokens: a refill of `rate_per_sec` tokens per second is then exactly
// `rate_per_sec` milli-tokens per millisecond, and every quantity is an integer (held exactly in
// a double), so the same calls give the same answers on every platform.
constexpr double milli = 1000.0;

token_bucket::token_bucket(std::uint32_t rate_per_sec, std::uint32_t burst)
    : rate_per_ms_(rate_per_sec), burst_(burst * milli), tokens_(burst * milli) {}

bool token_bucket::take(millis now, millis& retry_after) {
  if (!started_) {
    started_ = true;
    last_ = now;
  } else if (now > last_) {
    tokens_ = std::min(burst_, tokens_ + static_cast<double>((now - last_).count()) * rate_per_ms_);
    last_ = now;
  }
  if (tokens_ >= milli) {
    tokens_ -= milli;
    retry_after = millis{0};
    return true;
  }
  // A bucket that never refills (rate 0) or can never hold a token (burst 0) still answers a
  // finite retry, so callers can add it to `now` without overflow.
  constexpr double never_ms = 60000.0;
  const double wait_ms = (rate_per_ms_ > 0.0 && burst_ >= milli)
                             ? std::ceil((milli - tokens_) / rate_per_ms_)
                             : never_ms;
  retry_after = millis{static_cast<millis::rep>(std::clamp(wait_ms, 1.0, never_ms))};
  return false;
}

}  // namespace parley::proto
