// The `parley` CLI against the real server: scripted (stdin a file) and on a terminal.
#include "client_recorder.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>

namespace parley::test {
namespace {

struct cli_run {
  int status = -1;
  std::string output;  // stdout and stderr together
};

// A shell command running PARLEY_CLI_BIN under timeout(1), which bounds even a hung run.
std::string cli_command(const std::vector<std::string>& args) {
  std::string command = "timeout 60 '" PARLEY_CLI_BIN "'";
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

// What the CLI has drawn on its terminal so far (script(1) writes it through to a file).
std::string read_screen(const std::string& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Polls the transcript until `text` appears: bounded, like every wait here.
bool screen_shows(const std::string& path, std::string_view text) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (read_screen(path).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

TEST(ClientCli, KeystrokesOnATerminalShowAsTyping) {
  // No expiry during the test: a "stopped typing" can only come from the message.
  server_process server({"--dev", "--typing-expiry-ms", "600000"});
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(bob.start_in("general"));

  // script(1) gives the CLI a pseudo-terminal; what the test writes arrives as keystrokes, and
  // what the CLI draws is flushed (-f) to `screen`. --foreground keeps the CLI in the
  // terminal's foreground process group, where it may switch the terminal to raw mode.
  char screen[] = "/tmp/parley-cli-screen-XXXXXX";
  const int fd = ::mkstemp(screen);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::string command = cli_command({"--url", server.ws_url(), "--user", "dana"});
  command.replace(0, std::string_view("timeout").size(), "timeout --foreground");
  command = "script -qfec \"" + command + "\" '" + screen + "' > /dev/null 2>&1";
  FILE* keyboard = ::popen(command.c_str(), "w");
  ASSERT_NE(keyboard, nullptr);
  const auto type = [keyboard](std::string_view keys) {
    std::fwrite(keys.data(), 1, keys.size(), keyboard);
    std::fflush(keyboard);
  };

  // Like a person, type once the CLI says it has joined.
  ASSERT_TRUE(screen_shows(screen, "joined #general")) << read_screen(screen);
  type("hi\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 1))) << read_screen(screen);
  type("still typx\x7f");
  ASSERT_TRUE(bob.wait_until(typing_seen("dana", true))) << read_screen(screen);
  type("ing\n");
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", 2))) << read_screen(screen);
  ASSERT_TRUE(bob.wait_until(typing_seen("dana", false))) << read_screen(screen);
  EXPECT_EQ(texts_of(bob.log().in_room("general")),
            (std::vector<std::string>{"hi", "still typing"}));

  type("/quit\n");
  const int status = ::pclose(keyboard);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << read_screen(screen);
  ::unlink(screen);
}

}  // namespace
}  // namespace parley::test
