// The text of every message parley-bench publishes: exactly 100 bytes of ASCII carrying the
// publisher's counter and send time, so a receiver can check order and measure latency from
// the decoded `event.text` alone.
//
//   "pb n=<16 hex digits> t=<16 hex digits> " followed by 'x' up to 100 bytes
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

inline constexpr std::size_t payload_size = 100;

namespace payload_detail {
inline constexpr std::size_t counter_at = 5;  // after "pb n="
inline constexpr std::size_t time_at = 24;    // after "pb n=<16> t="
inline constexpr char digits[] = "0123456789abcdef";

inline void put_hex(std::string& s, std::size_t at, std::uint64_t v) {
  for (int i = 15; i >= 0; --i, v >>= 4) s[at + static_cast<std::size_t>(i)] = digits[v & 15];
}

inline bool get_hex(std::string_view s, std::size_t at, std::uint64_t& v) {
  v = 0;
  for (std::size_t i = 0; i < 16; ++i) {
    const char c = s[at + i];
    unsigned d;
    if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
    else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
    else return false;
    v = (v << 4) | d;
  }
  return true;
}
}  // namespace payload_detail

/// Makes `text` a payload template (once; later calls only rewrite the numbers in place).
inline void init_payload(std::string& text) {
  text.assign(payload_size, 'x');
  text.replace(0, 41, "pb n=0000000000000000 t=0000000000000000 ");
}

/// Writes the counter and send time into a template made by init_payload (no allocation).
inline void write_payload(std::string& text, std::uint64_t counter, std::int64_t sent_ns) {
  payload_detail::put_hex(text, payload_detail::counter_at, counter);
  payload_detail::put_hex(text, payload_detail::time_at, static_cast<std::uint64_t>(sent_ns));
}

/// Reads them back; false if `text` is not a parley-bench payload.
inline bool read_payload(std::string_view text, std::uint64_t& counter, std::int64_t& sent_ns) {
  if (text.size() != payload_size || text.substr(0, 5) != "pb n=") return false;
  std::uint64_t t = 0;
  if (!payload_detail::get_hex(text, payload_detail::counter_at, counter) ||
      !payload_detail::get_hex(text, payload_detail::time_at, t)) {
    return false;
  }
  sent_ns = static_cast<std::int64_t>(t);
  return true;
}

}  // namespace parley::bench
