// The scenarios of parley-bench (fanout, saturate, idle, storm, resume, smoke): each sets up
// its clients, measures, prints a table and one JSON line, and returns the exit status.
#pragma once

#include "load_client.hpp"
#include "options.hpp"

#include <sys/types.h>

#include <string>

namespace parley::bench {

/// What every scenario needs to know about the run.
struct bench_context {
  const bench_options& options;
  target server;
  pid_t server_pid = 0;  // 0: unknown (attached without --server-pid): no CPU/RSS figures
  std::string jwt_secret;
  std::string pinning;   // how server and generator are pinned, as printed
};

/// Exit statuses.
inline constexpr int exit_ok = 0;
inline constexpr int exit_incorrect = 1;  // loss, duplicates, reordering, failed resume
inline constexpr int exit_failure = 2;    // setup failure, timeout, usage

/// Runs ctx.options.scenario; returns the exit status.
int run_scenario(const bench_context& ctx);

}  // namespace parley::bench
