// A minimal WebSocket client speaking the raw protocol (proto::encode / decode_frame), so the
// server suite tests the wire itself and not the SDK. It reads on a background thread into an
// inbox; tests wait for messages with deadlines. Also a one-shot HTTP request helper.
#pragma once

#include "parley/protocol/codec.hpp"
#include "parley/protocol/messages.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

/// How long a test waits for an answer that should come at once.
inline constexpr std::chrono::milliseconds reply_wait{5000};

/// How a WebSocket ended, as seen by the client.
struct close_info {
  std::uint16_t code = 0;  // close code from the server's close frame; 0 if none arrived
  std::string error;       // the read error that ended the connection
};

/// Connection options.
struct wire_options {
  int receive_buffer = 0;   // SO_RCVBUF before connecting; 0 = system default
  bool read = true;         // false: do not read at all (a stalled consumer) until resume_reading
  bool keep_pings = false;  // deliver server pings to next() instead of dropping them
};

/// One raw protocol connection to ws://127.0.0.1:<port>/ws.
class wire_client {
 public:
  /// Connects and completes the WebSocket handshake (bounded by reply_wait); throws on failure.
  explicit wire_client(std::uint16_t port, wire_options options = {});
  ~wire_client();
  wire_client(const wire_client&) = delete;
  wire_client& operator=(const wire_client&) = delete;

  /// Sends one message as its own binary frame.
  void send(const proto::message& message);
  /// Sends several messages batched in one frame.
  void send_batch(const std::vector<proto::message>& messages);
  /// Sends `bytes` as one binary frame, whatever they are.
  void send_raw(std::string bytes);
  /// Sends hello with `token` and returns the welcome; throws if anything else arrives.
  proto::welcome hello(const std::string& token);

  /// The next received message, or nullopt after `timeout` (or once closed and drained).
  std::optional<proto::message> next(std::chrono::milliseconds timeout = reply_wait);
  /// The next message, which must be a T; throws (naming what came instead) otherwise.
  /// Presence is ephemeral and may arrive between any two messages (a member coming online,
  /// a newcomer introduced), so it is passed over unless T is presence itself.
  template <class T>
  T expect(std::chrono::milliseconds timeout = reply_wait) {
    auto message = next(timeout);
    if constexpr (!std::is_same_v<T, proto::presence>) {
      while (message && std::holds_alternative<proto::presence>(*message)) message = next(timeout);
    }
    if (message) {
      if (auto* wanted = std::get_if<T>(&*message)) return std::move(*wanted);
    }
    throw std::runtime_error(describe_unexpected(message, proto::type_of(proto::message{T{}})));
  }
  /// Waits until the connection has ended; nullopt if it is still open after `timeout`.
  std::optional<close_info> wait_closed(std::chrono::milliseconds timeout = reply_wait);
  /// Starts reading (for a client created with read = false).
  void resume_reading();

 private:
  static std::string describe_unexpected(const std::optional<proto::message>& got,
                                         std::uint32_t wanted);
  struct state;
  std::unique_ptr<state> state_;
};

/// An HTTP answer.
struct http_result {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

/// One HTTP/1.1 request to 127.0.0.1:<port> (bounded by reply_wait); `bearer` adds an
/// Authorization header when non-empty.
http_result http_request(std::uint16_t port, const std::string& method, const std::string& target,
                         const std::string& bearer = {});

/// One WebSocket frame as a raw_socket reads it from the server.
struct ws_frame {
  std::uint8_t opcode = 0;  // 1 text, 2 binary, 8 close, 9 ping, 10 pong
  std::string payload;
};

/// A plain TCP connection for what wire_client cannot send: broken HTTP, hand-made WebSocket
/// frames (fragments, headers that lie about their length), writes to a peer that stopped
/// reading. No thread: a non-blocking socket driven by poll, every call bounded by a timeout.
class raw_socket {
 public:
  /// Connects to 127.0.0.1:<port>; throws on failure. `receive_buffer`: SO_RCVBUF set before
  /// connecting (0 = system default), to make a peer that stops reading back up sooner.
  explicit raw_socket(std::uint16_t port, int receive_buffer = 0);
  ~raw_socket();
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  /// Writes all of `bytes`; false if the peer closed or reset first, or `timeout` passed.
  bool write(std::string_view bytes, std::chrono::milliseconds timeout = reply_wait);
  /// Everything the peer sends until it closes or `timeout` passes (see closed()).
  std::string read_until_closed(std::chrono::milliseconds timeout = reply_wait);
  /// An HTTP response head (through the blank line), or what arrived before close/timeout.
  std::string read_http_head(std::chrono::milliseconds timeout = reply_wait);
  /// True once a read saw the peer close or reset the connection.
  bool closed() const { return closed_; }

  /// Sends a WebSocket upgrade request for `path`; true if the answer is 101.
  bool upgrade(const std::string& path = "/ws");
  /// Sends one masked client frame; `fin` false starts or continues a fragmented message.
  bool send_frame(std::uint8_t opcode, std::string_view payload, bool fin = true);
  /// Sends only the (masked) header of a frame announcing `length` payload bytes.
  bool send_frame_header(std::uint8_t opcode, std::uint64_t length, bool fin = true);
  /// The next frame from the server; nullopt on timeout or once the connection ended.
  std::optional<ws_frame> read_frame(std::chrono::milliseconds timeout = reply_wait);
  /// Reads frames until a close frame and returns its code (1005 if it carries none), 0 if
  /// the connection ended without one, nullopt if still open after `timeout`.
  std::optional<std::uint16_t> read_close_code(std::chrono::milliseconds timeout = reply_wait);

 private:
  /// Reads what is available into pending_ (waiting up to `until`); false on close/timeout.
  bool fill(std::chrono::steady_clock::time_point until);

  int fd_ = -1;
  std::string pending_;  // received, not yet consumed
  bool closed_ = false;
};

}  // namespace parley::test
