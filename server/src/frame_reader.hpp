// The read side of a WebSocket connection (RFC 6455 §5), server role, sans-I/O: bytes from the
// client in, messages and control frames out. It replaces Beast's websocket::stream, whose
// per-connection state (a fixed 1.5 KiB read buffer and a pending read operation of ~1 KiB)
// cost more than everything else an idle connection holds. Here an idle connection holds
// nothing but a few words: bytes are parsed where the driver read them, unmasked in place, and
// only the tail of a frame that has not fully arrived is kept.
//
// It is strict, as a server must be with clients (RFC 6455 §5.1–§5.5, §7.4): frames must be
// masked, RSV bits clear (no extension is negotiated), opcodes known, lengths minimally
// encoded, control frames short and unfragmented, fragments in order, close codes valid and
// close reasons UTF-8. A text message fails at once with 1003: Parley frames are binary
// (PROTOCOL.md §1). A message over `max_message` bytes fails with 1009 as soon as its header
// says so, before any of it is buffered. After a close or a failure the reader is done and
// ignores the rest.
//
// The usual loop:
//   reader.handle_input(bytes);
//   while (const auto event = reader.poll_event()) { ... }
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace parley::server {

/// Close codes the reader fails a connection with (RFC 6455 §7.4.1).
namespace ws_close {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
/// Reported for a close frame without a code; never sent.
inline constexpr std::uint16_t no_status = 1005;
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t too_big = 1009;
}  // namespace ws_close

/// What the client sent, one complete unit at a time.
struct frame_event {
  enum class kind {
    message,  // a complete binary message (its fragments joined): `payload`
    ping,     // answer with a pong carrying `payload`
    pong,     // nothing to do
    close,    // the client's close frame: `code` (1005 if it gave none) and `payload` (reason)
    fail,     // the client broke the protocol: close with `code`; `payload` says why (for logs)
  };
  kind type;
  /// Valid until the next call to handle_input or poll_event.
  std::string_view payload;
  std::uint16_t code = 0;
};

/// Parses client frames; see the file comment.
class frame_reader {
 public:
  /// `max_message`: the largest message accepted, fragments included (max_frame).
  explicit frame_reader(std::size_t max_message) : max_message_(max_message) {}

  /// Takes the next bytes read from the client. They are unmasked in place, and events may
  /// point into them, so they must stay untouched until poll_event returns nothing. Call only
  /// once the previous input has been polled to the end.
  void handle_input(std::span<char> bytes);
  /// The next event from the input, or nothing once the input is used up (the incomplete rest
  /// of a frame is then kept for the next input). Nothing, always, once a close or failure has
  /// been returned.
  std::optional<frame_event> poll_event();

  /// A close or failure has been returned: nothing more will be parsed.
  bool done() const { return done_; }
  /// Bytes kept between inputs: a partial frame and the fragments of an unfinished message.
  std::size_t buffered() const { return partial_.size() + message_.size(); }

 private:
  /// Unmasks and handles the complete frame at the cursor; nothing if it produced no event.
  std::optional<frame_event> take_frame(std::size_t header_size, std::size_t length,
                                        const unsigned char* mask, bool fin, int opcode);
  frame_event fail(std::uint16_t code, std::string_view why);
  /// Keeps the unparsed rest of the input for the next handle_input.
  void keep_rest();

  std::size_t max_message_;
  // The bytes being parsed: the caller's input, or partial_ when a frame straddles inputs.
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::size_t cursor_ = 0;
  bool in_partial_ = false;
  // Head of a frame (or a frame) that had not fully arrived when its input ran out.
  std::string partial_;
  // The fragments so far of a message sent in several frames.
  std::string message_;
  bool fragmented_ = false;   // a message's first frame has come without FIN
  bool message_out_ = false;  // message_ was handed out and is cleared on the next call
  bool done_ = false;
};

}  // namespace parley::server
