// The one clock of parley-bench: steady_clock in nanoseconds. Publisher and receivers live in
// one process, so a send time stamped by one thread and a receive time read by another compare
// directly.
#pragma once

#include <chrono>
#include <cstdint>

namespace parley::bench {

/// steady_clock now, in nanoseconds since its (arbitrary, process-wide) epoch.
inline std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline constexpr std::int64_t ns_per_ms = 1'000'000;
inline constexpr std::int64_t ns_per_s = 1'000'000'000;

}  // namespace parley::bench
