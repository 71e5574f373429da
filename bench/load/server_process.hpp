// The parley-server under test when parley-bench starts it (--server-bin): a child process
// pinned to one CPU, with its data, port file and log in a fresh temporary folder, stopped by
// its PID. Also the /proc readings the reports use (CPU time, RSS, affinity) for any process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace parley::bench {

/// user + system CPU time of a process (0 = this process), in ns; -1 if unreadable.
std::int64_t process_cpu_ns(pid_t pid);
/// Time the threads of a process (0 = this process) spent runnable but waiting for a CPU, in
/// ns, summed over /proc/<pid>/task/*/schedstat; -1 if unreadable. On a shared machine this is
/// the CPU other processes took from the one measured.
std::int64_t process_wait_ns(pid_t pid);
/// Time the threads of a process (0 = this process) ran, in ns, summed the same way: the
/// scheduler's exact runtime (as CLOCK_PROCESS_CPUTIME_ID), where process_cpu_ns counts ticks.
std::int64_t process_run_ns(pid_t pid);
/// The 1-minute load average, from /proc/loadavg; -1 if unreadable.
double load_average();
/// Resident set size (VmRSS) of a process (0 = this process), in KiB; -1 if unreadable.
std::int64_t process_rss_kib(pid_t pid);
/// Cpus_allowed_list of a process (0 = this process), e.g. "1"; "?" if unreadable.
std::string process_cpus(pid_t pid);
/// Pins the calling process (every thread it starts later) to one CPU; false on failure.
bool pin_to_cpu(int cpu);

class server_process {
 public:
  struct settings {
    std::string binary;
    std::string jwt_secret;
    int cpu = -1;                         // -1: not pinned
    int nice = 0;                         // scheduling priority
    std::vector<std::string> extra_args;  // appended last, so they override the bench's flags
    bool keep_data = false;               // leave the temporary folder behind
  };

  /// Starts the server and waits (at most `startup_ms`) for its port file. Throws
  /// std::runtime_error with the server's log tail if it does not come up.
  server_process(settings s, int startup_ms);
  /// Stops the server (see stop()) and removes the temporary folder.
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const { return pid_; }
  std::uint16_t port() const { return port_; }
  const std::string& folder() const { return folder_; }
  /// The command line it was started with, for the report.
  const std::string& command() const { return command_; }

  /// SIGTERM by PID, wait up to 10 s, then SIGKILL. Returns the exit status text.
  std::string stop();

 private:
  std::string log_tail() const;
  /// Removes the temporary folder unless keep_data.
  void discard_folder();

  settings settings_;
  std::string folder_;
  std::string command_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

/// Sets this process's autogroup nice (shared with its session; the server started later
/// inherits it). The previous value is restored by restore_autogroup_nice() and by abort_bench.
/// False if the kernel refused (no autogroup, or not root for a negative value).
bool set_autogroup_nice(int nice);
void restore_autogroup_nice();

/// PID of the server to kill if the bench has to abort (the global --timeout); -1 for none.
void set_abort_victim(pid_t pid);
/// Prints `why`, kills the abort victim, exits with `status` (no destructors run).
[[noreturn]] void abort_bench(const std::string& why, int status);

}  // namespace parley::bench
