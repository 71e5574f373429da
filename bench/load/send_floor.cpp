#include "send_floor.hpp"

#include "clock.hpp"
#include "report.hpp"
#include "scenarios.hpp"       // exit statuses
#include "server_process.hpp"  // pin_to_cpu, /proc readings, abort_bench
#include "slices.hpp"

#include "send_ring.hpp"  // --uring: the server's own batching

#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

namespace parley::bench {

namespace {

/// The load, as the fanout scenario offers it to a server.
struct floor_shape {
  std::uint32_t receivers = 0;
  std::uint32_t bytes = 0;   // per send
  bool gather = false;       // sendmsg of a 2-byte piece and the rest, instead of send
  bool uring = false;        // each burst through the server's send_ring (io_uring batches)
  double bursts_per_s = 0;   // P: one send to every receiver per burst
  int cpu = -1;              // the sender's CPU; -1: not pinned
  int nice = 0;
  double setup_s = 0;        // bound on listening + accepting + waiting for go
  double run_s = 0;          // bound on everything after go (warm-up, window, slack)
};

/// Absolute steady_clock instants. libstdc++'s steady_clock is CLOCK_MONOTONIC, the clock
/// clock_nanosleep sleeps on, and it is shared by both processes.
struct floor_schedule {
  std::int64_t start = 0;    // first burst
  std::int64_t measure = 0;  // end of the warm-up, start of the window
  std::int64_t end = 0;      // end of the window: no burst is due at or after it
};

/// Slices a window's report holds (a longer window reports its first 64 seconds' spread).
constexpr std::size_t max_slices = 64;

/// What the sender tells the generator. Fixed size and below PIPE_BUF, so every write arrives
/// whole and in one read.
struct sender_note {
  enum class kind : std::uint32_t { listening, accepted, done, failed };
  kind what = kind::failed;
  std::uint16_t port = 0;            // listening
  int error = 0;                     // failed: errno of the step
  char step[48] = {};                // failed: which step
  std::uint64_t sends = 0;           // whole sends, warm-up and window
  std::uint64_t bytes_sent = 0;      // every byte the kernel took, short sends included
  std::uint64_t short_sends = 0;     // sends that did not go whole (EAGAIN, partial, error)
  std::uint64_t window_sends = 0;    // whole sends between the two CPU readings
  std::int64_t window_ns = 0;        // wall time between the two CPU readings
  std::int64_t window_cpu_ns = 0;
  std::int64_t window_wait_ns = -1;  // runnable but not running; -1 unknown
  std::int64_t max_lag_ns = 0;       // worst start of a window burst behind its deadline
  std::uint32_t slices = 0;          // one-second slices of the window (the first max_slices)
  double slice_us[max_slices] = {};  // CPU µs per whole send in each
};
static_assert(sizeof(sender_note) <= PIPE_BUF);

std::int64_t seconds_ns(double s) { return static_cast<std::int64_t>(s * 1e9); }

/// Reads exactly `size` bytes from a pipe by `deadline`; false on EOF, error or timeout.
bool read_whole(int fd, void* into, std::size_t size, std::int64_t deadline) {
  auto* at = static_cast<char*>(into);
  std::size_t got = 0;
  while (got < size) {
    const std::int64_t left = deadline - now_ns();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left / ns_per_ms + 1, 1000)));
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    const ssize_t n = ::read(fd, at + got, size - got);
    if (n == 0) return false;
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return false;
    }
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// ---- the sender: the forked child -------------------------------------------------------------
//
// Forked from a process with threads (the global timeout's watchdog), it allocates nothing and
// uses system calls only: its buffers are made before the fork.

/// Sleeps until `t` (absolute): a deadline per burst, so the bursts never drift with the work
/// done between them.
void sleep_until(std::int64_t t) {
  if (t <= now_ns()) return;
  const timespec ts{static_cast<time_t>(t / ns_per_s), static_cast<long>(t % ns_per_s)};
  // The sender handles no signal, so EINTR is rare; the count only bounds the loop.
  for (int i = 0; i < 100 && ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR; ++i) {
  }
}

/// This process's CPU time, ns: the scheduler's exact runtime, which /proc/<pid>/stat's
/// utime + stime (what fanout reads for the server) report in 10 ms ticks.
std::int64_t own_cpu_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * ns_per_s + ts.tv_nsec;
}

/// ns this single-threaded process was runnable but waiting for its CPU (2nd field of
/// /proc/self/schedstat); -1 if unreadable. Read without allocating (see above).
std::int64_t own_wait_ns() {
  const int fd = ::open("/proc/self/schedstat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char text[128];
  const ssize_t n = ::read(fd, text, sizeof text - 1);
  ::close(fd);
  if (n <= 0) return -1;
  text[n] = '\0';
  unsigned long long on_cpu = 0, waiting = 0;
  return std::sscanf(text, "%llu %llu", &on_cpu, &waiting) == 2 ? static_cast<std::int64_t>(waiting) : -1;
}

void tell(int fd, const sender_note& note) {
  // A parent that is gone cannot read it anyway; the death signal ends the sender then.
  [[maybe_unused]] const ssize_t n = ::write(fd, &note, sizeof note);
}

[[noreturn]] void sender_failed(int to_parent, const char* step) {
  sender_note note;
  note.what = sender_note::kind::failed;
  note.error = errno;
  std::snprintf(note.step, sizeof note.step, "%s", step);
  tell(to_parent, note);
  ::_exit(1);
}

/// The child's whole life: listen, accept every receiver, wait for go, send the bursts,
/// report, exit. `peers` (receivers slots) and `payload` were allocated by the parent.
[[noreturn]] void run_sender(const floor_shape& shape, int to_parent, int from_parent, pid_t parent,
                             std::vector<int>& peers, const std::vector<char>& payload) {
  // It ends by itself: with the generator (death signal), or at the latest by the alarm,
  // whose default action ends the process, past every bound of the run.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != parent) ::_exit(1);  // the parent died before the death signal was set
  ::alarm(static_cast<unsigned>(std::ceil(shape.setup_s + shape.run_s)) + 10);

  // The same CPU and priority as a started server (server_process does the same).
  if (shape.cpu >= 0 && !pin_to_cpu(shape.cpu)) sender_failed(to_parent, "pinning");
  if (shape.nice != 0 && ::setpriority(PRIO_PROCESS, 0, shape.nice) != 0) sender_failed(to_parent, "nice");

  const std::int64_t setup_deadline = now_ns() + seconds_ns(shape.setup_s);
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) sender_failed(to_parent, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    sender_failed(to_parent, "bind");
  }
  // The kernel caps the backlog at net.core.somaxconn; accepting runs while the generator
  // connects, so a smaller queue only slows the setup.
  if (::listen(listener, static_cast<int>(std::min<std::uint32_t>(shape.receivers, 65535))) != 0) {
    sender_failed(to_parent, "listen");
  }
  if (::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    sender_failed(to_parent, "getsockname");
  }
  sender_note note;
  note.what = sender_note::kind::listening;
  note.port = ntohs(addr.sin_port);
  tell(to_parent, note);

  for (std::uint32_t accepted = 0; accepted < shape.receivers;) {
    const std::int64_t left = setup_deadline - now_ns();
    if (left <= 0) {
      errno = ETIMEDOUT;
      sender_failed(to_parent, "accepting the receivers");
    }
    pollfd p{listener, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left / ns_per_ms + 1, 1000))) <= 0) continue;
    const int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      sender_failed(to_parent, "accept");
    }
    // As the server's listener does: small frames must not wait for a delayed ACK.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    peers[accepted++] = fd;
  }
  ::close(listener);
  note.what = sender_note::kind::accepted;
  tell(to_parent, note);

  floor_schedule s;
  if (!read_whole(from_parent, &s, sizeof s, setup_deadline)) sender_failed(to_parent, "waiting for go");

  // Burst k is due at start + k/P, computed from k (not by adding intervals) so that rounding
  // does not accumulate either.
  const double interval_ns = 1e9 / shape.bursts_per_s;
  note = sender_note{};
  note.what = sender_note::kind::done;
  bool measuring = false;
  std::int64_t at0 = 0, cpu0 = 0, wait0 = -1;
  std::uint64_t sends0 = 0;
  std::int64_t slice_at = 0, slice_cpu = 0;  // the current slice's start
  std::uint64_t slice_sends = 0;
  const auto start_window = [&] {
    sleep_until(s.measure);
    at0 = slice_at = now_ns();
    cpu0 = slice_cpu = own_cpu_ns();
    wait0 = own_wait_ns();
    sends0 = slice_sends = note.sends;
    measuring = true;
  };
  // Closes the current slice at `at` (between bursts, so its sends are whole).
  const auto end_slice = [&](std::int64_t at) {
    const std::int64_t cpu = own_cpu_ns();
    if (note.slices < max_slices) {
      note.slice_us[note.slices++] = slice_cost(cpu - slice_cpu, note.sends - slice_sends);
    }
    slice_at = at;
    slice_cpu = cpu;
    slice_sends = note.sends;
  };
  const auto size = static_cast<ssize_t>(payload.size());
  // --gather: the same bytes as a frame header and a shared payload would leave a server.
  std::array<iovec, 2> pieces{iovec{const_cast<char*>(payload.data()), 2},
                              iovec{const_cast<char*>(payload.data()) + 2, payload.size() - 2}};
  msghdr gathered{};
  gathered.msg_iov = pieces.data();
  gathered.msg_iovlen = pieces.size();
  // Counts each send's result, whether made here or reported by the ring.
  struct send_counter final : server::send_ring::sender {
    sender_note& note;
    ssize_t size;
    send_counter(sender_note& n, ssize_t bytes) : note(n), size(bytes) {}
    void count(ssize_t sent) {
      if (sent == size) ++note.sends;
      else ++note.short_sends;
      if (sent > 0) note.bytes_sent += static_cast<std::uint64_t>(sent);
    }
    void ring_sent(std::span<const char>, long result) override { count(result); }
  } counter(note, size);
  // --uring: the bursts go through the same ring the server batches a release's sends in.
  std::unique_ptr<server::send_ring> ring;
  if (shape.uring) {
    ring = std::make_unique<server::send_ring>(true);
    if (!ring->available()) {
      errno = ENOSYS;
      sender_failed(to_parent, ("io_uring: " + ring->refusal()).c_str());
    }
  }
  for (std::uint64_t k = 0;; ++k) {
    const std::int64_t due = s.start + std::llround(static_cast<double>(k) * interval_ns);
    if (due >= s.end) break;
    if (!measuring && due >= s.measure) start_window();
    sleep_until(due);
    const std::int64_t began = now_ns();
    if (began >= s.end) break;  // behind schedule: the window is over all the same
    if (measuring) {
      note.max_lag_ns = std::max(note.max_lag_ns, began - due);
      if (began - slice_at >= slice_ns) end_slice(began);
    }
    if (ring) {
      ring->begin();
      for (const int fd : peers) {
        ring->stage(fd, {}, std::string_view(payload.data(), payload.size()), counter);
      }
      ring->finish();
      continue;
    }
    for (const int fd : peers) {
      const ssize_t sent =
          shape.gather ? ::sendmsg(fd, &gathered, MSG_DONTWAIT | MSG_NOSIGNAL)
                       : ::send(fd, payload.data(), payload.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      counter.count(sent);
    }
  }
  if (!measuring) start_window();  // a window shorter than one burst interval
  sleep_until(s.end);
  if (now_ns() - slice_at >= min_slice_ns) end_slice(now_ns());
  const std::int64_t at1 = now_ns();
  const std::int64_t cpu1 = own_cpu_ns();
  const std::int64_t wait1 = own_wait_ns();
  note.window_sends = note.sends - sends0;
  note.window_ns = at1 - at0;
  note.window_cpu_ns = cpu1 - cpu0;
  note.window_wait_ns = wait0 < 0 || wait1 < 0 ? -1 : wait1 - wait0;
  tell(to_parent, note);
  // Data already sent is delivered after close (the sockets' receive queues are empty, so
  // close sends FIN, not RST): the generator drains at its own pace.
  ::_exit(0);
}

// ---- the generator side -----------------------------------------------------------------------

/// The sender as seen from the generator: its PID (killed by PID on failure, through
/// abort_bench) and the two pipes.
struct sender_link {
  pid_t pid = -1;
  int notes = -1;  // sender → generator
  int go = -1;     // generator → sender

  /// The next note, by `deadline`; a failed sender or a silent one ends the run.
  sender_note next(std::int64_t deadline, const char* waiting_for) const {
    sender_note note;
    if (!read_whole(notes, &note, sizeof note, deadline)) {
      abort_bench(std::string("the sender did not answer while ") + waiting_for, exit_failure);
    }
    if (note.what == sender_note::kind::failed) {
      abort_bench(std::string("the sender failed at ") + note.step + ": " + std::strerror(note.error),
                  exit_failure);
    }
    return note;
  }

  /// Waits for its exit (it exits by itself right after its report); SIGKILL by PID after 5 s.
  std::string reap() {
    int status = 0;
    std::string how;
    const std::int64_t deadline = now_ns() + 5 * ns_per_s;
    while (true) {
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        how = WIFEXITED(status) ? "exited " + std::to_string(WEXITSTATUS(status))
                                : "signal " + std::to_string(WTERMSIG(status));
        break;
      }
      if (now_ns() > deadline) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        how = "killed after 5 s";
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    set_abort_victim(-1);
    pid = -1;
    return how;
  }
};

/// Forks the sender. Everything it uses is allocated here, before the fork.
sender_link start_sender(const floor_shape& shape, std::vector<int>& peers,
                         const std::vector<char>& payload) {
  int up[2], down[2];
  if (::pipe2(up, O_CLOEXEC) != 0 || ::pipe2(down, O_CLOEXEC) != 0) abort_bench("pipe failed", exit_failure);
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child < 0) abort_bench("fork failed", exit_failure);
  if (child == 0) {
    ::close(up[0]);
    ::close(down[1]);
    run_sender(shape, up[1], down[0], parent, peers, payload);
  }
  ::close(up[1]);
  ::close(down[0]);
  // The global --timeout kills it by PID too.
  set_abort_victim(child);
  return {child, up[0], down[1]};
}

/// R plain TCP sockets to the sender, non-blocking once connected.
std::vector<int> connect_receivers(std::uint16_t port, std::uint32_t count) {
  std::vector<int> fds;
  fds.reserve(count);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  for (std::uint32_t i = 0; i < count; ++i) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      abort_bench("receiver socket " + std::to_string(i) + ": " + std::strerror(errno) +
                      (errno == EMFILE ? " (fd limit: fewer --receivers)" : ""),
                  exit_failure);
    }
    // A blocking connect gives up after SO_SNDTIMEO on Linux: bounded even if SYNs are lost.
    const timeval bound{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
    // As parley-bench's WebSocket clients do; the receivers only send ACKs here.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
      abort_bench("receiver " + std::to_string(i) + " could not connect: " + std::strerror(errno),
                  exit_failure);
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    fds.push_back(fd);
  }
  return fds;
}

/// The generator's CPU at one instant (fanout's `gen CPU`, `gen wait`).
struct generator_sample {
  std::int64_t at = 0, cpu = -1, wait = -1;
};

generator_sample sample_generator() { return {now_ns(), process_cpu_ns(0), process_wait_ns(0)}; }

/// What the generator saw.
struct drain_result {
  std::uint64_t received = 0;     // bytes read from all receivers
  std::uint64_t closed_early = 0; // receivers that saw EOF or an error before the window's end
  sender_note report;
  generator_sample g0, g1;        // at the window's start and end
  double drain_ms = 0;            // from the report until every byte was read
  bool drained = false;
};

/// One epoll loop reads every receiver (non-blocking, into one buffer) until the sender's
/// report is in and every byte it sent has arrived, or --drain s after the report. Samples the
/// generator's CPU at the window's marks on the way.
drain_result drain(const sender_link& sender, const std::vector<int>& receivers, const floor_schedule& s,
                   double drain_s) {
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) abort_bench("epoll_create1 failed", exit_failure);
  const auto watch = [&](int fd, std::uint64_t tag) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = tag;
    if (::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) abort_bench("epoll_ctl failed", exit_failure);
  };
  const std::uint64_t notes_tag = receivers.size();
  for (std::size_t i = 0; i < receivers.size(); ++i) watch(receivers[i], i);
  watch(sender.notes, notes_tag);

  drain_result r;
  std::vector<char> buffer(64 * 1024);
  std::vector<epoll_event> events(256);
  bool reported = false, sampled0 = false, sampled1 = false;
  std::int64_t reported_at = 0;
  // The sender stops sending at the window's end whatever happens; 10 s is slack enough.
  const std::int64_t report_deadline = s.end + 10 * ns_per_s;
  const std::int64_t drain_ns = seconds_ns(drain_s);
  while (true) {
    const std::int64_t now = now_ns();
    if (!sampled0 && now >= s.measure) {
      r.g0 = sample_generator();
      sampled0 = true;
    }
    if (!sampled1 && now >= s.end) {
      r.g1 = sample_generator();
      sampled1 = true;
    }
    if (reported && r.received >= r.report.bytes_sent) {
      r.drained = true;
      r.drain_ms = static_cast<double>(now - reported_at) / 1e6;
      break;
    }
    if (reported && now - reported_at >= drain_ns) {
      r.drain_ms = static_cast<double>(now - reported_at) / 1e6;
      break;
    }
    if (!reported && now >= report_deadline) {
      abort_bench("the sender did not report within 10 s of the window's end", exit_failure);
    }
    const std::int64_t mark = !sampled0 ? s.measure : !sampled1 ? s.end : INT64_MAX;
    const std::int64_t next = std::min(mark, reported ? reported_at + drain_ns : report_deadline);
    const int timeout_ms =
        static_cast<int>(std::clamp<std::int64_t>((next - now + ns_per_ms - 1) / ns_per_ms, 0, 100));
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), timeout_ms);
    if (n < 0 && errno != EINTR) abort_bench("epoll_wait failed", exit_failure);
    for (int e = 0; e < n; ++e) {
      const std::uint64_t tag = events[static_cast<std::size_t>(e)].data.u64;
      if (tag == notes_tag) {
        // Level-triggered: once read (or at EOF) it must leave the set, or it wakes every turn.
        ::epoll_ctl(ep, EPOLL_CTL_DEL, sender.notes, nullptr);
        if (reported) continue;
        r.report = sender.next(now_ns() + ns_per_s, "reporting");
        if (r.report.what != sender_note::kind::done) {
          abort_bench("unexpected note from the sender", exit_failure);
        }
        reported = true;
        reported_at = now_ns();
        continue;
      }
      const int fd = receivers[tag];
      // A few reads per wake-up: level-triggered epoll comes back for the rest.
      for (int i = 0; i < 4; ++i) {
        const ssize_t got = ::read(fd, buffer.data(), buffer.size());
        if (got > 0) {
          r.received += static_cast<std::uint64_t>(got);
          if (static_cast<std::size_t>(got) < buffer.size()) break;
          continue;
        }
        if (got < 0 && (errno == EAGAIN || errno == EINTR)) break;
        // EOF or an error: nothing more will come. The sender closes every socket when it
        // exits after its report, so only a close before the window's end is a fault.
        ::epoll_ctl(ep, EPOLL_CTL_DEL, fd, nullptr);
        if (now_ns() < s.end) ++r.closed_early;
        break;
      }
    }
  }
  ::close(ep);
  return r;
}

double pct(std::int64_t part, std::int64_t whole) {
  return part < 0 || whole <= 0 ? -1 : 100.0 * static_cast<double>(part) / static_cast<double>(whole);
}

std::string pct_text(double v) { return v < 0 ? "-" : fixed(v, 1) + "%"; }

}  // namespace

int send_floor(const bench_options& o, bool pin, const std::string& pin_note) {
  floor_shape shape;
  shape.receivers = o.receivers.value_or(1000);
  shape.bytes = o.bytes.value_or(102);
  shape.gather = o.gather;
  shape.uring = o.uring;
  shape.bursts_per_s = o.rate ? *o.rate : o.deliveries.value_or(100000) / shape.receivers;
  shape.cpu = pin ? o.server_cpu : -1;
  shape.nice = o.nice;
  const double warmup = o.warmup.value_or(2);
  const double seconds = o.seconds.value_or(10);
  // Loopback accepts take microseconds each; a minute covers any count the fd limit allows.
  shape.setup_s = std::min(60.0, o.timeout);
  shape.run_s = 1 + warmup + seconds + 10;

  std::vector<int> peers(shape.receivers, -1);  // the sender's accepted sockets (its copy)
  const std::vector<char> payload(shape.bytes, 'x');
  sender_link sender = start_sender(shape, peers, payload);

  const std::int64_t setup_deadline = now_ns() + seconds_ns(shape.setup_s);
  const sender_note listening = sender.next(setup_deadline, "starting to listen");
  // The sender pinned itself before it listened: its affinity is final now.
  const std::string pinning = "sender pid " + std::to_string(sender.pid) + " on CPU " +
                              process_cpus(sender.pid) + "; generator pid " + std::to_string(::getpid()) +
                              " (all threads) on CPU " + process_cpus(0) + pin_note;
  std::printf("pinning: %s\n", pinning.c_str());
  std::fflush(stdout);

  const std::vector<int> receivers = connect_receivers(listening.port, shape.receivers);
  sender.next(setup_deadline, "accepting the receivers");

  floor_schedule s;
  s.start = now_ns() + 50 * ns_per_ms;
  s.measure = s.start + seconds_ns(warmup);
  s.end = s.measure + seconds_ns(seconds);
  if (::write(sender.go, &s, sizeof s) != static_cast<ssize_t>(sizeof s)) {
    abort_bench("go: write failed", exit_failure);
  }

  const drain_result r = drain(sender, receivers, s, o.drain);
  const std::string exit_text = sender.reap();
  for (const int fd : receivers) ::close(fd);
  ::close(sender.notes);
  ::close(sender.go);

  const sender_note& rep = r.report;
  const double window_s = static_cast<double>(rep.window_ns) / 1e9;
  const double offered_s = shape.bursts_per_s * shape.receivers;
  const double sends_s = window_s > 0 ? static_cast<double>(rep.window_sends) / window_s : 0;
  const double sender_cpu = pct(rep.window_cpu_ns, rep.window_ns);
  const double sender_wait = pct(rep.window_wait_ns, rep.window_ns);
  const double us_per_send = rep.window_sends > 0 ? static_cast<double>(rep.window_cpu_ns) / 1e3 /
                                                        static_cast<double>(rep.window_sends)
                                                  : -1;
  const slice_spread spread =
      spread_of(std::vector<double>(rep.slice_us, rep.slice_us + std::min<std::size_t>(rep.slices, max_slices)));
  const std::int64_t gen_wall = r.g1.at - r.g0.at;
  const double gen_cpu = r.g0.cpu < 0 || r.g1.cpu < 0 ? -1 : pct(r.g1.cpu - r.g0.cpu, gen_wall);
  const double gen_wait = r.g0.wait < 0 || r.g1.wait < 0 ? -1 : pct(r.g1.wait - r.g0.wait, gen_wall);
  const auto lost_bytes = static_cast<std::int64_t>(rep.bytes_sent - r.received);
  const bool correct = rep.short_sends == 0 && lost_bytes == 0 && r.closed_early == 0;

  text_table t({"receivers", "bytes", "bursts/s", "offered/s", "sends/s", "snd CPU", "snd wait", "us/send",
                "1s med", "1s min", "gen CPU", "gen wait", "short sends", "lost bytes"});
  t.row({std::to_string(shape.receivers), std::to_string(shape.bytes), fixed(shape.bursts_per_s, 1),
         fixed(offered_s, 0), fixed(sends_s, 0), pct_text(sender_cpu), pct_text(sender_wait),
         fixed(us_per_send, 3), fixed(spread.median_us, 3), fixed(spread.min_us, 3), pct_text(gen_cpu),
         pct_text(gen_wait), std::to_string(rep.short_sends), std::to_string(lost_bytes)});
  t.print(stdout, "floor: one sender process, " + std::to_string(shape.receivers) +
                      " loopback TCP sockets, " + std::to_string(shape.bytes) +
                      (shape.uring    ? "-byte send to each in a burst, through io_uring in batches of 256, "
                       : shape.gather ? "-byte sendmsg (2 pieces) to each in a burst, "
                                      : "-byte send to each in a burst, ") + fixed(shape.bursts_per_s, 1) + " bursts/s for " + fixed(seconds, 1) + " s after " +
                      fixed(warmup, 1) + " s warm-up\n(sender " + exit_text + ")");
  json_line j;
  j.add("scenario", "floor").add("receivers", static_cast<std::uint64_t>(shape.receivers));
  j.add("bytes", static_cast<std::uint64_t>(shape.bytes)).add("gather", shape.gather).add("uring", shape.uring).add("bursts_per_s", shape.bursts_per_s, 2);
  j.add("offered_per_s", offered_s, 1).add("warmup_s", warmup, 2).add("seconds", seconds, 2);
  j.add("window_s", window_s, 3).add("sends_in_window", rep.window_sends).add("sends_per_s", sends_s, 1);
  j.add("sender_cpu_pct", sender_cpu, 2).add("sender_cpu_wait_pct", sender_wait, 2);
  j.add("cpu_us_per_send", us_per_send, 4);
  j.add("cpu_us_per_send_median_1s", spread.median_us, 4).add("cpu_us_per_send_min_1s", spread.min_us, 4);
  j.add("slices", static_cast<std::uint64_t>(spread.slices));
  j.add("sender_max_lag_ms", static_cast<double>(rep.max_lag_ns) / 1e6, 3);
  j.add("generator_cpu_pct", gen_cpu, 1).add("generator_cpu_wait_pct", gen_wait, 1);
  j.add("sends_total", rep.sends).add("short_sends", rep.short_sends);
  j.add("bytes_sent", rep.bytes_sent).add("bytes_received", r.received).add("lost_bytes", lost_bytes);
  j.add("receivers_closed_early", r.closed_early).add("drained", r.drained).add("drain_ms", r.drain_ms, 1);
  j.add("loadavg_1m", load_average(), 2).add("correct", correct).add("pinning", pinning);
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  if (sends_s < 0.95 * offered_s) {
    std::fprintf(stderr,
                 "parley-bench: the sender fell behind (%.0f of %.0f sends/s, worst burst %.1f ms late): "
                 "this floor was measured at a lower rate than offered\n",
                 sends_s, offered_s, static_cast<double>(rep.max_lag_ns) / 1e6);
  }
  if (!correct) {
    std::fprintf(stderr,
                 "parley-bench: INVALID floor: short_sends=%llu lost_bytes=%lld "
                 "receivers_closed_early=%llu\n",
                 static_cast<unsigned long long>(rep.short_sends), static_cast<long long>(lost_bytes),
                 static_cast<unsigned long long>(r.closed_early));
  }
  return correct ? exit_ok : exit_incorrect;
}

}  // namespace parley::bench
