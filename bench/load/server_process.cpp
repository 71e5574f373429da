#include "server_process.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/resource.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace parley::bench {

namespace fs = std::filesystem;

namespace {

std::string proc_path(pid_t pid, const char* file) {
  return pid == 0 ? std::string("/proc/self/") + file
                  : "/proc/" + std::to_string(pid) + "/" + file;
}

/// The value of a "Key:\tvalue" line of /proc/<pid>/status.
std::string status_field(pid_t pid, const std::string& key) {
  std::ifstream in(proc_path(pid, "status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() && line[key.size()] == ':') {
      const auto start = line.find_first_not_of(" \t", key.size() + 1);
      return start == std::string::npos ? "" : line.substr(start);
    }
  }
  return {};
}

std::atomic<pid_t> abort_victim{-1};
std::string abort_folder;  // set once, before any thread but the watchdog could read it
std::atomic<int> saved_autogroup_nice{100};  // 100: nothing to restore

/// The nice value in /proc/self/autogroup ("/autogroup-303 nice 0"), or 100.
int read_autogroup_nice() {
  std::ifstream in("/proc/self/autogroup");
  std::string group, word;
  int nice = 100;
  if (in >> group >> word >> nice && word == "nice") return nice;
  return 100;
}

}  // namespace

std::int64_t process_cpu_ns(pid_t pid) {
  std::ifstream in(proc_path(pid, "stat"));
  std::string all;
  if (!std::getline(in, all)) return -1;
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const auto close = all.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(all.substr(close + 2));
  std::string field;
  long long utime = -1, stime = -1;
  for (int i = 3; fields >> field; ++i) {  // field 3 is the state
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) {
      stime = std::atoll(field.c_str());
      break;
    }
  }
  if (utime < 0 || stime < 0) return -1;
  static const long ticks = sysconf(_SC_CLK_TCK);
  return (utime + stime) * (1'000'000'000LL / ticks);
}

namespace {

/// Field `field` (0: time on a CPU, 1: time runnable but waiting) of /proc/<pid>/schedstat,
/// summed over the process's threads, in ns; -1 if unreadable.
std::int64_t schedstat_sum(pid_t pid, int field) {
  std::error_code ec;
  const fs::path tasks = pid == 0 ? fs::path("/proc/self/task") : fs::path("/proc/" + std::to_string(pid) + "/task");
  std::int64_t total = 0;
  bool any = false;
  for (const auto& task : fs::directory_iterator(tasks, ec)) {
    std::ifstream in(task.path() / "schedstat");
    long long times[2] = {0, 0};
    if (in >> times[0] >> times[1]) {
      total += times[field];
      any = true;
    }
  }
  return any ? total : -1;
}

}  // namespace

std::int64_t process_wait_ns(pid_t pid) { return schedstat_sum(pid, 1); }

std::int64_t process_run_ns(pid_t pid) { return schedstat_sum(pid, 0); }

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = -1;
  return in >> one ? one : -1;
}

std::int64_t process_rss_kib(pid_t pid) {
  const std::string v = status_field(pid, "VmRSS");  // "12345 kB"
  return v.empty() ? -1 : std::atoll(v.c_str());
}

std::string process_cpus(pid_t pid) {
  const std::string v = status_field(pid, "Cpus_allowed_list");
  return v.empty() ? "?" : v;
}

bool pin_to_cpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

bool set_autogroup_nice(int nice) {
  const int old = read_autogroup_nice();
  if (old == 100) return false;
  std::ofstream out("/proc/self/autogroup");
  out << nice;
  out.flush();
  if (!out || read_autogroup_nice() != nice) return false;
  saved_autogroup_nice = old;
  return true;
}

void restore_autogroup_nice() {
  const int old = saved_autogroup_nice.exchange(100);
  if (old == 100) return;
  std::ofstream out("/proc/self/autogroup");
  out << old;
}

void set_abort_victim(pid_t pid) { abort_victim = pid; }

void abort_bench(const std::string& why, int status) {
  std::fprintf(stderr, "parley-bench: FAILED: %s\n", why.c_str());
  std::fflush(stderr);
  if (const pid_t victim = abort_victim.load(); victim > 0) {
    ::kill(victim, SIGKILL);
    ::waitpid(victim, nullptr, 0);
    std::error_code ec;
    if (!abort_folder.empty()) fs::remove_all(abort_folder, ec);
  }
  restore_autogroup_nice();
  std::_Exit(status);
}

server_process::server_process(settings s, int startup_ms) : settings_(std::move(s)) {
  char tmpl[] = "/tmp/parley-bench-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("cannot create a temporary folder");
  folder_ = tmpl;
  const std::string port_file = folder_ + "/port";
  std::vector<std::string> args{
      settings_.binary, "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
      "--data", folder_ + "/data", "--jwt-secret", settings_.jwt_secret,
      // The bench opens thousands of connections from one address and one user per
      // connection, and one publisher sends far above a human's rate.
      "--max-connections-per-ip", "0", "--max-connections-per-user", "0",
      "--rate-per-sec", "1000000", "--rate-burst", "1000000",
      // One info line per connection would cost the server CPU the bench is measuring.
      "--log-level", "warn"};
  args.insert(args.end(), settings_.extra_args.begin(), settings_.extra_args.end());
  for (const auto& a : args) command_ += (command_.empty() ? "" : " ") + a;

  const std::string log = folder_ + "/server.log";
  const pid_t child = ::fork();
  if (child < 0) throw std::runtime_error("fork failed");
  if (child == 0) {
    if (settings_.cpu >= 0 && !pin_to_cpu(settings_.cpu)) std::_Exit(126);
    if (settings_.nice != 0 && ::setpriority(PRIO_PROCESS, 0, settings_.nice) != 0) std::_Exit(125);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      ::close(fd);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    std::_Exit(127);
  }
  pid_ = child;
  if (!settings_.keep_data) abort_folder = folder_;
  set_abort_victim(pid_);

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(startup_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      set_abort_victim(-1);
      const std::string how =
          WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status)) +
                                  (WEXITSTATUS(status) == 127 ? " (could not execute " + settings_.binary + ")" : "")
                            : "signal " + std::to_string(WTERMSIG(status));
      const std::string tail = log_tail();
      discard_folder();
      throw std::runtime_error("parley-server stopped at startup, " + how + "; log:\n" + tail);
    }
    std::ifstream in(port_file);
    unsigned port = 0;
    if (in >> port && port > 0 && port < 65536) {
      port_ = static_cast<std::uint16_t>(port);
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop();
  const std::string tail = log_tail();
  discard_folder();
  throw std::runtime_error("parley-server did not write its port file within " +
                           std::to_string(startup_ms) + " ms; log:\n" + tail);
}

server_process::~server_process() {
  stop();
  discard_folder();
}

void server_process::discard_folder() {
  if (settings_.keep_data || folder_.empty()) return;
  std::error_code ec;
  fs::remove_all(folder_, ec);
  abort_folder.clear();
}

std::string server_process::stop() {
  if (pid_ <= 0) return "not running";
  ::kill(pid_, SIGTERM);
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::string result;
  while (true) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      result = WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                 : "signal " + std::to_string(WTERMSIG(status));
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      result = "killed after 10 s";
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
  set_abort_victim(-1);
  return result;
}

std::string server_process::log_tail() const {
  std::ifstream in(folder_ + "/server.log");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

}  // namespace parley::bench
