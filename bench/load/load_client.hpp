// The load generator's clients: lean WebSocket connections that speak just enough Parley to
// hello, join (or resume), publish paced sends and check every delivered event. One
// load_generator is one thread with one io_context and many clients; the bench talks to it
// only through posted commands, a few atomic counters and inspect(). Beast stays inside
// load_client.cpp (the only Beast translation unit of parley-bench).
#pragma once

#include "latency_histogram.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace parley::bench {

/// Where the server listens.
struct target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
};

/// The measured window of a run, shared by the publisher (which sets it) and every receiver
/// (which records latency only for counters inside it).
struct run_marks {
  static constexpr std::uint64_t none = std::numeric_limits<std::uint64_t>::max();
  std::atomic<std::uint64_t> measure_from{none};  // first counter sent inside the window
  std::atomic<std::uint64_t> measure_to{none};    // one past the last (none while sending)
  void reset() {
    measure_from = none;
    measure_to = none;
  }
};

/// One simulated client.
struct client_spec {
  std::string token;
  std::string room;
  std::string source;      // local address to bind, e.g. "127.0.0.2"; empty: any
  bool publisher = false;  // sends paced messages when publish() is called
};

/// Where a client is in its life.
enum class phase { idle, connecting, hello_sent, join_sent, joined, dropped, closed, failed };

/// Which publisher counters a client has received: a bit per counter, so duplicates, late
/// (reordered) arrivals and, at the end, losses are exact.
struct delivery_tally {
  std::vector<std::uint64_t> seen;  // bit n set: counter n arrived
  std::uint64_t unique = 0;         // distinct counters received
  std::uint64_t duplicates = 0;     // counters received again
  std::uint64_t reordered = 0;      // counters received after a higher one
  std::uint64_t next = 0;           // one past the highest counter received

  bool has(std::uint64_t n) const {
    return n / 64 < seen.size() && ((seen[n / 64] >> (n % 64)) & 1u) != 0;
  }
  /// Records counter n; false if it was a duplicate.
  bool add(std::uint64_t n);
  /// How many counters in [from, to) arrived.
  std::uint64_t count_range(std::uint64_t from, std::uint64_t to) const;
};

/// Everything the bench reads about one client. Written only by its generator's thread; read
/// through load_generator::inspect.
struct client_status {
  phase state = phase::idle;
  std::int64_t opened_ns = 0;     // this connection attempt started (TCP connect)
  std::int64_t joined_ns = 0;     // `joined` arrived
  std::int64_t caught_up_ns = 0;  // the events up to joined.head arrived (replay complete)
  std::uint64_t epoch = 0;        // from joined
  std::uint64_t head = 0;         // from joined
  std::uint64_t last_seq = 0;     // last contiguous seq received in the room
  bool resumed = false;           // the last joined said resumed
  std::uint64_t replayed = 0;     // events received between the last joined and catching up
  std::uint64_t seq_gaps = 0;     // events whose seq skipped ahead of last_seq + 1
  std::uint64_t seq_repeats = 0;  // events whose seq was <= last_seq
  delivery_tally tally;
  std::uint64_t errors = 0;       // `error` messages received
  std::string failure;            // first error or failure, for the report
  int close_code = 0;             // WebSocket close code when the server closed the connection
  // Publisher only.
  std::uint64_t sent = 0;          // messages written (all publish() calls)
  std::uint64_t acked = 0;         // acks received
  std::uint64_t rate_limited = 0;  // sends refused with rate_limited
  std::int64_t max_lag_ns = 0;     // worst lateness of a send behind its schedule
};

/// How the publisher paces one publish() call: message i (0-based within the call) is due at
/// start_ns + i / rate seconds; frames carry every message due (at most 64, the protocol's batch).
struct pacing {
  double rate = 100;                  // messages per second
  std::int64_t start_ns = 0;          // first message
  std::int64_t measure_ns = 0;        // messages due from here on are in the measured window
  std::int64_t end_ns = 0;            // nothing is sent at or after this
  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();  // messages in this call
};

/// Counters any thread may read while the generator runs.
struct generator_counters {
  std::atomic<std::uint64_t> joined{0};      // clients currently joined
  std::atomic<std::uint64_t> failed{0};      // clients that failed (connect, auth, join, errors)
  std::atomic<std::uint64_t> closed{0};      // connections the server closed
  std::atomic<std::uint64_t> caught_up{0};   // clients caught up since the last open()
  std::atomic<std::uint64_t> deliveries{0};  // distinct publisher counters received (all clients)
  std::atomic<std::uint64_t> acked{0};       // publisher acks
  std::atomic<bool> publishing{false};       // a publish() call is still sending
};

/// One thread, one io_context, many clients.
class load_generator {
 public:
  using inspector =
      std::function<void(const std::vector<const client_status*>&, latency_histogram&)>;

  load_generator(std::string name, target server, run_marks& marks);
  /// Stops the thread; every connection is dropped.
  ~load_generator();
  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  // ---- commands: posted to the generator's thread, they return at once ----
  /// Adds clients (idle until open()).
  void add(std::vector<client_spec> specs);
  /// Connects, says hello and joins every idle or dropped client, at most `in_flight` at a time.
  /// A dropped client joins with resume {epoch, last_seq}.
  void open(std::size_t in_flight);
  /// Closes every client's socket at once, with no close handshake: a network drop.
  void drop();
  /// The publisher client (added with spec.publisher) sends by `p`.
  void publish(const pacing& p);
  /// Forgets recorded latencies (start of a measured step).
  void clear_latency();

  // ---- queries ----
  const generator_counters& counters() const;
  const std::string& name() const;
  /// Runs `fn` on the generator's thread with every client's status and the latency histogram,
  /// and waits for it; false if it did not run within `timeout` (the caller must then abort).
  bool inspect(const inspector& fn, std::chrono::milliseconds timeout);

 private:
  friend class connection;  // the per-client state machine in load_client.cpp
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// Short name of a phase, for reports.
const char* phase_name(phase p);

}  // namespace parley::bench
