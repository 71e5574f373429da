// parley-bench: drives a parley-server over loopback with many lean WebSocket clients and
// reports fan-out throughput and latency, memory per idle connection, connection storms and
// resume after a drop; and the floor those are read against, the CPU cost of one bare loopback
// send. See bench/README.md.
#include "options.hpp"
#include "scenarios.hpp"
#include "send_floor.hpp"
#include "server_process.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <memory>
#include <random>
#include <thread>

using namespace parley::bench;

namespace {

std::string random_secret() {
  std::random_device rd;
  std::string s;
  for (int i = 0; i < 32; ++i) s += "0123456789abcdef"[rd() & 15];
  return s;
}

/// ws://127.0.0.1:PORT/ws → port. Only loopback: the bench must never load another host.
target parse_url(const std::string& url) {
  const std::string prefix = "ws://";
  if (url.rfind(prefix, 0) != 0) throw usage_error("--url must start with ws:// (wss is not supported)");
  const std::string rest = url.substr(prefix.size());
  const auto colon = rest.find(':');
  if (colon == std::string::npos) throw usage_error("--url needs a port: ws://127.0.0.1:PORT/ws");
  target t;
  t.host = rest.substr(0, colon);
  if (t.host == "localhost") t.host = "127.0.0.1";
  if (t.host.rfind("127.", 0) != 0) throw usage_error("--url must be a loopback address (127.x.x.x)");
  const unsigned long port = std::strtoul(rest.c_str() + colon + 1, nullptr, 10);
  if (port == 0 || port > 65535) throw usage_error("--url: bad port");
  t.port = static_cast<std::uint16_t>(port);
  return t;
}

/// Both this process and a server it starts need one descriptor per connection.
void raise_fd_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    setrlimit(RLIMIT_NOFILE, &r);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& a : args) {
    if (a == "--help" || a == "-h") {
      std::fputs(usage_text().c_str(), stdout);
      return exit_ok;
    }
  }
  bench_options options;
  try {
    options = parse_options(args);
  } catch (const usage_error& e) {
    std::fprintf(stderr, "parley-bench: %s (see --help)\n", e.what());
    return exit_failure;
  }
  raise_fd_limit();

  // Everything stops by itself: past the global timeout the run is abandoned, the server killed.
  std::thread([timeout = options.timeout] {
    std::this_thread::sleep_for(std::chrono::duration<double>(timeout));
    abort_bench("global --timeout of " + std::to_string(static_cast<long>(timeout)) + " s reached",
                exit_failure);
  }).detach();

  bool pin = options.pin;
  std::string pin_note;
  if (pin && sysconf(_SC_NPROCESSORS_ONLN) < 2) {
    pin = false;
    pin_note = " (pinning off: fewer than 2 CPUs)";
  }
  // Before any thread starts, so every generator thread inherits the CPU.
  if (pin && !pin_to_cpu(options.generator_cpu)) {
    std::fprintf(stderr, "parley-bench: cannot pin to CPU %d\n", options.generator_cpu);
    return exit_failure;
  }

  if (options.nice != 0) {
    if (setpriority(PRIO_PROCESS, 0, options.nice) != 0) {
      std::fprintf(stderr, "parley-bench: cannot set nice %d (negative values need root)\n", options.nice);
      return exit_failure;
    }
    // With autogroup scheduling (Linux's default for desktop-style kernels) CPU is shared
    // between sessions first, and nice only weighs threads within a session: set the
    // session's weight too. The started server inherits the session.
    const bool group = set_autogroup_nice(options.nice);
    pin_note += " (nice " + std::to_string(options.nice) +
                (group ? ", autogroup nice " + std::to_string(options.nice) : ", autogroup unchanged") + ")";
  }

  // floor measures a bare sender in the server's place: nothing to start or attach to.
  if (options.scenario == "floor") {
    const int status = send_floor(options, pin, pin_note);
    restore_autogroup_nice();
    return status;
  }

  try {
    std::unique_ptr<server_process> server;
    bench_context ctx{options, {}, 0, options.jwt_secret, {}};
    if (!options.server_bin.empty()) {
      if (ctx.jwt_secret.empty()) ctx.jwt_secret = random_secret();
      server = std::make_unique<server_process>(
          server_process::settings{options.server_bin, ctx.jwt_secret, pin ? options.server_cpu : -1,
                                   options.nice, options.server_args, options.keep_data},
          15000);
      ctx.server = {"127.0.0.1", server->port()};
      ctx.server_pid = server->pid();
      std::printf("server: %s\n  pid %d, port %u, folder %s\n", server->command().c_str(),
                  static_cast<int>(server->pid()), server->port(), server->folder().c_str());
    } else {
      ctx.server = parse_url(options.url);
      ctx.server_pid = options.server_pid;
    }
    const std::string server_cpus = ctx.server_pid > 0 ? process_cpus(ctx.server_pid) : "unknown";
    ctx.pinning = "server pid " + std::to_string(ctx.server_pid) + " on CPU " + server_cpus +
                  "; generator pid " + std::to_string(getpid()) + " (all threads) on CPU " +
                  process_cpus(0) + pin_note;
    std::printf("pinning: %s\n", ctx.pinning.c_str());
    std::fflush(stdout);

    const int status = run_scenario(ctx);
    if (server) std::printf("server stopped: %s\n", server->stop().c_str());
    restore_autogroup_nice();
    return status;
  } catch (const std::exception& e) {
    abort_bench(e.what(), exit_failure);
  }
}
