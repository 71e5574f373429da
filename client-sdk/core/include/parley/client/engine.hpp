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
// handle_close reports only closes the engine did not ask for: once it emits close_transport
// it treats that transport as gone, and a late close report for it is ignored.
// An early handle_timeout does nothing. Everything is deterministic for a given seed and
// sequence of inputs, so tests run it on a virtual clock.
#pragma once

#include "parley/client/outbox.hpp"
#include "parley/client/room_stream.hpp"
#include "parley/client/timer_table.hpp"
#include "parley/client/typing_roster.hpp"
#include "parley/protocol/codec.hpp"
#include "parley/protocol/messages.hpp"
#include "parley/protocol/rules.hpp"

#include <cstdint>
#include <deque>
#include <initializer_list>
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
  /// Merge an outbox saved with pending().export_bytes() (e.g. before a restart or a page
  /// reload); its entries are sent when ready, with their original client ids. False (and
  /// nothing changed) if the bytes are not an export or the entries do not fit.
  bool import_outbox(std::string_view bytes, millis now);

  // ---- outputs ----
  std::optional<transport_op> poll_transport();
  std::optional<engine_event> poll_event();
  /// Earliest deadline the engine needs a handle_timeout for, if any.
  std::optional<millis> poll_timeout() const;

 private:
  // One remembered room: rejoined after every reconnect until the app leaves it.
  struct room_entry {
    std::uint32_t join_id = 0;    // id the app got from join(); reused by every rejoin
    bool join_sent = false;       // join sent on the current transport
    bool joined = false;          // joined received on the current transport
    bool leaving = false;         // leave sent; forgotten when the server answers it
    bool rejoin = false;          // join() came while leaving: join again after the answer
    std::optional<std::uint32_t> fill_id;  // the one outstanding gap-fill history request
    room_stream stream;           // seq order, resume point, gap buffer
    typing_roster typing;         // other users typing here
    proto::typing_throttle throttle;  // pacing of our own typing(on)
  };
  using room_map = std::map<std::string, room_entry, std::less<>>;

  // What an outstanding request is, so its answer can be checked and routed.
  enum class request_kind { history, gap_fill, list_rooms, create_room, add_member, leave, refresh };
  struct pending_request {
    request_kind kind;
    std::string room;
    proto::message msg;   // kept whole: resent after a reconnect or a rate limit
    bool sent = false;    // sent on the current transport
  };

  // ---- connection transitions ----
  void set_state(connection_state s, millis retry_at = millis{0},
                 proto::error_code reason = {});
  void connect(millis now);
  void become_ready(const proto::welcome& w, millis now);
  void become_failed(proto::error_code reason);
  void end_session();
  void abandon_transport(std::uint16_t close_code, millis now);
  void lose_transport(millis now);
  void reset_session();
  void requeue_requests();
  void arm_dead_peer(millis now);
  void hold_for_rate_limit(std::uint32_t retry_ms, millis now);
  void flush_unsent();
  void send_join(const std::string& name, room_entry& room);

  // ---- server messages; false means the message is illegal here (protocol violation) ----
  bool on_handshake_message(proto::message& m, millis now);
  bool on_message(proto::message& m, millis now);
  bool on_joined(proto::joined& j);
  bool on_event(proto::room_event& ev);
  bool on_ack(const proto::ack& a);
  bool on_history_page(proto::history_page& page);
  bool on_fill_page(const std::string& name, room_entry& room, proto::history_page& page);
  bool on_typing_update(const proto::typing_update& t, millis now);
  bool on_error(const proto::error& e, millis now);
  bool on_send_error(const proto::error& e, millis now);
  bool on_request_error(const proto::error& e, millis now);
  bool on_join_error(const proto::error& e, millis now);
  bool on_fill_failed(const std::string& name, std::uint32_t id);
  bool on_ok(const proto::ok& o);
  bool on_room_list(proto::room_list& l);

  // ---- rooms ----
  room_entry* find_room(std::string_view name);
  // The room if it is subscribed on this transport; else `legal` says whether traffic for it
  // may still arrive (a leave in flight) or breaks the protocol (never joined).
  room_map::value_type* live_room(std::string_view name, bool& legal);
  std::size_t remembered_rooms() const;
  void settle_leave(const std::string& name);
  static bool adopt_page_event(proto::room_event& ev, const proto::history_page& page);
  void deliver(const std::string& name, room_entry& room,
               std::vector<proto::room_event>& ready);
  void request_fill(const std::string& name, room_entry& room);
  void skip_unfillable_gap(const std::string& name, room_entry& room);
  void expire_typing(millis now);
  void rearm_typing_timer();

  // ---- requests and sends ----
  std::uint32_t next_request_id();
  void submit(std::uint32_t id, request_kind kind, std::string room, proto::message msg);
  void app_request(std::uint32_t id, request_kind kind, std::string room, proto::message msg);
  std::optional<pending_request> take_answered(std::uint32_t id,
                                               std::initializer_list<request_kind> expected);
  void fail_request(std::uint32_t id, std::string room, proto::error_code code,
                    std::string message);
  bool room_id_ok(std::uint32_t id, const std::string& room);
  std::string make_cid();
  room_entry* sendable_room(const std::string& room, const std::string& cid,
                            const std::string& text);

  // ---- output queues ----
  void transmit(const proto::message& m);
  void push_transport(transport_op op);
  void flush_frames();
  void emit(engine_event ev);

  engine_config cfg_;
  connection_state state_ = connection_state::idle;
  proto::server_params params_;
  std::string user_;
  proto::random_source rng_;
  std::uint32_t attempt_ = 0;           // reconnect attempts since the last welcome
  std::uint32_t last_request_id_ = 0;
  outbox outbox_;
  std::set<std::string, std::less<>> in_flight_;  // outbox cids sent on the current transport
  room_map rooms_;
  std::map<std::uint32_t, pending_request> requests_;  // by id: resent in the order made
  std::optional<proto::presence_status> presence_;     // last status the app chose
  bool presence_sent_ = false;
  timer_table timers_;
  std::vector<std::string> outgoing_;   // encoded messages not yet packed into frames
  std::deque<transport_op> transport_ops_;
  std::deque<engine_event> events_;
};

}  // namespace parley::client
