// The `parley` CLI against the real server: scripted (stdin a file) and on a terminal, where it
// shows what others do (messages, typing, presence) and rides out a server restart by itself.
#include "client_recorder.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <regex>
#include <set>
#include <spawn.h>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace parley::test {
namespace {

struct cli_run {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// A shell command running PARLEY_CLI_BIN under timeout(1), which bounds even a hung run.
std::string cli_command(const std::vector<std::string>& args, int timeout_s = 60) {
  std::string command = "timeout " + std::to_string(timeout_s) + " '" PARLEY_CLI_BIN "'";
  for (const auto& arg : args) command += " '" + arg + "'";
  return command;
}

// Runs the CLI with `input` as its standard input (a file, so scripted mode).
cli_run run_cli(const std::vector<std::string>& args, const std::string& input) {
  char input_path[] = "/tmp/parley-cli-input-XXXXXX";
  const int fd = ::mkstemp(input_path);
  if (fd < 0) throw std::runtime_error("mkstemp failed");
  ::close(fd);
  std::ofstream(input_path) << input;

  const std::string command = cli_command(args) + " < '" + input_path + "' 2>&1";
  cli_run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  char chunk[4096];
  for (std::size_t n; (n = std::fread(chunk, 1, sizeof chunk, pipe)) > 0;) {
    run.output.append(chunk, n);
  }
  const int status = ::pclose(pipe);
  ::unlink(input_path);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

TEST(ClientCli, ScriptedRunSendsEachLineAndLaterRunsShowThem) {
  server_process server({"--dev"});
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(bob.start_in("cli"));
  const std::vector<std::string> carol = {"--url", server.ws_url(), "--user", "carol",
                                          "--room", "cli"};

  const auto first = run_cli(carol, "hello from the cli\n/rooms\nsecond line");
  EXPECT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("joined #cli"), std::string::npos) << first.output;
  EXPECT_NE(first.output.find("(sending…) hello from the cli"), std::string::npos);
  ASSERT_TRUE(bob.wait_until(delivered_at_least("cli", 2)));
  EXPECT_EQ(texts_of(bob.log().in_room("cli")),
            (std::vector<std::string>{"hello from the cli", "second line"}));

  // With nothing to send, a run shows the recent history and exits.
  const auto second = run_cli(carol, "");
  EXPECT_EQ(second.status, 0) << second.output;
  const auto first_line = second.output.find("carol: hello from the cli");
  ASSERT_NE(first_line, std::string::npos) << second.output;
  EXPECT_GT(second.output.find("carol: second line"), first_line);
}

TEST(ClientCli, ExplainsWhatIsMissing) {
  server_process server;  // not in dev mode: no tokens for the asking
  const auto no_token = run_cli({"--url", server.ws_url(), "--user", "carol"}, "");
  EXPECT_EQ(no_token.status, 1);
  EXPECT_NE(no_token.output.find("not in development mode"), std::string::npos)
      << no_token.output;

  const auto bad_url = run_cli({"--url", "http://127.0.0.1:1/", "--user", "carol"}, "");
  EXPECT_EQ(bad_url.status, 2);
  EXPECT_NE(bad_url.output.find("not a ws:// or wss:// URL"), std::string::npos)
      << bad_url.output;

  const auto no_arguments = run_cli({}, "");
  EXPECT_EQ(no_arguments.status, 2);
  EXPECT_NE(no_arguments.output.find("usage: parley"), std::string::npos);
}

// The CLI on a pseudo-terminal, as a person runs it: script(1) gives it the terminal, what the
// test types arrives as keystrokes, and what the CLI draws is flushed (-f) to a transcript file.
// timeout --foreground bounds even a hung CLI and keeps it in the terminal's foreground process
// group, where it may switch the terminal to raw mode.
class terminal_cli {
 public:
  explicit terminal_cli(const std::vector<std::string>& args) {
    char screen[] = "/tmp/parley-cli-screen-XXXXXX";
    const int fd = ::mkstemp(screen);
    if (fd < 0) throw std::runtime_error("mkstemp failed");
    ::close(fd);
    screen_ = screen;
    std::string command = cli_command(args, 110);
    command.replace(0, std::string_view("timeout").size(), "timeout --foreground");

    // Keystrokes to a CLI that already died must fail the test, not kill the test binary.
    std::signal(SIGPIPE, SIG_IGN);
    int keyboard[2];
    if (::pipe2(keyboard, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, keyboard[0], STDIN_FILENO);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    std::vector<std::string> argv_text = {"script", "-qfec", command, screen_};
    std::vector<char*> argv;
    for (auto& arg : argv_text) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const int rc = ::posix_spawnp(&pid_, "script", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(keyboard[0]);
    keyboard_ = keyboard[1];
    if (rc != 0) {
      pid_ = -1;
      throw std::runtime_error("spawn script: " + std::string(std::strerror(rc)));
    }
  }

  // A test that failed half-way: end script (and so the CLI, which sees its terminal hang up)
  // by PID, bounded, then SIGKILL.
  ~terminal_cli() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      if (!reap(std::chrono::seconds(10))) {
        ::kill(pid_, SIGKILL);
        reap(std::chrono::seconds(10));
      }
    }
    if (keyboard_ >= 0) ::close(keyboard_);
    ::unlink(screen_.c_str());
  }
  terminal_cli(const terminal_cli&) = delete;
  terminal_cli& operator=(const terminal_cli&) = delete;

  /// Keystrokes, as if typed.
  void type(std::string_view keys) {
    while (!keys.empty()) {
      const auto n = ::write(keyboard_, keys.data(), keys.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("the terminal no longer takes keystrokes");
      keys.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// Everything the CLI has drawn so far.
  std::string screen() const {
    std::ifstream in(screen_);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  /// Polls the transcript until `seen` holds for it; bounded, like every wait here.
  bool wait_for(const std::function<bool(const std::string&)>& seen,
                std::chrono::seconds timeout = std::chrono::seconds(30)) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (seen(screen())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return seen(screen());
  }

  /// Waits until `text` has been drawn at least `times` times.
  bool shows(std::string_view text, std::size_t times = 1,
             std::chrono::seconds timeout = std::chrono::seconds(30)) const {
    return wait_for([&](const std::string& s) { return count_of(s, text) >= times; }, timeout);
  }

  /// Waits until a match of `pattern` has been drawn; the match and its groups (empty if none).
  std::vector<std::string> shows_match(const std::regex& pattern,
                                       std::chrono::seconds timeout = std::chrono::seconds(30))
      const {
    std::vector<std::string> groups;
    wait_for(
        [&](const std::string& s) {
          std::smatch match;
          if (!std::regex_search(s, match, pattern)) return false;
          for (const auto& group : match) groups.push_back(group.str());
          return true;
        },
        timeout);
    return groups;
  }

  /// Types /quit and waits (bounded) for the CLI to exit; its exit code, or -1.
  int quit() {
    type("/quit\n");
    if (!reap(std::chrono::seconds(30))) return -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : -1;
  }

  /// How often `text` occurs in `screen`.
  static std::size_t count_of(const std::string& screen, std::string_view text) {
    std::size_t n = 0;
    for (auto at = screen.find(text); at != std::string::npos; at = screen.find(text, at + 1)) ++n;
    return n;
  }

 private:
  bool reap(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (::waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return true;
      }
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  std::string screen_;
  int keyboard_ = -1;
  pid_t pid_ = -1;
  int status_ = 0;
};

TEST(ClientCli, KeystrokesOnATerminalShowAsTyping) {
  // No expiry during the test: a "stopped typing" can only come from the message.
  server_process server({"--dev", "--typing-expiry-ms", "600000"});
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(bob.start_in("general"));
  terminal_cli dana({"--url", server.ws_url(), "--user", "dana"});

  // Like a person, type once the CLI says it has joined.
  ASSERT_TRUE(dana.shows("joined #general")) << dana.screen();
  dana.type("hi\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 1))) << dana.screen();
  dana.type("still typx\x7f");
  ASSERT_TRUE(bob.wait_until(typing_seen("dana", true))) << dana.screen();
  dana.type("ing\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 2))) << dana.screen();
  ASSERT_TRUE(bob.wait_until(typing_seen("dana", false))) << dana.screen();
  EXPECT_EQ(texts_of(bob.log().in_room("general")),
            (std::vector<std::string>{"hi", "still typing"}));

  EXPECT_EQ(dana.quit(), 0) << dana.screen();
}

TEST(ClientCli, TerminalShowsWhatOthersSayAndWhileTheyType) {
  // No expiry during the test: every "stopped typing" comes from bob himself.
  server_process server({"--dev", "--typing-expiry-ms", "600000"});
  terminal_cli dana({"--url", server.ws_url(), "--user", "dana"});
  ASSERT_TRUE(dana.shows("joined #general")) << dana.screen();
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(bob.start_in("general"));

  bob.chat().set_typing("general", true);
  ASSERT_TRUE(dana.shows("  bob is typing…")) << dana.screen();
  bob.chat().set_typing("general", false);  // bob cleared his input
  ASSERT_TRUE(dana.shows("  bob stopped typing")) << dana.screen();

  bob.chat().set_typing("general", true);
  ASSERT_TRUE(dana.shows("bob is typing…", 2)) << dana.screen();
  bob.chat().send("general", "hello dana");
  EXPECT_FALSE(dana.shows_match(std::regex(R"(\[\d\d:\d\d:\d\d\] bob: hello dana)")).empty())
      << dana.screen();
  // The message itself ends bob's typing, without a line of its own: when bob types again it
  // is shown as new, and "stopped typing" was still drawn only once (for the explicit stop).
  bob.chat().set_typing("general", true);
  ASSERT_TRUE(dana.shows("bob is typing…", 3)) << dana.screen();
  EXPECT_EQ(terminal_cli::count_of(dana.screen(), "bob stopped typing"), 1u) << dana.screen();

  // And dana's answer reaches bob.
  dana.type("hi bob\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 2))) << dana.screen();
  EXPECT_EQ(texts_of(bob.log().in_room("general")),
            (std::vector<std::string>{"hello dana", "hi bob"}));
  EXPECT_EQ(dana.quit(), 0) << dana.screen();
}

// Local "HH:MM" of every minute from `from` to `to`: what a last-seen stamp in between may show.
std::set<std::string> minutes_between(std::chrono::system_clock::time_point from,
                                      std::chrono::system_clock::time_point to) {
  std::set<std::string> minutes;
  const auto add = [&](std::chrono::system_clock::time_point when) {
    const std::time_t t = std::chrono::system_clock::to_time_t(when);
    std::tm local{};
    ::localtime_r(&t, &local);
    char text[16];
    std::strftime(text, sizeof text, "%H:%M", &local);
    minutes.insert(text);
  };
  for (auto when = from; when < to; when += std::chrono::minutes(1)) add(when);
  add(to);
  return minutes;
}

TEST(ClientCli, TerminalShowsOthersComingOnlineAndGoingOfflineWithLastSeen) {
  // A short grace, so that bob's offline is announced soon after he leaves.
  server_process server({"--dev", "--presence-grace-ms", "300"});
  terminal_cli dana({"--url", server.ws_url(), "--user", "dana"});
  ASSERT_TRUE(dana.shows("joined #general")) << dana.screen();

  const auto before_leaving = std::chrono::system_clock::now();
  {
    recorded_client bob(server.ws_url(), "bob");
    ASSERT_TRUE(bob.start_in("general"));
    ASSERT_TRUE(dana.shows("bob is online")) << dana.screen();
  }  // bob's client closes its connection here

  const auto offline = dana.shows_match(std::regex(R"(bob is offline \(last seen (\d\d:\d\d)\))"));
  const auto seen_by = std::chrono::system_clock::now();
  ASSERT_FALSE(offline.empty()) << dana.screen();
  const auto allowed = minutes_between(before_leaving, seen_by);
  EXPECT_TRUE(allowed.contains(offline[1]))
      << "last seen " << offline[1] << " is not when bob left\n" << dana.screen();
  // Offline once, and dana never reports herself.
  EXPECT_EQ(terminal_cli::count_of(dana.screen(), "bob is offline"), 1u) << dana.screen();
  EXPECT_EQ(terminal_cli::count_of(dana.screen(), "dana is "), 0u) << dana.screen();
  EXPECT_EQ(dana.quit(), 0) << dana.screen();
}

TEST(ClientCli, TerminalReconnectsByItselfAndDeliversWhatWasTypedWhileTheServerWasDown) {
  server_process server({"--dev"});
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(bob.start_in("general"));
  terminal_cli carol({"--url", server.ws_url(), "--user", "carol"});
  ASSERT_TRUE(carol.shows("joined #general")) << carol.screen();
  carol.type("before the crash\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 1))) << carol.screen();

  server.kill_hard();
  EXPECT_FALSE(carol.shows_match(std::regex(R"(disconnected; reconnecting in \d+\.\d s)")).empty())
      << carol.screen();
  // Typed while there is no server: queued, and the prompt says so.
  carol.type("sent while down\n");
  EXPECT_TRUE(carol.wait_for([](const std::string& s) {
    const auto sending = s.find("(sending…) sent while down");
    return sending != std::string::npos &&
           s.find("#general (1 unsent)> ", sending) != std::string::npos;
  })) << carol.screen();

  // Same port, same data folder. The CLI's backoff (500 ms doubling, full jitter) may be a
  // few seconds into its schedule by now: a generous bound.
  server.restart();
  ASSERT_TRUE(carol.shows("connected as carol", 2, std::chrono::seconds(60))) << carol.screen();
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 2), std::chrono::seconds(60)))
      << carol.screen();
  carol.type("after the restart\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 3))) << carol.screen();
  ASSERT_TRUE(carol.shows("carol: after the restart")) << carol.screen();

  // Exactly once, in order: for bob, in the room's log, and on carol's own screen.
  const std::vector<std::string> expected = {"before the crash", "sent while down",
                                             "after the restart"};
  const auto delivered = bob.log().in_room("general");
  EXPECT_EQ(texts_of(delivered), expected);
  EXPECT_TRUE(consecutive_from(1, delivered));
  EXPECT_EQ(texts_of(bob.read_room("general")), expected);
  EXPECT_EQ(terminal_cli::count_of(carol.screen(), "carol: sent while down"), 1u)
      << carol.screen();
  // Once acked, the prompt drops its unsent count.
  EXPECT_TRUE(carol.wait_for([](const std::string& s) {
    return s.find("#general> ", s.rfind("#general (1 unsent)> ")) != std::string::npos;
  })) << carol.screen();
  EXPECT_EQ(carol.quit(), 0) << carol.screen();
}

}  // namespace
}  // namespace parley::test
