// The terminal side of the CLI: raw keyboard mode, stdin that a signal can interrupt, a small
// line editor, and output that keeps the line being typed below the chat.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <termios.h>

namespace parley::cli {

/// Non-canonical, no-echo input on a TTY for the object's lifetime (keystrokes arrive one by
/// one, so typing notifications can follow them). Signals stay enabled: Ctrl-C still quits.
class raw_mode {
 public:
  explicit raw_mode(int fd);
  ~raw_mode();
  raw_mode(const raw_mode&) = delete;
  raw_mode& operator=(const raw_mode&) = delete;

 private:
  int fd_;
  termios saved_{};
};

/// Reads standard input; SIGINT, SIGTERM and SIGHUP end the reading instead of the process, so
/// destructors (raw_mode's above all) still run.
class stdin_reader {
 public:
  stdin_reader();
  ~stdin_reader();
  stdin_reader(const stdin_reader&) = delete;
  stdin_reader& operator=(const stdin_reader&) = delete;

  /// The next chunk of input; nullopt at end of input or after a termination signal.
  std::optional<std::string> read();
  /// A termination signal ended the input.
  bool interrupted() const { return interrupted_; }

 private:
  bool interrupted_ = false;
};

/// The line being typed. Feed it bytes; it reports what changed.
class line_editor {
 public:
  enum class outcome { unchanged, edited, submitted, end_of_input };

  /// Printable bytes (UTF-8 included) append, backspace erases one character, Enter submits,
  /// Ctrl-D on an empty line ends input; other control keys and escape sequences are ignored.
  outcome feed(char byte);
  /// Text typed so far.
  const std::string& text() const { return text_; }
  /// The submitted line; the editor starts over empty.
  std::string take();

 private:
  enum class escape { none, started, csi };  // ESC, then ESC [ parameters... final byte
  std::string text_;
  escape escape_ = escape::none;
};

/// Standard output shared by the chat (client thread) and the input loop. Interactive, chat
/// lines are printed above an input line that is redrawn after each of them.
class console {
 public:
  explicit console(bool interactive) : interactive_(interactive) {}
  /// Erases the input line, so the shell's prompt starts on a clean line.
  ~console();
  console(const console&) = delete;
  console& operator=(const console&) = delete;
  /// Print one chat or status line.
  void print(std::string_view line);
  /// Replace the prompt (room, unsent count) and redraw.
  void set_prompt(std::string prompt);
  /// Replace the text shown after the prompt and redraw.
  void set_input(std::string text);

 private:
  void redraw_input();  // caller holds mutex_

  std::mutex mutex_;
  bool interactive_;
  std::string prompt_;
  std::string input_;
};

}  // namespace parley::cli
