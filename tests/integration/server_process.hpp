// A real parley-server process for integration tests: started on a random loopback port with a
// fresh data directory, stopped by its PID. Shared by the server and native-client suites.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace parley::test {

/// The HS256 secret every test server runs with (token_for signs with it).
inline constexpr const char* test_secret = "test-secret";

/// How a server that was expected not to start ended.
struct startup_failure {
  int exit_status = -1;  // exit code, or 128 + signal
  std::string log;       // everything it wrote to stdout/stderr
};

/// Runs parley-server as server_process would (same base arguments + extra_args) and expects it
/// to exit before listening (bounded 15 s). Throws std::runtime_error if it starts listening.
startup_failure expect_startup_failure(std::vector<std::string> extra_args);

/// One parley-server child process.
class server_process {
 public:
  // Starts PARLEY_SERVER_BIN (compile definition) with --host 127.0.0.1 --port 0 --port-file
  // --data <fresh temp dir> --jwt-secret test-secret + extra_args; waits (bounded 15 s) for
  // the port file. Throws std::runtime_error on failure. Destructor: SIGKILL + waitpid + rm dir.
  explicit server_process(std::vector<std::string> extra_args = {});
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  /// The port the server listens on (kept across restart()).
  std::uint16_t port() const { return port_; }
  /// "ws://127.0.0.1:<port>/ws"
  std::string ws_url() const;
  /// "http://127.0.0.1:<port>"
  std::string http_base() const;
  /// "wss://<host>:<port>/ws", for a server started with --tls-cert / --tls-key; `host` is the
  /// name the client checks the certificate against.
  std::string wss_url(const std::string& host = "localhost") const;
  /// The running process, or -1 once stopped.
  pid_t pid() const { return pid_; }
  /// SIGKILL + waitpid.
  void kill_hard();
  /// SIGTERM + bounded waitpid (10 s), then SIGKILL.
  void terminate();
  /// Waits up to `timeout` for the process to end by itself (e.g. after a signal the test sent
  /// to pid()); true once it has ended, with exit_status() set. 0 ms asks "has it ended yet?".
  bool wait_exit(std::chrono::milliseconds timeout) { return reap(timeout); }
  /// Starts again (stopping hard first if still running) with the same data dir, args and port.
  void restart();
  /// The server's --data directory (also holds its port file and log).
  const std::filesystem::path& data_dir() const { return data_dir_; }
  /// How the last stopped process ended: its exit code, or 128 + signal; -1 if none stopped.
  int exit_status() const { return exit_status_; }
  /// Everything the server wrote to stdout/stderr so far (all runs), for failure messages.
  std::string log_text() const;

 private:
  friend startup_failure expect_startup_failure(std::vector<std::string> extra_args);
  struct unstarted {};
  /// The data directory only; start() is up to the caller.
  server_process(std::vector<std::string> extra_args, unstarted);
  void start(std::uint16_t port);
  /// Waits up to `timeout` for the process to end; false if it is still running.
  bool reap(std::chrono::milliseconds timeout);

  std::vector<std::string> extra_args_;
  std::filesystem::path data_dir_;
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  int exit_status_ = -1;
};

/// A token for `user` in `tenant`, valid for `ttl`, signed with test_secret.
std::string token_for(std::string user, std::string tenant = "default",
                      std::chrono::seconds ttl = std::chrono::hours(1));

}  // namespace parley::test
