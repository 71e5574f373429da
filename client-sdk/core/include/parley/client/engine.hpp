// The Parley client engine: every client rule (connect, auth, rooms, outbox, resume, gap fill,
// typing, presence, heartbeat, reconnect backoff) as a sans-I/O state machine.
//
// It owns no socket, no clock and no thread. A driver (native Asio, browser, test harness)
// runs this loop:
//
//   engine e(cfg);
//   e.start(now);                       // or any command
//   loop:
//     while (auto op = e.poll_transport()) perform it   // open / send bytes / close
//     while (auto ev = e.poll_event()) hand it to the app
//     arm the one timer for e.poll_timeout()
//     wait for: transport opened  -> e.handle_open(now)
//               bytes received    -> e.handle_bytes(bytes, now)
//               transport closed  -> e.handle_close(now)
//               timer fired       -> e.handle_timeout(now)
//               app command       -> e.join(...), e.send_message(...), ...
//
// After every input or command, drain poll_transport() and poll_event() and re-arm the timer.
// An early handle_timeout does nothing. Everything is deterministic for a given seed and
// sequence of inputs, so tests run it on a virtual clock.
#pragma once

#include "parley/client/outbox.hpp"
#include "parley/protocol/codec.hpp"
#include "parley/protocol/messages.hpp"
#include "parley/protocol/rules.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::client {

using proto::millis;

/// Engine settings chosen by the app (server settings arrive in welcome).
struct engine_config {
  std::string token;                  // JWT; replace with set_token()
  std::string client_name = "parley-sdk/1";
  std::uint64_t seed = 0;             // randomness for client ids and jitter; driver supplies
  proto::backoff_policy backoff{};    // reconnect delays
  millis connect_timeout{10000};      // open + welcome must complete within this
  std::size_t max_outbox = 1000;      // un-acked sends held; send_message fails beyond
};

/// Connection state as the app sees it.
enum class connection_state {
  idle,         // not started, or stopped by the app
  connecting,   // transport opening
  handshaking,  // hello sent, waiting for welcome
  ready,        // authenticated; rooms rejoined; outbox flushed
  backing_off,  // waiting before the next attempt (see state_changed.retry_at)
  failed,       // auth rejected or versions incompatible; needs set_token() + start()
};

// ---- transport operations the driver performs ---------------------------------------------
struct open_transport {};  // open a new WebSocket to the configured URL
struct send_frame { std::string bytes; };  // send one binary frame
struct close_transport { std::uint16_t code = 1000; };  // close the current WebSocket
using transport_op = std::variant<open_transport, send_frame, close_transport>;

// ---- events for the app -------------------------------------------------------------------
struct state_changed {
  connection_state state;
  millis retry_at{0};              // when backing_off: the time of the next attempt
  proto::error_code reason{};      // when failed: why
};
struct room_joined {
  std::string room;
  std::uint64_t epoch = 0;
  std::uint64_t head = 0;
  std::vector<proto::presence_entry> members;
};
/// The room's log cannot be resumed (epoch changed or history gone): drop local copies and
/// reload with fetch_history. Live delivery continues after `head`.
struct room_reset {
  std::string room;
  std::uint64_t epoch = 0;
  std::uint64_t head = 0;
};
/// A room event delivered in seq order, exactly once per (room, epoch, seq).
struct message_received { proto::room_event event; };
/// One of this client's sends is durable.
struct message_acked {
  std::string room;
  std::string cid;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
};
/// A send was refused by the server (too large, forbidden...); it is removed from the outbox.
struct message_failed {
  std::string room;
  std::string cid;
  proto::error_code code{};
  std::string message;
};
/// Answer to fetch_history.
struct history_loaded {
  std::uint32_t request = 0;
  std::string room;
  std::vector<proto::room_event> events;  // ascending seq
  bool more = false;
};
struct typing_changed {
  std::string room;
  std::string user;
  bool typing = false;  // false also when the expiry passed without a refresh
};
struct presence_changed { proto::presence_entry entry; };
/// A request (join, leave, fetch_history, create_room, ...) failed.
struct request_failed {
  std::uint32_t request = 0;
  std::string room;
  proto::error_code code{};
  std::string message;
};
/// A request without a richer answer (leave, create_room, add_member, refresh) succeeded.
struct request_done { std::uint32_t request = 0; };
struct rooms_listed {
  std::uint32_t request = 0;
  std::vector<proto::room_info> rooms;
};

using engine_event =
    std::variant<state_changed, room_joined, room_reset, message_received, message_acked,
                 message_failed, history_loaded, typing_changed, presence_changed,
                 request_failed, request_done, rooms_listed>;

class engine {
 public:
  explicit engine(engine_config cfg);

  // ---- getters ----
  connection_state state() const;
  /// Server parameters from the last welcome (defaults before the first).
  const proto::server_params& params() const;
  const std::string& user() const;
  /// Resume point per joined room.
  std::optional<proto::resume_point> resume_point(std::string_view room) const;
  /// Users currently typing in a room (expired ones excluded).
  std::vector<std::string> typing_users(std::string_view room) const;
  const outbox& pending() const;

  // ---- inputs from the driver ----
  void handle_open(millis now);
  void handle_bytes(std::string_view frame, millis now);
  void handle_close(millis now);
  void handle_timeout(millis now);

  // ---- commands from the app ----
  /// Begin connecting (and keep reconnecting until stop()).
  void start(millis now);
  /// Close and stay idle; the outbox is kept.
  void stop(millis now);
  /// Token for the next hello; sent in-protocol (refresh) when ready.
  void set_token(std::string token, millis now);
  /// Join (and remember) a room; rejoined with its resume point after every reconnect.
  std::uint32_t join(std::string room, millis now);
  std::uint32_t leave(std::string room, millis now);
  /// Queue a message; returns its client id. It is sent when ready and retried with the same id
  /// after reconnects until acked (exactly-once effect). Empty string if the outbox is full.
  std::string send_message(std::string room, std::string text, millis now);
  /// Typing state from the UI: call on every keystroke with true, with false when cleared.
  void set_typing(std::string room, bool typing, millis now);
  void set_presence(proto::presence_status status, millis now);
  /// Page of history; before = 0 means from the newest.
  std::uint32_t fetch_history(std::string room, std::uint64_t before, std::uint32_t limit,
                              millis now);
  std::uint32_t list_rooms(millis now);
  std::uint32_t create_room(std::string room, bool is_private, millis now);
  std::uint32_t add_member(std::string room, std::string user, millis now);

  // ---- outputs ----
  std::optional<transport_op> poll_transport();
  std::optional<engine_event> poll_event();
  /// Earliest deadline the engine needs a handle_timeout for, if any.
  std::optional<millis> poll_timeout() const;

 private:
  // (engine author: private state goes here)
};

}  // namespace parley::client
