// Process-wide counters rendered in the Prometheus text format for GET /metrics.
// Plain integers: the server is single-threaded, so no atomics are needed.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace parley::server {

/// Counters, gauges and the store-write latency histogram.
class metrics {
 public:
  /// A WebSocket session opened / closed (parley_connections).
  void connection_opened() { ++connections_; }
  void connection_closed() { --connections_; }

  /// A client frame of `bytes` holding `messages` messages was read.
  void frame_in(std::size_t bytes, std::size_t messages);
  /// A frame of `bytes` holding `messages` messages was handed to a socket.
  void frame_out(std::size_t bytes, std::size_t messages);

  /// An error was answered or a session was closed for `code` (an error_name or close reason).
  void error(std::string_view code);

  /// One store write transaction took `seconds`.
  void store_write(double seconds);

  /// Open WebSocket sessions.
  std::int64_t connections() const { return connections_; }

  /// The exposition text; `rooms` is the number of rooms with live subscribers.
  std::string render(std::size_t rooms) const;

 private:
  /// Upper bounds of the store-write histogram buckets, in seconds (+Inf is implicit).
  static constexpr std::array<double, 11> write_buckets{0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                        0.025,  0.05,  0.1,    0.25,  0.5, 1.0};

  std::int64_t connections_ = 0;
  std::uint64_t messages_in_ = 0, messages_out_ = 0, bytes_in_ = 0, bytes_out_ = 0;
  std::map<std::string, std::uint64_t, std::less<>> errors_;
  std::array<std::uint64_t, write_buckets.size()> write_counts_{};
  std::uint64_t write_total_ = 0;
  double write_sum_ = 0;
};

}  // namespace parley::server
