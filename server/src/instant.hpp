// The time inputs of the sans-I/O server logic. The I/O layer reads the clocks once per event
// (read_clocks) and passes both readings down, so the protocol code never calls a clock.
#pragma once

#include "parley/protocol/rules.hpp"

#include <chrono>
#include <cstdint>

namespace parley::server {

/// One reading of the two clocks the server needs.
struct instant {
  proto::millis mono{0};       // monotonic: deadlines, rate limits, heartbeats
  std::uint64_t wall_ms = 0;   // ms since Unix epoch: event ts, last seen, token expiry
};

/// Reads both clocks. Only drivers (the Asio layer) call this; the logic takes `instant`s.
inline instant read_clocks() {
  using namespace std::chrono;
  return {duration_cast<milliseconds>(steady_clock::now().time_since_epoch()),
          static_cast<std::uint64_t>(
              duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count())};
}

}  // namespace parley::server
