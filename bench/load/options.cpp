#include "options.hpp"

#include <cstdlib>
#include <functional>
#include <map>
#include <set>

namespace parley::bench {

namespace {

double to_double(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0' || !(d >= 0)) throw usage_error(flag + ": not a number: " + v);
  return d;
}

std::uint32_t to_u32(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (v.empty() || *end != '\0' || n > 0xffffffffULL) throw usage_error(flag + ": not a count: " + v);
  return static_cast<std::uint32_t>(n);
}

}  // namespace

std::string usage_text() {
  return R"(usage: parley-bench SCENARIO [options]

Scenarios (each prints a table and one JSON line; exit 0 = ok, 1 = loss/duplicates/reordering,
2 = setup failure, timeout or usage error):
  fanout    one room, R receivers, one publisher at P msgs/s for T s after a warm-up
  saturate  fanout with P raised by --step until delivered < 95 % of offered or p99 > 1 s
  idle      C connections authenticated and joined, then quiet: server RSS per connection
  storm     N clients connect + hello + join at once: connections/s, time to joined
  resume    N joined clients drop, k messages are sent, all resume at once: time to catch up
  smoke     a short fanout for CI (50 receivers, 200 msgs/s, 2 s): checks correctness only
  floor     no server: a bare sender process, pinned as the server would be, sends N bytes to
            each of R loopback sockets in bursts at fanout's rate: its CPU per send, the floor
            that fanout's server CPU per delivery is read against

Server (one of; floor takes neither):
  --server-bin PATH      start this parley-server: pinned, data in a temp dir, port 0
  --server-arg ARG       extra flag for the started server (repeat; e.g. --server-arg=--x=1)
  --keep-data            keep the started server's temp dir (data, log)
  --url URL              attach to a running server, e.g. ws://127.0.0.1:8080/ws
  --jwt-secret S         HS256 secret (required with --url; default random when starting)
  --server-pid PID       with --url: read this process's CPU and RSS

Pinning (default: server on CPU 0, generator on CPU 1):
  --server-cpu N  --generator-cpu N  --no-pin
  --nice N               scheduling priority of generator and started server, and of their
                         autogroup (default 0; negative needs root: shields the run from other
                         work on a shared machine)

Load:
  --receivers R          fanout/saturate/floor (default 1000), smoke (50)
  --rate P               publisher msgs/s (fanout 100, smoke 200, saturate: 10000 / R);
                         floor: bursts/s
  --deliveries D         instead of --rate: P = D / R (deliveries per second; floor 100000)
  --seconds T            measured window (fanout/floor 10, saturate 5 per step, smoke 2)
  --warmup W             seconds before each window (fanout/floor 2, saturate 1, smoke 0.5)
  --bytes N              floor: bytes per send (default 102)
  --gather               floor: send each as sendmsg of two pieces (2-byte header + rest)
  --uring                floor: send each burst through io_uring in batches of 256, as the
                         server batches its sends (the server's own send_ring)
  --connections C        idle (default 10000; this machine's fd limit allows ~19000)
  --clients N            storm, resume (default 1000)
  --messages K           resume: messages sent while the clients are away (default 50)
  --quiet S              idle: seconds of quiet before reading RSS (default 3)
  --room-size N          clients per room, 0 = one room (idle 100, others 0)
  --users N              distinct users over all connections, 0 = one per connection
  --threads N            receiver generator threads, one io_context each (default 1)
  --in-flight N          connection setups under way at once (default 256; storm: all)
  --sources N            spread clients over source addresses 127.0.0.1..127.0.0.N
  --step F               saturate: rate factor per step (default 1.5)
  --max-steps N          saturate: at most N steps (default 12)
  --max-p99-ms MS        saturate: p99 bound for a sustained step (default 1000)
  --drain S              wait at most S s for in-flight deliveries after sending (default 10)
  --timeout S            bound on the whole run (default 600)
)";
}

bench_options parse_options(const std::vector<std::string>& args) {
  bench_options o;
  static const std::set<std::string> scenarios{"fanout", "saturate", "idle", "storm",
                                               "resume", "smoke", "floor"};
  using setter = std::function<void(const std::string&)>;
  const std::map<std::string, setter> valued{
      {"--server-bin", [&](const std::string& v) { o.server_bin = v; }},
      {"--server-arg", [&](const std::string& v) { o.server_args.push_back(v); }},
      {"--url", [&](const std::string& v) { o.url = v; }},
      {"--jwt-secret", [&](const std::string& v) { o.jwt_secret = v; }},
      {"--server-pid", [&](const std::string& v) { o.server_pid = static_cast<int>(to_u32("--server-pid", v)); }},
      {"--server-cpu", [&](const std::string& v) { o.server_cpu = static_cast<int>(to_u32("--server-cpu", v)); }},
      {"--generator-cpu", [&](const std::string& v) { o.generator_cpu = static_cast<int>(to_u32("--generator-cpu", v)); }},
      {"--nice", [&](const std::string& v) {
         char* end = nullptr;
         const long n = std::strtol(v.c_str(), &end, 10);
         if (v.empty() || *end != '\0' || n < -20 || n > 19) throw usage_error("--nice: -20..19");
         o.nice = static_cast<int>(n);
       }},
      {"--receivers", [&](const std::string& v) { o.receivers = to_u32("--receivers", v); }},
      {"--bytes", [&](const std::string& v) { o.bytes = to_u32("--bytes", v); }},
      {"--rate", [&](const std::string& v) { o.rate = to_double("--rate", v); }},
      {"--deliveries", [&](const std::string& v) { o.deliveries = to_double("--deliveries", v); }},
      {"--seconds", [&](const std::string& v) { o.seconds = to_double("--seconds", v); }},
      {"--warmup", [&](const std::string& v) { o.warmup = to_double("--warmup", v); }},
      {"--connections", [&](const std::string& v) { o.connections = to_u32("--connections", v); }},
      {"--clients", [&](const std::string& v) { o.clients = to_u32("--clients", v); }},
      {"--messages", [&](const std::string& v) { o.messages = to_u32("--messages", v); }},
      {"--quiet", [&](const std::string& v) { o.quiet = to_double("--quiet", v); }},
      {"--room-size", [&](const std::string& v) { o.room_size = to_u32("--room-size", v); }},
      {"--users", [&](const std::string& v) { o.users = to_u32("--users", v); }},
      {"--threads", [&](const std::string& v) { o.threads = to_u32("--threads", v); }},
      {"--in-flight", [&](const std::string& v) { o.in_flight = to_u32("--in-flight", v); }},
      {"--sources", [&](const std::string& v) { o.sources = to_u32("--sources", v); }},
      {"--step", [&](const std::string& v) { o.step = to_double("--step", v); }},
      {"--max-steps", [&](const std::string& v) { o.max_steps = to_u32("--max-steps", v); }},
      {"--max-p99-ms", [&](const std::string& v) { o.max_p99_ms = to_double("--max-p99-ms", v); }},
      {"--drain", [&](const std::string& v) { o.drain = to_double("--drain", v); }},
      {"--timeout", [&](const std::string& v) { o.timeout = to_double("--timeout", v); }},
  };
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (i == 0 && !a.starts_with("-")) {
      if (!scenarios.contains(a)) throw usage_error("unknown scenario: " + a);
      o.scenario = a;
      continue;
    }
    if (a == "--no-pin") {
      o.pin = false;
      continue;
    }
    if (a == "--gather") {
      o.gather = true;
      continue;
    }
    if (a == "--uring") {
      o.uring = true;
      continue;
    }
    if (a == "--keep-data") {
      o.keep_data = true;
      continue;
    }
    std::string value;
    bool has_value = false;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      has_value = true;
    }
    const auto it = valued.find(a);
    if (it == valued.end()) throw usage_error("unknown option: " + a);
    if (!has_value) {
      if (i + 1 >= args.size()) throw usage_error(a + " needs a value");
      value = args[++i];
    }
    it->second(value);
  }
  if (o.scenario.empty()) throw usage_error("no scenario given");
  if (o.scenario == "floor") {
    // The floor is measured without a server; a started one would only take CPU.
    if (!o.server_bin.empty() || !o.url.empty()) {
      throw usage_error("floor runs no server: drop --server-bin / --url");
    }
    if (o.receivers && *o.receivers == 0) throw usage_error("--receivers must be > 0");
    if (o.bytes && (*o.bytes == 0 || *o.bytes > 65536)) throw usage_error("--bytes: 1..65536");
    if (o.gather && o.bytes && *o.bytes < 3) throw usage_error("--gather needs --bytes >= 3");
    if (o.uring && o.gather) throw usage_error("--uring and --gather: one or the other");
    if (o.uring && o.bytes && *o.bytes > 512) throw usage_error("--uring sends at most 512 bytes");
    if (o.seconds && *o.seconds <= 0) throw usage_error("--seconds must be > 0");
  } else {
    if (o.server_bin.empty() == o.url.empty()) throw usage_error("give exactly one of --server-bin and --url");
    if (!o.url.empty() && o.jwt_secret.empty()) throw usage_error("--url needs --jwt-secret");
    // Fanout's text is fixed at 100 bytes (payload.hpp): a --bytes there would be ignored.
    if (o.bytes || o.gather || o.uring) {
      throw usage_error("--bytes, --gather and --uring apply to floor only");
    }
  }
  if (o.threads == 0 || o.threads > 64) throw usage_error("--threads: 1..64");
  if (o.sources == 0 || o.sources > 250) throw usage_error("--sources: 1..250");
  if (o.step <= 1.0) throw usage_error("--step must be > 1");
  if (o.rate && *o.rate <= 0) throw usage_error("--rate must be > 0");
  if (o.deliveries && *o.deliveries <= 0) throw usage_error("--deliveries must be > 0");
  if (o.rate && o.deliveries) throw usage_error("give --rate or --deliveries, not both");
  return o;
}

}  // namespace parley::bench
