// parley-bench's command line: a scenario name, then --flags. Every flag has a default; a few
// defaults depend on the scenario (see bench/README.md and `parley-bench --help`).
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace parley::bench {

struct bench_options {
  std::string scenario;  // fanout, saturate, idle, storm, resume, smoke, floor

  // The server: started by the bench (server_bin) or attached to (url); floor has none.
  std::string server_bin;
  std::string url;                    // ws://127.0.0.1:PORT/ws
  std::string jwt_secret;             // default when starting: random
  int server_pid = 0;                 // with --url: the process to read CPU and RSS from
  std::vector<std::string> server_args;  // extra flags for a started server
  bool keep_data = false;

  // Pinning: the server on one CPU, every generator thread on another.
  int server_cpu = 0;
  int generator_cpu = 1;
  bool pin = true;
  // Scheduling priority (nice) of the generator and of a started server; negative values
  // (root only) shield the measurement from other work on a shared machine.
  int nice = 0;

  // Load shape.
  std::optional<std::uint32_t> receivers;    // fanout, saturate, smoke, floor
  // floor: bytes per send. 102 is the size the reference per-send figure was taken at.
  std::optional<std::uint32_t> bytes;
  // floor: each send as a sendmsg of two pieces (a 2-byte header, the rest), as a server that
  // gathers a frame header and a shared payload would make it.
  bool gather = false;
  // floor: every burst through the server's send_ring (io_uring, batches of 256), the shape of
  // a server's sends once they are batched.
  bool uring = false;
  std::optional<double> rate;                // publisher messages/s
  std::optional<double> deliveries;          // alternative: rate = deliveries / receivers
  std::optional<double> seconds;             // measured window per run/step
  std::optional<double> warmup;              // before each measured window
  std::uint32_t connections = 10000;         // idle
  std::uint32_t clients = 1000;              // storm, resume
  std::uint32_t messages = 50;               // resume: k messages sent while disconnected
  double quiet = 3;                          // idle: seconds to wait before reading RSS
  std::optional<std::uint32_t> room_size;    // clients per room; 0 = one room
  std::uint32_t users = 0;                   // distinct users; 0 = one per connection
  std::uint32_t threads = 1;                 // receiver generator threads (plus the publisher's)
  std::uint32_t in_flight = 256;             // connection setups under way at once
  std::uint32_t sources = 1;                 // client source addresses 127.0.0.1 .. 127.0.0.N
  double step = 1.5;                         // saturate: rate factor per step
  std::uint32_t max_steps = 12;              // saturate
  double max_p99_ms = 1000;                  // saturate: a step above this p99 is not sustained
  double drain = 10;                         // seconds to wait for in-flight deliveries
  double timeout = 600;                      // global bound on the whole run, seconds
};

class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses argv (without the program name). Throws usage_error.
bench_options parse_options(const std::vector<std::string>& args);

/// The --help text.
std::string usage_text();

}  // namespace parley::bench
