// parley: a terminal chat on the native SDK.
//
//   parley [--url ws://127.0.0.1:8080/ws] --user alice [--tenant default] [--room general]
//          [--token JWT] [--ca-file PEM] [--dangerously-skip-tls-verify]
//
// On a TTY keystrokes are read one by one (typing notifications follow them); otherwise each
// line of standard input is sent as a message and the program exits once all are acknowledged.
#include "chat_view.hpp"
#include "dev_token.hpp"
#include "terminal.hpp"

#include "parley/client/client.hpp"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <unistd.h>

namespace {

using namespace parley;

constexpr const char* usage =
    "usage: parley --user NAME [--url ws://127.0.0.1:8080/ws] [--tenant default] [--room general]\n"
    "              [--token JWT] [--ca-file PEM] [--dangerously-skip-tls-verify]\n"
    "Without --token a development token is requested from a server started with --dev.\n";

constexpr const char* help =
    "commands: /join ROOM  /rooms  /quit  (anything else is sent to the current room)";

// How long the server may take, once input has ended, to acknowledge what was sent.
constexpr std::chrono::seconds drain_timeout{30};

struct arguments {
  // The README's run command starts the server here.
  std::string url = "ws://127.0.0.1:8080/ws";
  std::string user;
  std::string tenant = "default";
  std::string room = "general";
  std::string token;
  client::tls_options tls;
};

std::optional<arguments> parse_arguments(int argc, char** argv) {
  arguments args;
  const std::pair<const char*, std::string*> valued[] = {
      {"--url", &args.url},       {"--user", &args.user},   {"--tenant", &args.tenant},
      {"--room", &args.room},     {"--token", &args.token}, {"--ca-file", &args.tls.ca_file}};
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--dangerously-skip-tls-verify") {
      args.tls.dangerously_skip_verification = true;
      continue;
    }
    std::string* target = nullptr;
    for (const auto& [name, field] : valued) {
      if (flag == name) target = field;
    }
    if (target == nullptr || i + 1 == argc) return std::nullopt;
    *target = argv[++i];
  }
  if (args.url.empty() || (args.user.empty() && args.token.empty())) return std::nullopt;
  return args;
}

// Runs one typed line; false when the user asked to quit.
bool run_line(const std::string& line, client::chat_client& chat, cli::chat_view& view) {
  if (line.empty()) return true;
  if (line == "/quit") return false;
  if (line == "/rooms") {
    chat.list_rooms();
  } else if (line.starts_with("/join ")) {
    const std::string room = line.substr(6);
    view.enter_room(room);
    chat.join(room);
  } else if (line.front() == '/') {
    view.notice(help);
  } else {
    const std::string room = view.room();
    view.sending(line);
    chat.send(room, line);
  }
  return true;
}

// Keystrokes drive the line editor and the typing notifications.
void run_interactive(client::chat_client& chat, cli::chat_view& view, cli::console& out,
                     cli::stdin_reader& input) {
  cli::raw_mode raw(STDIN_FILENO);
  cli::line_editor editor;
  view.notice(help);
  while (auto chunk = input.read()) {
    for (char byte : *chunk) {
      switch (editor.feed(byte)) {
        case cli::line_editor::outcome::edited: {
          const std::string& text = editor.text();
          out.set_input(text);
          chat.set_typing(view.room(), !text.empty() && text.front() != '/');
          break;
        }
        case cli::line_editor::outcome::submitted:
          out.set_input("");
          if (!run_line(editor.take(), chat, view)) return;
          break;
        case cli::line_editor::outcome::end_of_input:
          return;
        case cli::line_editor::outcome::unchanged:
          break;
      }
    }
  }
}

// Each input line is a message or a command; a last line without a newline counts too.
void run_script(client::chat_client& chat, cli::chat_view& view, cli::stdin_reader& input) {
  std::string pending;
  while (auto chunk = input.read()) {
    pending += *chunk;
    for (auto end = pending.find('\n'); end != std::string::npos; end = pending.find('\n')) {
      std::string line = pending.substr(0, end);
      pending.erase(0, end + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!run_line(line, chat, view)) return;
    }
  }
  run_line(pending, chat, view);
}

int run(const arguments& args) {
  const auto where = client::parse_endpoint(args.url);
  if (!where) {
    std::cerr << "parley: not a ws:// or wss:// URL: " << args.url << '\n';
    return 2;
  }
  client::client_options options{.url = args.url, .token = args.token, .tls = args.tls};
  if (options.token.empty()) options.token = cli::fetch_dev_token(*where, args.user, args.tenant);

  const bool interactive = ::isatty(STDIN_FILENO) == 1;
  cli::console out(interactive);
  cli::chat_view view(out);
  client::chat_client chat(options, view.callbacks());
  view.attach(chat);
  view.enter_room(args.room);
  chat.start();
  chat.join(args.room);

  bool interrupted = false;
  {
    cli::stdin_reader input;
    if (interactive) {
      run_interactive(chat, view, out, input);
    } else {
      run_script(chat, view, input);
    }
    interrupted = input.interrupted();
  }
  // Quitting normally lets queued messages go out (and a script see the history). A signal
  // means "now", also during that wait: the reader is gone and signals kill as usual again.
  if (!interrupted && !view.wait_until_idle(std::chrono::steady_clock::now() + drain_timeout)) {
    std::cerr << "parley: exiting with messages or history not delivered\n";
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const auto args = parse_arguments(argc, argv);
  if (!args) {
    std::cerr << usage;
    return 2;
  }
  try {
    return run(*args);
  } catch (const std::exception& e) {
    std::cerr << "parley: " << e.what() << '\n';
    return 1;
  }
}
