#include "terminal.hpp"

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <poll.h>
#include <system_error>
#include <unistd.h>

namespace parley::cli {

namespace {

// Self-pipe: the handler may only do async-signal-safe things, so it writes one byte that
// wakes the poll() in stdin_reader::read(). One reader exists per process.
int signal_pipe[2] = {-1, -1};
constexpr std::array<int, 3> quit_signals = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_quit_signal(int) {
  const char byte = 1;
  [[maybe_unused]] auto ignored = ::write(signal_pipe[1], &byte, 1);
}

// Carriage return, then ANSI "erase in line".
constexpr const char* erase_line = "\r\033[K";

std::system_error os_error(const char* what) {
  return std::system_error(errno, std::generic_category(), what);
}

}  // namespace

raw_mode::raw_mode(int fd) : fd_(fd) {
  if (::tcgetattr(fd_, &saved_) != 0) throw os_error("tcgetattr");
  termios raw = saved_;
  raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO);
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  if (::tcsetattr(fd_, TCSANOW, &raw) != 0) throw os_error("tcsetattr");
}

raw_mode::~raw_mode() { ::tcsetattr(fd_, TCSANOW, &saved_); }

stdin_reader::stdin_reader() {
  if (::pipe2(signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) throw os_error("pipe2");
  struct sigaction action {};
  action.sa_handler = on_quit_signal;
  ::sigemptyset(&action.sa_mask);
  for (int sig : quit_signals) ::sigaction(sig, &action, nullptr);
}

stdin_reader::~stdin_reader() {
  for (int sig : quit_signals) std::signal(sig, SIG_DFL);
  ::close(signal_pipe[0]);
  ::close(signal_pipe[1]);
}

std::optional<std::string> stdin_reader::read() {
  std::array<pollfd, 2> watched{{{STDIN_FILENO, POLLIN, 0}, {signal_pipe[0], POLLIN, 0}}};
  for (;;) {
    if (::poll(watched.data(), watched.size(), -1) < 0) {
      if (errno == EINTR) continue;  // the handler has written to the pipe; poll again sees it
      throw os_error("poll");
    }
    if (watched[1].revents != 0) {
      interrupted_ = true;
      return std::nullopt;
    }
    std::array<char, 4096> chunk;
    const auto n = ::read(STDIN_FILENO, chunk.data(), chunk.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    return std::string(chunk.data(), static_cast<std::size_t>(n));
  }
}

line_editor::outcome line_editor::feed(char byte) {
  const auto c = static_cast<unsigned char>(byte);
  switch (escape_) {
    case escape::started:
      escape_ = c == '[' ? escape::csi : escape::none;
      return outcome::unchanged;
    case escape::csi:
      if (c >= 0x40 && c <= 0x7e) escape_ = escape::none;  // the final byte of the sequence
      return outcome::unchanged;
    case escape::none:
      break;
  }
  if (c == '\n' || c == '\r') return outcome::submitted;
  if (c == 0x04) return text_.empty() ? outcome::end_of_input : outcome::unchanged;  // Ctrl-D
  if (c == 0x7f || c == 0x08) {  // backspace: one whole UTF-8 character
    if (text_.empty()) return outcome::unchanged;
    while ((static_cast<unsigned char>(text_.back()) & 0xC0) == 0x80 && text_.size() > 1) {
      text_.pop_back();
    }
    text_.pop_back();
    return outcome::edited;
  }
  if (c == 0x1b) {
    escape_ = escape::started;
    return outcome::unchanged;
  }
  if (c < 0x20) return outcome::unchanged;
  text_ += byte;
  return outcome::edited;
}

std::string line_editor::take() {
  std::string line = std::move(text_);
  text_.clear();
  return line;
}

console::~console() {
  if (interactive_) std::fputs(erase_line, stdout);
  std::fflush(stdout);
}

void console::print(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (interactive_) std::fputs(erase_line, stdout);  // the chat line takes the input's place
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  redraw_input();
}

void console::set_prompt(std::string prompt) {
  std::lock_guard lock(mutex_);
  prompt_ = std::move(prompt);
  redraw_input();
}

void console::set_input(std::string text) {
  std::lock_guard lock(mutex_);
  input_ = std::move(text);
  redraw_input();
}

void console::redraw_input() {
  if (interactive_) {
    std::fputs(erase_line, stdout);
    std::fputs(prompt_.c_str(), stdout);
    std::fwrite(input_.data(), 1, input_.size(), stdout);
  }
  std::fflush(stdout);
}

}  // namespace parley::cli
