// The Parley native client: the client engine driven over Boost.Asio/Beast (ws:// and wss://)
// behind a small thread-safe C++ API.
//
//   namespace pc = parley::client;
//   pc::client_callbacks cb;
//   cb.on_message = [](const parley::proto::room_event& e) { std::cout << e.text << '\n'; };
//   pc::chat_client chat({.url = "ws://127.0.0.1:8080/ws", .token = jwt}, cb);
//   chat.start();
//   chat.join("general");
//   auto sent = chat.send("general", "hello");   // sent.cid now, sent.acked.get() once durable
//
// Threading rules:
// - A chat_client owns one I/O thread, from construction to destruction; the engine, the
//   socket and the timer live on it.
// - Every public method is thread-safe: it runs on the client's thread and returns once the
//   engine has taken the command (inline when called from a callback).
// - Callbacks run on the client's thread, one at a time, in the order the engine produced the
//   events. They must not block (never wait on a `pending_send::acked` future there) and must
//   not throw; they may call the client's methods.
// - The destructor stops the client (a close frame is sent if connected) and joins the thread,
//   so never destroy a client from inside one of its own callbacks.
//
// Delivery: messages reach on_message in seq order, exactly once per (room, epoch, seq), across
// reconnects. Sends survive reconnects in the outbox with their client id, so each one takes
// effect exactly once; export_outbox/import_outbox carry unsent messages across a restart.
#pragma once

#include "parley/client/engine.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

namespace parley::client {

/// TLS settings for wss:// URLs. Certificates are verified against the system trust store and
/// the URL's host name unless told otherwise.
struct tls_options {
  /// PEM file of extra trusted CA certificates (a private CA, a test certificate).
  std::string ca_file{};
  /// Accept any certificate for any host. Only for throwaway local setups: anyone on the
  /// network path can then read and forge the conversation.
  bool dangerously_skip_verification = false;
};

/// Client settings; only url and token are required (`{}`: see client_callbacks).
struct client_options {
  std::string url{};    // ws://host:port/path or wss://host[:port]/path
  std::string token{};  // JWT for hello; replace later with set_token()
  std::string client_name = "parley-cpp/0.1";  // sent in hello, shows in server logs
  tls_options tls{};
  proto::backoff_policy backoff{};            // reconnect delays; tests shrink them
  std::chrono::milliseconds connect_timeout{10000};  // open + handshake + welcome
  std::size_t max_outbox = 1000;  // unacknowledged sends held before send() refuses
};

/// Connection state, with the next attempt's time while backing off.
struct connection_status {
  connection_state state = connection_state::idle;
  std::chrono::steady_clock::time_point retry_at{};  // when backing_off
  proto::error_code reason{};                        // when failed
};

/// Something the server refused: a request (join, history, ...) or a send.
struct client_error {
  std::uint32_t request = 0;  // id returned by the refused request; 0 for a send
  std::string room{};
  std::string cid{};          // the refused send's client id; it has left the outbox
  proto::error_code code{};
  std::string message{};      // human-readable, not for matching
};

/// App callbacks; any may be left empty. See the threading rules above. (The `{}` lets apps
/// set a few with designated initializers without -Wmissing-field-initializers warnings.)
struct client_callbacks {
  /// A room event, in seq order, exactly once.
  std::function<void(const proto::room_event&)> on_message{};
  /// One of this client's sends is durable (also for sends restored by import_outbox).
  std::function<void(const message_acked&)> on_ack{};
  /// Someone started or stopped typing (or their typing expired).
  std::function<void(const typing_changed&)> on_typing{};
  /// A user's presence changed.
  std::function<void(const proto::presence_entry&)> on_presence{};
  /// The connection state changed.
  std::function<void(const connection_status&)> on_state{};
  /// A join (or a rejoin after a reconnect) succeeded; members carry their presence.
  std::function<void(const room_joined&)> on_room_joined{};
  /// A room's log could not be resumed: drop local copies and reload with fetch_history.
  std::function<void(const room_reset&)> on_room_reset{};
  /// Answer to fetch_history.
  std::function<void(const history_loaded&)> on_history{};
  /// Answer to list_rooms.
  std::function<void(const rooms_listed&)> on_rooms{};
  /// A leave, create_room, add_member or token refresh succeeded.
  std::function<void(std::uint32_t request)> on_done{};
  /// The server refused a request or a send.
  std::function<void(const client_error&)> on_error{};
  /// A connection attempt failed or a connection dropped (for logs); the client retries.
  std::function<void(const std::string& why)> on_transport_error{};
};

/// The server refused a send, or the outbox was full (code limit_exceeded).
class send_refused : public std::runtime_error {
 public:
  explicit send_refused(client_error e);
  /// What was refused and why.
  const client_error& error() const { return error_; }

 private:
  client_error error_;
};

/// A queued message: its client id now, its acknowledgement later.
struct pending_send {
  std::string cid;  // empty if the outbox was full
  /// Ready with the ack once the message is durable; holds send_refused if it was refused,
  /// broken_promise if the client was destroyed first.
  std::future<message_acked> acked;
};

class engine_driver;

/// One user's connection to a Parley server; reconnects and resumes by itself until stop().
class chat_client {
 public:
  /// Throws std::invalid_argument for a malformed URL and std::system_error for unusable TLS
  /// settings (unreadable CA file). Does not connect before start().
  explicit chat_client(client_options options, client_callbacks callbacks = {});
  /// Stops (close frame if connected) and joins the client's thread.
  ~chat_client();
  chat_client(const chat_client&) = delete;
  chat_client& operator=(const chat_client&) = delete;

  /// Connect, and keep reconnecting with backoff until stop().
  void start();
  /// Close the connection and stay idle; the outbox and joined rooms are kept.
  void stop();
  /// Token for future handshakes; refreshed in-protocol when connected. After an auth failure
  /// call start() again.
  void set_token(std::string token);

  /// Join a room and keep it joined across reconnects; returns the request id.
  std::uint32_t join(std::string room);
  /// Leave a room; returns the request id.
  std::uint32_t leave(std::string room);
  /// Queue a message for delivery (now or after the next reconnect).
  pending_send send(std::string room, std::string text);
  /// Typing state from the UI: true on each keystroke (throttled here), false when cleared.
  void set_typing(std::string room, bool typing);
  /// Own presence (online or away).
  void set_presence(proto::presence_status status);
  /// Up to `limit` events before seq `before` (0: the newest); answered by on_history.
  std::uint32_t fetch_history(std::string room, std::uint64_t before = 0,
                              std::uint32_t limit = 50);
  /// Rooms visible to the user; answered by on_rooms.
  std::uint32_t list_rooms();
  /// Create a public or private room (the creator becomes a member); answered by on_done.
  std::uint32_t create_room(std::string room, bool is_private);
  /// Add a user to a private room; answered by on_done.
  std::uint32_t add_member(std::string room, std::string user);

  /// Unacknowledged sends as bytes the app may store (format in docs/PROTOCOL.md).
  std::string export_outbox() const;
  /// Restore sends from export_outbox(), keeping their client ids so that each takes effect
  /// once; false (nothing changed) if the bytes are not an export.
  bool import_outbox(std::string_view bytes);

  /// Current connection state.
  connection_state state() const;
  /// User id from the last welcome; empty before the first.
  std::string user() const;

 private:
  std::unique_ptr<engine_driver> driver_;
};

}  // namespace parley::client
