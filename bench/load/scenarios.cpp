#include "scenarios.hpp"

#include "clock.hpp"
#include "report.hpp"
#include "server_process.hpp"
#include "slices.hpp"

#include "jwt.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <thread>
#include <vector>

namespace parley::bench {

namespace {

constexpr auto inspect_timeout = std::chrono::seconds(30);
constexpr const char* tenant = "bench";

// ---- small helpers --------------------------------------------------------------------------

void sleep_until_ns(std::int64_t t) {
  for (std::int64_t left = t - now_ns(); left > 0; left = t - now_ns()) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(left, 50 * ns_per_ms)));
  }
}

/// Polls `done` every 5 ms until it holds (true) or `timeout_s` passes (false).
bool wait_for(const std::function<bool()>& done, double timeout_s) {
  const std::int64_t deadline = now_ns() + static_cast<std::int64_t>(timeout_s * 1e9);
  while (!done()) {
    if (now_ns() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

/// Six random hex digits: room and user names unique to this run, so a run against a
/// long-lived server (--url) never meets an earlier run's rooms.
std::string run_id() {
  std::random_device rd;
  char buf[16];
  std::snprintf(buf, sizeof buf, "%06x", rd() & 0xffffffu);
  return buf;
}

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }
double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

/// CPU time of the server and of this process at one instant.
/// Also how long each side was runnable but waiting for its CPU (other processes on it).
struct cpu_sample {
  std::int64_t at_ns = 0;
  std::int64_t server_ns = -1;  // -1: unknown
  std::int64_t self_ns = -1;
  std::int64_t server_wait_ns = -1;
  std::int64_t self_wait_ns = -1;
};

cpu_sample sample_cpu(pid_t server) {
  return {now_ns(), server > 0 ? process_cpu_ns(server) : -1, process_cpu_ns(0),
          server > 0 ? process_wait_ns(server) : -1, process_wait_ns(0)};
}

/// CPU use between two samples as % of one core; -1 when unknown.
double cpu_percent(std::int64_t before, std::int64_t after, std::int64_t wall_ns) {
  if (before < 0 || after < 0 || wall_ns <= 0) return -1;
  return 100.0 * static_cast<double>(after - before) / static_cast<double>(wall_ns);
}

std::int64_t server_rss(const bench_context& ctx) {
  return ctx.server_pid > 0 ? process_rss_kib(ctx.server_pid) : -1;
}

std::string pct(double v) { return v < 0 ? "-" : fixed(v, 0) + "%"; }

/// CPU use of both sides between two samples, for a JSON line: `<prefix>server_cpu_pct`, ...
void add_cpu(json_line& j, const std::string& prefix, const cpu_sample& a, const cpu_sample& b) {
  const std::int64_t wall = b.at_ns - a.at_ns;
  j.add(prefix + "server_cpu_pct", cpu_percent(a.server_ns, b.server_ns, wall), 1);
  j.add(prefix + "generator_cpu_pct", cpu_percent(a.self_ns, b.self_ns, wall), 1);
  j.add(prefix + "server_cpu_wait_pct", cpu_percent(a.server_wait_ns, b.server_wait_ns, wall), 1);
  j.add(prefix + "generator_cpu_wait_pct", cpu_percent(a.self_wait_ns, b.self_wait_ns, wall), 1);
}

/// "server 20% (+35% waiting), generator 30% (+5% waiting)"
std::string cpu_text(const cpu_sample& a, const cpu_sample& b) {
  const std::int64_t wall = b.at_ns - a.at_ns;
  return "server CPU " + pct(cpu_percent(a.server_ns, b.server_ns, wall)) + " (+" +
         pct(cpu_percent(a.server_wait_ns, b.server_wait_ns, wall)) + " runnable, waiting), generator CPU " +
         pct(cpu_percent(a.self_ns, b.self_ns, wall)) + " (+" +
         pct(cpu_percent(a.self_wait_ns, b.self_wait_ns, wall)) + " waiting)";
}

// ---- clients spread over generator threads -----------------------------------------------------

/// Many clients, dealt round-robin to `threads` load generators (one thread and one io_context
/// each); a publisher gets its own generator so its pacing does not queue behind receivers.
class crowd {
 public:
  crowd(const bench_context& ctx, run_marks& marks, std::uint32_t threads, const std::string& name) {
    for (std::uint32_t t = 0; t < threads; ++t) {
      gens_.push_back(std::make_unique<load_generator>(name + "-" + std::to_string(t), ctx.server, marks));
    }
  }

  /// Adds `count` clients; `spec(i)` describes client i (0-based over this call).
  void add(std::uint32_t count, const std::function<client_spec(std::uint32_t)>& spec) {
    std::vector<std::vector<client_spec>> per(gens_.size());
    for (std::uint32_t i = 0; i < count; ++i) per[(size_ + i) % gens_.size()].push_back(spec(i));
    for (std::size_t g = 0; g < gens_.size(); ++g) gens_[g]->add(std::move(per[g]));
    size_ += count;
  }

  /// Starts opening every idle or dropped client, at most `in_flight` setups at once in all.
  void open(std::uint32_t in_flight) {
    const auto share = std::max<std::uint32_t>(1, in_flight / static_cast<std::uint32_t>(gens_.size()));
    for (auto& g : gens_) g->open(share);
  }
  void drop() {
    for (auto& g : gens_) g->drop();
  }
  void clear_latency() {
    for (auto& g : gens_) g->clear_latency();
  }
  void publish(const pacing& p) { gens_.front()->publish(p); }

  std::uint64_t sum(std::atomic<std::uint64_t> generator_counters::*field) const {
    std::uint64_t n = 0;
    for (const auto& g : gens_) n += (g->counters().*field).load(std::memory_order_relaxed);
    return n;
  }
  std::uint64_t joined() const { return sum(&generator_counters::joined); }
  std::uint64_t failed() const { return sum(&generator_counters::failed); }
  std::uint64_t closed() const { return sum(&generator_counters::closed); }
  std::uint64_t caught_up() const { return sum(&generator_counters::caught_up); }
  std::uint64_t deliveries() const { return sum(&generator_counters::deliveries); }
  std::uint64_t acked() const { return sum(&generator_counters::acked); }
  bool publishing() const {
    for (const auto& g : gens_) {
      if (g->counters().publishing.load()) return true;
    }
    return false;
  }
  std::uint32_t size() const { return size_; }

  /// Calls `each` for every client (on its generator's thread) and merges the latency
  /// histograms into `merged` if given. Aborts the run if a generator does not answer.
  void inspect(const std::function<void(const client_status&)>& each,
               latency_histogram* merged = nullptr) {
    for (auto& g : gens_) {
      const bool answered = g->inspect(
          [&](const std::vector<const client_status*>& all, latency_histogram& h) {
            for (const auto* s : all) each(*s);
            if (merged) merged->merge(h);
          },
          inspect_timeout);
      if (!answered) abort_bench("generator " + g->name() + " did not answer within 30 s", exit_failure);
    }
  }

  /// Waits until `target` clients are joined. A failure, or the timeout, ends the run with a
  /// summary of where the clients are.
  void wait_joined(std::uint64_t target, double timeout_s, const std::string& what) {
    const bool ok = wait_for([&] { return joined() >= target || failed() + closed() > 0; }, timeout_s);
    if (ok && joined() >= target) return;
    std::map<std::string, std::uint64_t> phases;
    std::string first_failure;
    inspect([&](const client_status& s) {
      ++phases[phase_name(s.state)];
      if (first_failure.empty() && !s.failure.empty()) first_failure = s.failure;
    });
    std::string summary;
    for (const auto& [name, n] : phases) summary += " " + name + "=" + std::to_string(n);
    abort_bench(what + ": " + std::to_string(joined()) + " of " + std::to_string(target) +
                    " joined" + (ok ? "" : " before the timeout (" + fixed(timeout_s, 0) + " s)") +
                    "; clients:" + summary +
                    (first_failure.empty() ? "" : "; first failure: " + first_failure),
                exit_failure);
  }

 private:
  std::vector<std::unique_ptr<load_generator>> gens_;
  std::uint32_t size_ = 0;
};

/// Tokens and names for the simulated users of one run.
class user_book {
 public:
  user_book(const bench_context& ctx, std::string id) : ctx_(ctx), id_(std::move(id)) {}

  /// Client i's spec: its user (i, or i mod --users), room, source address.
  client_spec client(std::uint32_t i, const std::string& room) {
    const std::uint32_t users = ctx_.options.users;
    const std::string user = "u" + id_ + "-" + std::to_string(users == 0 ? i : i % users);
    client_spec spec;
    spec.token = token(user);
    spec.room = room;
    if (ctx_.options.sources > 1) spec.source = "127.0.0." + std::to_string(1 + i % ctx_.options.sources);
    return spec;
  }

  client_spec publisher(const std::string& room) {
    client_spec spec;
    spec.token = token("pub" + id_);
    spec.room = room;
    spec.publisher = true;
    return spec;
  }

  const std::string& id() const { return id_; }

 private:
  const std::string& token(const std::string& user) {
    auto it = tokens_.find(user);
    if (it == tokens_.end()) {
      const auto now_s = static_cast<std::int64_t>(std::time(nullptr));
      // Valid for the whole run (the global timeout) plus slack.
      const auto lifetime = static_cast<std::int64_t>(ctx_.options.timeout) + 3600;
      const server::jwt_claims claims{
          .sub = user, .tid = tenant, .exp = now_s + lifetime, .nbf = 0, .iat = now_s};
      it = tokens_.emplace(user, server::jwt_sign_hs256(claims, ctx_.jwt_secret)).first;
    }
    return it->second;
  }

  const bench_context& ctx_;
  std::string id_;
  std::map<std::string, std::string> tokens_;
};

/// Seconds to allow for setting up `n` connections, bounded by the global timeout. Joining one
/// room is quadratic (every join sends a presence message to every session already there):
/// measured here, 1,000 joins take ~3 s and 5,000 over 130 s.
double setup_timeout(const bench_context& ctx, std::uint64_t n) {
  const double k = static_cast<double>(n) / 1000.0;
  return std::min(ctx.options.timeout, 30.0 + k * 20.0 + k * k * 15.0);
}

// ---- fan-out ----------------------------------------------------------------------------------

/// The figures of one measured publishing window.
struct step_result {
  double rate = 0;                 // target publisher messages/s
  double window_s = 0;             // measured window
  std::uint32_t receivers = 0;
  std::uint64_t sent_in_window = 0;
  double offered_msgs_s = 0;       // messages/s the publisher sent in the window
  double offered_s = 0;            // × receivers: deliveries/s offered
  double delivered_s = 0;          // deliveries received per second in the window
  latency_histogram latency;       // publisher send → receiver receive, window's messages
  std::uint64_t sent = 0, acked = 0, rate_limited = 0, errors = 0;
  std::uint64_t lost = 0, duplicates = 0, reordered = 0, seq_gaps = 0, seq_repeats = 0;
  std::uint64_t closed = 0, failed = 0;
  double server_cpu = -1, generator_cpu = -1;  // % of one core
  double server_wait = -1, generator_wait = -1;  // runnable but not running, % of the window
  double server_us_per_delivery = -1;
  slice_spread server_slices;      // the same per second of the window
  std::int64_t server_rss_kib = -1;
  double load = -1;                // 1-minute load average at the end of the window
  double publisher_lag_ms = 0;     // worst lateness of a send behind schedule
  double drain_ms = 0;             // after the window, until every delivery arrived
  bool drained = false;

  bool correct() const {
    return lost == 0 && duplicates == 0 && reordered == 0 && seq_gaps == 0 && seq_repeats == 0 &&
           closed == 0 && failed == 0 && acked == sent && rate_limited == 0;
  }
};

/// One room, R receivers and a publisher, set up once and measured in steps.
class fanout_rig {
 public:
  fanout_rig(const bench_context& ctx, std::uint32_t receivers)
      : ctx_(ctx),
        users_(ctx, run_id()),
        room_("fanout-" + users_.id()),
        receivers_(ctx, marks_, ctx.options.threads, "recv"),
        publisher_(ctx, marks_, 1, "pub") {
    const cpu_sample c0 = sample_cpu(ctx.server_pid);
    receivers_.add(receivers, [&](std::uint32_t i) { return users_.client(i, room_); });
    receivers_.open(ctx.options.in_flight);
    receivers_.wait_joined(receivers, setup_timeout(ctx, receivers), "joining the receivers");
    publisher_.add(1, [&](std::uint32_t) { return users_.publisher(room_); });
    publisher_.open(1);
    publisher_.wait_joined(1, 30, "joining the publisher");
    const cpu_sample c1 = sample_cpu(ctx.server_pid);
    setup_ms_ = ms(c1.at_ns - c0.at_ns);
    setup_cpu_ = {c0, c1};
    // Let the join-time presence broadcasts drain before anything is measured.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }

  /// Joining every receiver and the publisher: wall time, and CPU of each side meanwhile.
  double setup_ms() const { return setup_ms_; }
  std::pair<cpu_sample, cpu_sample> setup_cpu() const { return setup_cpu_; }
  const std::string& room() const { return room_; }
  crowd& publisher() { return publisher_; }
  crowd& receivers() { return receivers_; }

  step_result step(double rate, double warmup_s, double seconds) {
    const auto& o = ctx_.options;
    step_result r;
    r.rate = rate;
    r.receivers = receivers_.size();
    marks_.reset();
    receivers_.clear_latency();

    std::uint64_t first = 0;  // the publisher's counter before this step
    publisher_.inspect([&](const client_status& s) { first = s.sent; });
    const std::int64_t start = now_ns() + 20 * ns_per_ms;
    const std::int64_t measure = start + static_cast<std::int64_t>(warmup_s * 1e9);
    const std::int64_t end = measure + static_cast<std::int64_t>(seconds * 1e9);
    publisher_.publish({rate, start, measure, end});

    sleep_until_ns(measure);
    const cpu_sample c0 = sample_cpu(ctx_.server_pid);
    const std::uint64_t d0 = receivers_.deliveries();
    r.server_slices = measure_slices(end);
    const cpu_sample c1 = sample_cpu(ctx_.server_pid);
    const std::uint64_t d1 = receivers_.deliveries();
    r.server_rss_kib = server_rss(ctx_);

    // Drain: the publisher stops, every send is acked, every delivery arrives (or stalls).
    const double drain_s = o.drain;
    wait_for([&] { return !publisher_.publishing(); }, 5 + drain_s);
    std::uint64_t sent_total = 0;
    publisher_.inspect([&](const client_status& s) { sent_total = s.sent; });
    wait_for([&] { return publisher_.acked() >= sent_total; }, drain_s);
    const std::uint64_t target = static_cast<std::uint64_t>(receivers_.size()) * sent_total;
    std::uint64_t last = receivers_.deliveries();
    std::int64_t last_change = now_ns();
    r.drained = wait_for(
        [&] {
          const std::uint64_t d = receivers_.deliveries();
          if (d >= target) return true;
          if (d != last) {
            last = d;
            last_change = now_ns();
          }
          // Clients the server closed never complete: stop once nothing moved for 2 s.
          return receivers_.closed() + receivers_.failed() > 0 && now_ns() - last_change > 2 * ns_per_s;
        },
        drain_s);
    r.drained = r.drained && receivers_.deliveries() >= target;
    r.drain_ms = ms(now_ns() - end);

    publisher_.inspect([&](const client_status& s) {
      r.sent = s.sent - first;
      r.acked = s.acked - acked_before_;
      r.rate_limited = s.rate_limited - rate_limited_before_;
      r.errors += s.errors - publisher_errors_before_;
      r.publisher_lag_ms = ms(s.max_lag_ns);
      acked_before_ = s.acked;
      rate_limited_before_ = s.rate_limited;
      publisher_errors_before_ = s.errors;
    });
    const std::uint64_t from = marks_.measure_from.load();
    const std::uint64_t to = marks_.measure_to.load();
    r.sent_in_window = (from != run_marks::none && to != run_marks::none && to > from) ? to - from : 0;

    totals now;
    receivers_.inspect(
        [&](const client_status& s) {
          r.lost += (sent_total - first) - s.tally.count_range(first, sent_total);
          now.duplicates += s.tally.duplicates;
          now.reordered += s.tally.reordered;
          now.seq_gaps += s.seq_gaps;
          now.seq_repeats += s.seq_repeats;
          now.errors += s.errors;
          if (s.state == phase::closed) ++r.closed;
          if (s.state == phase::failed) ++r.failed;
        },
        &r.latency);
    r.duplicates = now.duplicates - totals_.duplicates;
    r.reordered = now.reordered - totals_.reordered;
    r.seq_gaps = now.seq_gaps - totals_.seq_gaps;
    r.seq_repeats = now.seq_repeats - totals_.seq_repeats;
    r.errors += now.errors - totals_.errors;
    totals_ = now;

    r.window_s = static_cast<double>(end - measure) / 1e9;
    const double sampled_s = static_cast<double>(c1.at_ns - c0.at_ns) / 1e9;
    r.offered_msgs_s = static_cast<double>(r.sent_in_window) / r.window_s;
    r.offered_s = r.offered_msgs_s * r.receivers;
    r.delivered_s = static_cast<double>(d1 - d0) / sampled_s;
    r.server_cpu = cpu_percent(c0.server_ns, c1.server_ns, c1.at_ns - c0.at_ns);
    r.generator_cpu = cpu_percent(c0.self_ns, c1.self_ns, c1.at_ns - c0.at_ns);
    r.server_wait = cpu_percent(c0.server_wait_ns, c1.server_wait_ns, c1.at_ns - c0.at_ns);
    r.generator_wait = cpu_percent(c0.self_wait_ns, c1.self_wait_ns, c1.at_ns - c0.at_ns);
    r.load = load_average();
    if (c0.server_ns >= 0 && c1.server_ns >= 0 && d1 > d0) {
      r.server_us_per_delivery = static_cast<double>(c1.server_ns - c0.server_ns) / 1e3 /
                                 static_cast<double>(d1 - d0);
    }
    return r;
  }

 private:
  struct totals {
    std::uint64_t duplicates = 0, reordered = 0, seq_gaps = 0, seq_repeats = 0, errors = 0;
  };

  /// Until `end`: the server's CPU per delivery in each second (see slices.hpp). Unknown
  /// without a server PID.
  slice_spread measure_slices(std::int64_t end) {
    const pid_t server = ctx_.server_pid;
    std::vector<double> costs;
    std::int64_t at = now_ns();
    std::int64_t cpu = server > 0 ? process_run_ns(server) : -1;
    std::uint64_t delivered = receivers_.deliveries();
    while (true) {
      const std::int64_t next = std::min(at + slice_ns, end);
      sleep_until_ns(next);
      if (next - at < min_slice_ns) break;
      const std::int64_t cpu_now = server > 0 ? process_run_ns(server) : -1;
      const std::uint64_t delivered_now = receivers_.deliveries();
      costs.push_back(cpu < 0 || cpu_now < 0 ? -1 : slice_cost(cpu_now - cpu, delivered_now - delivered));
      at = next;
      cpu = cpu_now;
      delivered = delivered_now;
      if (next >= end) break;
    }
    return spread_of(std::move(costs));
  }

  const bench_context& ctx_;
  run_marks marks_;
  user_book users_;
  std::string room_;
  crowd receivers_;
  crowd publisher_;
  double setup_ms_ = 0;
  std::pair<cpu_sample, cpu_sample> setup_cpu_;
  totals totals_;
  std::uint64_t acked_before_ = 0, rate_limited_before_ = 0, publisher_errors_before_ = 0;
};

std::vector<std::string> step_header() {
  return {"receivers", "msgs/s", "offered/s", "delivered/s", "p50 ms", "p99 ms", "p99.9 ms",
          "max ms", "lost", "dup", "reord", "srv CPU", "gen CPU", "srv wait", "gen wait",
          "srv us/deliv", "1s med", "1s min", "srv RSS MiB"};
}

std::vector<std::string> step_row(const step_result& r) {
  return {std::to_string(r.receivers),
          fixed(r.offered_msgs_s, 1),
          fixed(r.offered_s, 0),
          fixed(r.delivered_s, 0),
          fixed(ms(r.latency.quantile(0.50)), 3),
          fixed(ms(r.latency.quantile(0.99)), 3),
          fixed(ms(r.latency.quantile(0.999)), 3),
          fixed(ms(r.latency.max()), 3),
          std::to_string(r.lost),
          std::to_string(r.duplicates),
          std::to_string(r.reordered),
          pct(r.server_cpu),
          pct(r.generator_cpu),
          pct(r.server_wait),
          pct(r.generator_wait),
          fixed(r.server_us_per_delivery, 2),
          fixed(r.server_slices.median_us, 2),
          fixed(r.server_slices.min_us, 2),
          r.server_rss_kib < 0 ? "-" : fixed(static_cast<double>(r.server_rss_kib) / 1024.0, 1)};
}

void add_step(json_line& j, const step_result& r) {
  j.add("rate_msgs_per_s", r.rate, 2)
      .add("window_s", r.window_s, 3)
      .add("sent_in_window", r.sent_in_window)
      .add("offered_msgs_per_s", r.offered_msgs_s, 2)
      .add("offered_per_s", r.offered_s, 1)
      .add("delivered_per_s", r.delivered_s, 1)
      .add("latency_samples", r.latency.count())
      .add("p50_ms", ms(r.latency.quantile(0.50)), 3)
      .add("p99_ms", ms(r.latency.quantile(0.99)), 3)
      .add("p999_ms", ms(r.latency.quantile(0.999)), 3)
      .add("max_ms", ms(r.latency.max()), 3)
      .add("sent", r.sent)
      .add("acked", r.acked)
      .add("rate_limited", r.rate_limited)
      .add("errors", r.errors)
      .add("lost", r.lost)
      .add("duplicates", r.duplicates)
      .add("reordered", r.reordered)
      .add("seq_gaps", r.seq_gaps)
      .add("seq_repeats", r.seq_repeats)
      .add("closed", r.closed)
      .add("failed", r.failed)
      .add("server_cpu_pct", r.server_cpu, 1)
      .add("generator_cpu_pct", r.generator_cpu, 1)
      .add("server_cpu_wait_pct", r.server_wait, 1)
      .add("generator_cpu_wait_pct", r.generator_wait, 1)
      .add("loadavg_1m", r.load, 2)
      .add("server_cpu_us_per_delivery", r.server_us_per_delivery, 3)
      .add("server_cpu_us_per_delivery_median_1s", r.server_slices.median_us, 3)
      .add("server_cpu_us_per_delivery_min_1s", r.server_slices.min_us, 3)
      .add("slices", static_cast<std::uint64_t>(r.server_slices.slices))
      .add("server_rss_kib", r.server_rss_kib)
      .add("publisher_max_lag_ms", r.publisher_lag_ms, 3)
      .add("drained", r.drained)
      .add("drain_ms", r.drain_ms, 1);
}

void print_correctness(const step_result& r) {
  if (r.correct()) return;
  std::fprintf(stderr,
               "parley-bench: INCORRECT: lost=%llu duplicates=%llu reordered=%llu seq_gaps=%llu "
               "seq_repeats=%llu closed=%llu failed=%llu unacked=%llu rate_limited=%llu\n",
               static_cast<unsigned long long>(r.lost), static_cast<unsigned long long>(r.duplicates),
               static_cast<unsigned long long>(r.reordered), static_cast<unsigned long long>(r.seq_gaps),
               static_cast<unsigned long long>(r.seq_repeats), static_cast<unsigned long long>(r.closed),
               static_cast<unsigned long long>(r.failed),
               static_cast<unsigned long long>(r.sent - std::min(r.sent, r.acked)),
               static_cast<unsigned long long>(r.rate_limited));
}

double rate_for(const bench_options& o, std::uint32_t receivers, double fallback_rate) {
  if (o.rate) return *o.rate;
  if (o.deliveries) return *o.deliveries / receivers;
  return fallback_rate;
}

int fanout(const bench_context& ctx, bool smoke) {
  const auto& o = ctx.options;
  const std::uint32_t receivers = o.receivers.value_or(smoke ? 50 : 1000);
  const double rate = rate_for(o, receivers, smoke ? 200 : 100);
  const double seconds = o.seconds.value_or(smoke ? 2 : 10);
  const double warmup = o.warmup.value_or(smoke ? 0.5 : 2);
  fanout_rig rig(ctx, receivers);
  const step_result r = rig.step(rate, warmup, seconds);

  text_table t(step_header());
  t.row(step_row(r));
  t.print(stdout, std::string(smoke ? "smoke" : "fanout") + ": one room, " +
                      std::to_string(receivers) + " receivers, " + fixed(rate, 2) +
                      " msgs/s for " + fixed(seconds, 1) + " s after " + fixed(warmup, 1) +
                      " s warm-up\n(setup " + fixed(rig.setup_ms(), 0) + " ms: " +
                      cpu_text(rig.setup_cpu().first, rig.setup_cpu().second) + ")");
  json_line j;
  j.add("scenario", smoke ? "smoke" : "fanout").add("receivers", static_cast<std::uint64_t>(receivers));
  j.add("warmup_s", warmup, 2).add("seconds", seconds, 2).add("setup_ms", rig.setup_ms(), 1);
  add_cpu(j, "setup_", rig.setup_cpu().first, rig.setup_cpu().second);
  add_step(j, r);
  j.add("correct", r.correct()).add("pinning", ctx.pinning);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  print_correctness(r);
  if (!smoke) return r.correct() ? exit_ok : exit_incorrect;
  // CI's check: correctness only, never speed.
  return r.lost + r.duplicates + r.reordered + r.seq_gaps + r.seq_repeats == 0 && r.closed == 0 &&
                 r.failed == 0 && r.acked == r.sent
             ? exit_ok
             : exit_incorrect;
}

int saturate(const bench_context& ctx) {
  const auto& o = ctx.options;
  const std::uint32_t receivers = o.receivers.value_or(1000);
  double rate = rate_for(o, receivers, 10000.0 / receivers);
  const double seconds = o.seconds.value_or(5);
  const double warmup = o.warmup.value_or(1);
  fanout_rig rig(ctx, receivers);

  text_table t([] {
    auto h = step_header();
    h.push_back("sustained");
    return h;
  }());
  std::string steps_json = "[";
  std::optional<step_result> best;
  std::optional<step_result> limit;
  std::string limit_reason = "max steps reached";
  bool all_correct = true;
  for (std::uint32_t i = 0; i < o.max_steps; ++i, rate *= o.step) {
    step_result r = rig.step(rate, warmup, seconds);
    std::string why;
    if (r.delivered_s < 0.95 * r.offered_s) why = "delivered < 95% of offered";
    else if (ms(r.latency.quantile(0.99)) > o.max_p99_ms) why = "p99 > " + fixed(o.max_p99_ms, 0) + " ms";
    else if (r.closed + r.failed > 0) why = "server closed receivers (slow consumers)";
    else if (!r.drained) why = "deliveries did not drain";
    else if (r.rate_limited > 0) why = "publisher rate limited";
    // An overloaded step may not drain within --drain: its undelivered messages are late, not
    // proven lost (and stop the ramp above). Duplicates and disorder are wrong at any load.
    if (r.duplicates + r.reordered + r.seq_gaps + r.seq_repeats > 0) all_correct = false;
    auto row = step_row(r);
    row.push_back(why.empty() ? "yes" : "no: " + why);
    t.row(std::move(row));
    json_line j;
    add_step(j, r);
    j.add("sustained", why.empty());
    steps_json += (i == 0 ? "" : ",") + j.str();
    std::fprintf(stderr, "saturate: step %u at %.1f msgs/s (%.0f deliveries/s offered): %s\n", i + 1,
                 r.rate, r.offered_s, why.empty() ? "sustained" : why.c_str());
    if (!why.empty()) {
      limit = std::move(r);
      limit_reason = why;
      break;
    }
    if (!best || r.delivered_s > best->delivered_s) best = std::move(r);
  }
  steps_json += "]";

  // Which side ran out: both are pinned to one core each, so ~100 % is a full core.
  std::string limiter = "none reached";
  if (limit) {
    // A side whose core is busy (its own CPU plus time it waited for the core, taken by other
    // processes on a shared machine) cannot go faster.
    const double s = limit->server_cpu, g = limit->generator_cpu;
    const double sw = std::max(0.0, limit->server_wait), gw = std::max(0.0, limit->generator_wait);
    const auto side = [](const char* who, double own, double wait) {
      return std::string(who) + " core (" + fixed(own, 0) + "% own CPU + " + fixed(wait, 0) +
             "% waiting for the core)";
    };
    if (s + sw >= 85 && s + sw >= g + gw) limiter = side("server", s, sw);
    else if (g + gw >= 85) limiter = side("generator", g, gw);
    else limiter = "neither core saturated (server " + fixed(s, 0) + "%, generator " + fixed(g, 0) +
                   "%): queueing/latency";
  }
  t.print(stdout, "saturate: one room, " + std::to_string(receivers) + " receivers, rate x" +
                      fixed(o.step, 2) + " per step, " + fixed(seconds, 1) + " s windows");
  std::printf("best sustained: %s deliveries/s; stopped: %s; limited by: %s\n",
              best ? fixed(best->delivered_s, 0).c_str() : "none", limit_reason.c_str(), limiter.c_str());
  json_line j;
  j.add("scenario", "saturate").add("receivers", static_cast<std::uint64_t>(receivers));
  j.add("seconds", seconds, 2).add("warmup_s", warmup, 2).add("setup_ms", rig.setup_ms(), 1);
  add_cpu(j, "setup_", rig.setup_cpu().first, rig.setup_cpu().second);
  j.add("best_delivered_per_s", best ? best->delivered_s : 0.0, 1);
  j.add("best_rate_msgs_per_s", best ? best->rate : 0.0, 2);
  j.add("best_p99_ms", best ? ms(best->latency.quantile(0.99)) : 0.0, 3);
  j.add("best_server_cpu_pct", best ? best->server_cpu : -1.0, 1);
  j.add("best_generator_cpu_pct", best ? best->generator_cpu : -1.0, 1);
  j.add("stopped_because", limit_reason).add("limited_by", limiter);
  j.add("correct", all_correct).add("pinning", ctx.pinning).raw("steps", steps_json);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return all_correct ? exit_ok : exit_incorrect;
}

// ---- idle ---------------------------------------------------------------------------------------

int idle(const bench_context& ctx) {
  const auto& o = ctx.options;
  const std::uint32_t connections = o.connections;
  const std::uint32_t room_size = o.room_size.value_or(100);
  run_marks marks;
  user_book users(ctx, run_id());
  crowd clients(ctx, marks, o.threads, "idle");
  const auto room_of = [&](std::uint32_t i) {
    return "idle-" + users.id() + "-" + std::to_string(room_size == 0 ? 0 : i / room_size);
  };
  const std::int64_t rss_before = server_rss(ctx);
  const std::int64_t self_before = process_rss_kib(0);
  const std::int64_t t0 = now_ns();
  clients.add(connections, [&](std::uint32_t i) { return users.client(i, room_of(i)); });
  clients.open(o.in_flight);
  clients.wait_joined(connections, setup_timeout(ctx, connections), "opening the idle connections");
  const double setup_ms = ms(now_ns() - t0);
  std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<std::int64_t>(o.quiet * 1000)));
  const cpu_sample c0 = sample_cpu(ctx.server_pid);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const cpu_sample c1 = sample_cpu(ctx.server_pid);
  const std::int64_t rss_after = server_rss(ctx);
  const std::int64_t self_after = process_rss_kib(0);
  const std::uint64_t closed = clients.closed() + clients.failed();

  const double per_conn = rss_before < 0 ? -1
                                         : static_cast<double>(rss_after - rss_before) /
                                               static_cast<double>(connections);
  const double idle_cpu = cpu_percent(c0.server_ns, c1.server_ns, c1.at_ns - c0.at_ns);
  text_table t({"connections", "rooms of", "setup s", "conn/s", "srv RSS before MiB",
                "srv RSS after MiB", "srv KiB/conn", "srv idle CPU", "gen KiB/conn", "closed"});
  t.row({std::to_string(connections), room_size == 0 ? "all" : std::to_string(room_size),
         fixed(setup_ms / 1000, 1), fixed(connections / (setup_ms / 1000), 0),
         fixed(static_cast<double>(rss_before) / 1024, 1), fixed(static_cast<double>(rss_after) / 1024, 1),
         fixed(per_conn, 2), pct(idle_cpu),
         fixed(static_cast<double>(self_after - self_before) / connections, 2), std::to_string(closed)});
  t.print(stdout, "idle: " + std::to_string(connections) + " connections authenticated and joined, then " +
                      fixed(o.quiet, 1) + " s quiet");
  json_line j;
  j.add("scenario", "idle").add("connections", static_cast<std::uint64_t>(connections));
  j.add("room_size", static_cast<std::uint64_t>(room_size)).add("setup_ms", setup_ms, 1);
  j.add("server_rss_before_kib", rss_before).add("server_rss_after_kib", rss_after);
  j.add("server_rss_per_connection_kib", per_conn, 3);
  j.add("server_idle_cpu_pct", idle_cpu, 2);
  j.add("generator_rss_per_connection_kib",
        static_cast<double>(self_after - self_before) / connections, 3);
  j.add("closed", closed).add("loadavg_1m", load_average(), 2).add("pinning", ctx.pinning);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return closed == 0 ? exit_ok : exit_failure;
}

// ---- storm --------------------------------------------------------------------------------------

int storm(const bench_context& ctx) {
  const auto& o = ctx.options;
  const std::uint32_t n = o.clients;
  const std::uint32_t room_size = o.room_size.value_or(0);
  run_marks marks;
  user_book users(ctx, run_id());
  crowd clients(ctx, marks, o.threads, "storm");
  clients.add(n, [&](std::uint32_t i) {
    return users.client(i, "storm-" + users.id() + "-" + std::to_string(room_size == 0 ? 0 : i / room_size));
  });
  // Let the adds land so the storm's clock measures connections, not building client objects.
  clients.inspect([](const client_status&) {});
  const cpu_sample c0 = sample_cpu(ctx.server_pid);
  const std::int64_t t0 = now_ns();
  clients.open(n);  // all at once
  clients.wait_joined(n, setup_timeout(ctx, n), "the storm");
  const cpu_sample c1 = sample_cpu(ctx.server_pid);
  latency_histogram to_joined;
  std::int64_t last = t0;
  clients.inspect([&](const client_status& s) {
    to_joined.record(s.joined_ns - t0);
    last = std::max(last, s.joined_ns);
  });
  const double all_s = static_cast<double>(last - t0) / 1e9;
  const double rate = n / all_s;
  text_table t({"clients", "rooms of", "all joined ms", "conn/s", "p50 ms", "p99 ms", "max ms",
                "srv CPU", "srv CPU ms/conn"});
  const double cpu_ms_per_conn =
      c0.server_ns < 0 ? -1 : static_cast<double>(c1.server_ns - c0.server_ns) / 1e6 / n;
  t.row({std::to_string(n), room_size == 0 ? "all" : std::to_string(room_size), fixed(all_s * 1000, 1),
         fixed(rate, 0), fixed(ms(to_joined.quantile(0.5)), 2), fixed(ms(to_joined.quantile(0.99)), 2),
         fixed(ms(to_joined.max()), 2), pct(cpu_percent(c0.server_ns, c1.server_ns, c1.at_ns - c0.at_ns)),
         fixed(cpu_ms_per_conn, 3)});
  t.print(stdout, "storm: " + std::to_string(n) +
                      " clients connect + hello + join at once (time from the common start)\n(" +
                      cpu_text(c0, c1) + ")");
  json_line j;
  j.add("scenario", "storm").add("clients", static_cast<std::uint64_t>(n));
  j.add("room_size", static_cast<std::uint64_t>(room_size));
  j.add("all_joined_ms", all_s * 1000, 1).add("connections_per_s", rate, 1);
  j.add("p50_to_joined_ms", ms(to_joined.quantile(0.5)), 3);
  j.add("p99_to_joined_ms", ms(to_joined.quantile(0.99)), 3);
  j.add("max_to_joined_ms", ms(to_joined.max()), 3);
  add_cpu(j, "", c0, c1);
  j.add("server_cpu_ms_per_connection", cpu_ms_per_conn, 4).add("loadavg_1m", load_average(), 2);
  j.add("pinning", ctx.pinning);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  return exit_ok;
}

// ---- resume -------------------------------------------------------------------------------------

int resume(const bench_context& ctx) {
  const auto& o = ctx.options;
  const std::uint32_t n = o.clients;
  const std::uint32_t k = o.messages;
  constexpr std::uint32_t before = 10;  // messages every client has before the drop
  fanout_rig rig(ctx, n);
  crowd& clients = rig.receivers();
  crowd& publisher = rig.publisher();

  // 1. Everyone has `before` messages.
  const auto send_now = [&](std::uint32_t count) {
    const std::int64_t start = now_ns();
    publisher.publish({10000, start, start, start + 3600 * ns_per_s, count});
    if (!wait_for([&] { return !publisher.publishing(); }, 30)) abort_bench("publisher stalled", exit_failure);
  };
  send_now(before);
  if (!wait_for([&] { return clients.deliveries() >= std::uint64_t{n} * before; }, 30)) {
    abort_bench("the first " + std::to_string(before) + " messages did not reach every client", exit_failure);
  }

  // 2. Network drop; k messages are stored meanwhile.
  clients.drop();
  if (!wait_for([&] { return clients.joined() == 0; }, 10)) abort_bench("drop did not complete", exit_failure);
  send_now(k);
  if (!wait_for([&] { return publisher.acked() >= before + k; }, 30)) {
    abort_bench("the publisher's sends were not acked", exit_failure);
  }

  // 3. Everyone reconnects at once and resumes from its last seq.
  const std::int64_t t0 = now_ns();
  clients.open(n);
  const bool ok = wait_for(
      [&] { return clients.caught_up() >= n || clients.failed() + clients.closed() > 0; },
      setup_timeout(ctx, n));
  const std::int64_t t1 = now_ns();

  latency_histogram to_caught_up;
  std::int64_t last = t0;
  std::uint64_t resumed = 0, caught_up = 0, replayed = 0, wrong_replay = 0, lost = 0, duplicates = 0,
                reordered = 0, seq_problems = 0, failed = 0;
  std::string first_failure;
  clients.inspect([&](const client_status& s) {
    if (s.state != phase::joined) {
      ++failed;
      if (first_failure.empty()) first_failure = s.failure;
      return;
    }
    if (s.resumed) ++resumed;
    if (s.caught_up_ns >= t0) {
      ++caught_up;
      to_caught_up.record(s.caught_up_ns - t0);
      last = std::max(last, s.caught_up_ns);
    }
    replayed += s.replayed;
    if (s.replayed != k) ++wrong_replay;
    lost += (before + k) - s.tally.count_range(0, before + k);
    duplicates += s.tally.duplicates;
    reordered += s.tally.reordered;
    seq_problems += s.seq_gaps + s.seq_repeats + (s.last_seq == s.head ? 0 : 1);
  });
  const bool correct = ok && failed == 0 && resumed == n && caught_up == n && wrong_replay == 0 &&
                       lost == 0 && duplicates == 0 && reordered == 0 && seq_problems == 0;
  const double all_ms = ms(last - t0);
  text_table t({"clients", "k", "all caught up ms", "p50 ms", "p99 ms", "max ms", "resumed",
                "replayed", "lost", "dup", "reord", "seq errs"});
  t.row({std::to_string(n), std::to_string(k), fixed(all_ms, 1), fixed(ms(to_caught_up.quantile(0.5)), 2),
         fixed(ms(to_caught_up.quantile(0.99)), 2), fixed(ms(to_caught_up.max()), 2),
         std::to_string(resumed), std::to_string(replayed), std::to_string(lost),
         std::to_string(duplicates), std::to_string(reordered), std::to_string(seq_problems)});
  t.print(stdout, "resume: " + std::to_string(n) + " clients had " + std::to_string(before) +
                      " messages, dropped, missed " + std::to_string(k) +
                      ", reconnected at once with resume{epoch, seq}");
  json_line j;
  j.add("scenario", "resume").add("clients", static_cast<std::uint64_t>(n)).add("k", static_cast<std::uint64_t>(k));
  j.add("all_caught_up_ms", all_ms, 1);
  j.add("p50_caught_up_ms", ms(to_caught_up.quantile(0.5)), 3);
  j.add("p99_caught_up_ms", ms(to_caught_up.quantile(0.99)), 3);
  j.add("max_caught_up_ms", ms(to_caught_up.max()), 3);
  j.add("resumed", resumed).add("caught_up", caught_up).add("replayed_total", replayed);
  j.add("clients_with_wrong_replay_count", wrong_replay);
  j.add("lost", lost).add("duplicates", duplicates).add("reordered", reordered);
  j.add("seq_errors", seq_problems).add("failed", failed);
  if (!first_failure.empty()) j.add("first_failure", first_failure);
  j.add("wait_ms", ms(t1 - t0), 1).add("correct", correct).add("pinning", ctx.pinning);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  if (!correct) {
    std::fprintf(stderr, "parley-bench: INCORRECT resume: %s\n",
                 first_failure.empty() ? "see the JSON line" : first_failure.c_str());
  }
  return correct ? exit_ok : exit_incorrect;
}

}  // namespace

int run_scenario(const bench_context& ctx) {
  const std::string& s = ctx.options.scenario;
  if (s == "fanout") return fanout(ctx, false);
  if (s == "smoke") return fanout(ctx, true);
  if (s == "saturate") return saturate(ctx);
  if (s == "idle") return idle(ctx);
  if (s == "storm") return storm(ctx);
  if (s == "resume") return resume(ctx);
  return exit_failure;
}

}  // namespace parley::bench
