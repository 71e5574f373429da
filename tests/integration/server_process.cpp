#include "server_process.hpp"

#include "jwt.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace parley::test {
namespace {

using namespace std::chrono_literals;

constexpr auto start_timeout = 15s;
constexpr auto terminate_timeout = 10s;
/// Polling step while waiting for the port file or an exit: short next to the bounds above.
constexpr auto poll_step = 5ms;

std::filesystem::path fresh_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "parley-test-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
  }
  return pattern;
}

std::filesystem::path port_file(const std::filesystem::path& dir) { return dir / "port"; }
std::filesystem::path log_file(const std::filesystem::path& dir) { return dir / "server.log"; }

/// The port written by the server, or 0 while the file is absent or incomplete.
std::uint16_t read_port(const std::filesystem::path& file) {
  std::ifstream in(file);
  unsigned port = 0;
  if (!(in >> port) || port == 0 || port > 65535) return 0;
  return static_cast<std::uint16_t>(port);
}

/// Exit code, or 128 + signal, from a waitpid status.
int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
}

}  // namespace

server_process::server_process(std::vector<std::string> extra_args)
    : extra_args_(std::move(extra_args)), data_dir_(fresh_temp_dir()) {
  try {
    start(0);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(data_dir_, ec);
    throw;
  }
}

server_process::server_process(std::vector<std::string> extra_args, unstarted)
    : extra_args_(std::move(extra_args)), data_dir_(fresh_temp_dir()) {}

server_process::~server_process() {
  if (pid_ > 0) kill_hard();
  std::error_code ec;
  std::filesystem::remove_all(data_dir_, ec);
}

std::string server_process::ws_url() const { return http_base().replace(0, 4, "ws") + "/ws"; }

std::string server_process::http_base() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string server_process::wss_url(const std::string& host) const {
  return "wss://" + host + ":" + std::to_string(port_) + "/ws";
}

void server_process::start(std::uint16_t port) {
  std::filesystem::remove(port_file(data_dir_));
  std::vector<std::string> args{PARLEY_SERVER_BIN, "--host",      "127.0.0.1",
                                "--port",          std::to_string(port),
                                "--port-file",     port_file(data_dir_).string(),
                                "--data",          data_dir_.string(),
                                "--jwt-secret",    test_secret};
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  // The server's output goes to a log file in its directory; restarts append to it.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_file(data_dir_).c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t child = -1;
  const int rc = posix_spawn(&child, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error(std::string("spawn parley-server: ") + std::strerror(rc));
  pid_ = child;

  const auto deadline = std::chrono::steady_clock::now() + start_timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (const auto bound = read_port(port_file(data_dir_))) {
      port_ = bound;
      return;
    }
    if (reap(0ms)) {
      throw std::runtime_error("parley-server exited with status " +
                               std::to_string(exit_status_) + " before listening:\n" + log_text());
    }
    std::this_thread::sleep_for(poll_step);
  }
  kill_hard();
  throw std::runtime_error("parley-server did not write its port file within 15 s:\n" + log_text());
}

bool server_process::reap(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno == ECHILD)) {
      exit_status_ = exit_code_of(status);
      pid_ = -1;
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_step);
  }
}

void server_process::kill_hard() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  exit_status_ = exit_code_of(status);
  pid_ = -1;
}

void server_process::terminate() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  if (!reap(std::chrono::duration_cast<std::chrono::milliseconds>(terminate_timeout))) kill_hard();
}

void server_process::restart() {
  if (pid_ > 0) kill_hard();
  start(port_);
}

std::string server_process::log_text() const {
  std::ifstream in(log_file(data_dir_));
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

startup_failure expect_startup_failure(std::vector<std::string> extra_args) {
  server_process server(std::move(extra_args), server_process::unstarted{});
  try {
    server.start(0);
  } catch (const std::runtime_error&) {
    // start() reaped it (or killed it after the start timeout): either way it did not listen.
    if (server.pid_ <= 0) return {server.exit_status_, server.log_text()};
    throw;
  }
  throw std::runtime_error("parley-server started listening although it should have refused:\n" +
                           server.log_text());
}

std::string token_for(std::string user, std::string tenant, std::chrono::seconds ttl) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  server::jwt_claims claims;
  claims.sub = std::move(user);
  claims.tid = std::move(tenant);
  claims.iat = now;
  claims.exp = now + ttl.count();
  return server::jwt_sign_hs256(claims, test_secret);
}

}  // namespace parley::test
