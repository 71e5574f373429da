// Embind glue: the client engine (client-sdk/core) as the JS class `Engine`, driven by the
// browser driver in wasm/js/driver.js.
//
// Only conversions live here: JS options into engine_config, C++ values (events, transport
// operations, outbox entries) into plain JS objects, names for enums. Every rule stays in the
// engine. Times are the driver's performance.now() in whole milliseconds; seq, epoch and
// timestamps become JS numbers, exact because the protocol keeps them below 2^53.
#include "parley/client/engine.hpp"
#include "parley/protocol/codec.hpp"

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

using emscripten::val;
using namespace parley;
using client::connection_state;
using client::engine;
using client::millis;

millis to_millis(double now) { return millis(static_cast<std::int64_t>(now)); }

double number(std::uint64_t v) { return static_cast<double>(v); }

std::string_view state_name(connection_state s) {
  switch (s) {
    case connection_state::idle: return "idle";
    case connection_state::connecting: return "connecting";
    case connection_state::handshaking: return "handshaking";
    case connection_state::ready: return "ready";
    case connection_state::backing_off: return "backing_off";
    case connection_state::failed: return "failed";
  }
  return "idle";
}

std::string_view status_name(proto::presence_status s) {
  switch (s) {
    case proto::presence_status::online: return "online";
    case proto::presence_status::away: return "away";
    case proto::presence_status::offline: return "offline";
  }
  return "offline";
}

val text(std::string_view s) { return val(std::string(s)); }

// A copy in a fresh Uint8Array: a view into wasm memory would go stale when memory grows.
val bytes(const std::string& s) {
  return val::global("Uint8Array")
      .new_(emscripten::typed_memory_view(s.size(), reinterpret_cast<const std::uint8_t*>(s.data())));
}

template <class T, class Convert>
val array_of(const std::vector<T>& items, Convert convert) {
  val out = val::array();
  for (const auto& item : items) out.call<void>("push", convert(item));
  return out;
}

// Reads an optional number from the app's options; absent keeps the engine's default.
template <class T>
void read_number(const val& options, const char* key, T& field) {
  const val v = options[key];
  if (!v.isUndefined() && !v.isNull()) field = static_cast<T>(v.as<double>());
}

// ---- C++ values to JS objects --------------------------------------------------------------

val to_js(const proto::room_event& e) {
  val o = val::object();
  o.set("room", e.room);
  o.set("epoch", number(e.epoch));
  o.set("seq", number(e.seq));
  o.set("kind", e.kind);
  o.set("from", e.from);
  o.set("cid", e.cid);
  o.set("ts", number(e.ts));
  o.set("text", e.text);
  o.set("ref", number(e.ref));
  return o;
}

val to_js(const proto::presence_entry& p) {
  val o = val::object();
  o.set("user", p.user);
  o.set("status", text(status_name(p.status)));
  o.set("lastSeen", number(p.last_seen));
  if (!p.room.empty()) o.set("room", p.room);
  return o;
}

val to_js(const proto::room_info& r) {
  val o = val::object();
  o.set("room", r.room);
  o.set("isPrivate", r.is_private);
  o.set("epoch", number(r.epoch));
  o.set("head", number(r.head));
  o.set("joined", r.joined);
  return o;
}

val to_js(const client::outbox_entry& e) {
  val o = val::object();
  o.set("room", e.room);
  o.set("cid", e.cid);
  o.set("text", e.text);
  return o;
}

template <class T>
val convert(const T& item) {
  return to_js(item);
}

val typed(const char* type) {
  val o = val::object();
  o.set("type", type);
  return o;
}

// Errors carry the stable code name ("rate_limited"), as the TypeScript union spells it.
void set_error(val& o, proto::error_code code, const std::string& message) {
  o.set("code", text(proto::error_name(code)));
  o.set("message", message);
}

// Engine events become `{type, ...fields}`, type named after the C++ event struct.
struct event_to_js {
  val operator()(const client::state_changed& e) const {
    val o = typed("state_changed");
    o.set("state", text(state_name(e.state)));
    o.set("retryAt", static_cast<double>(e.retry_at.count()));
    if (e.state == connection_state::failed) o.set("reason", text(proto::error_name(e.reason)));
    return o;
  }
  val operator()(const client::room_joined& e) const {
    val o = typed("room_joined");
    o.set("room", e.room);
    o.set("epoch", number(e.epoch));
    o.set("head", number(e.head));
    o.set("members", array_of(e.members, convert<proto::presence_entry>));
    return o;
  }
  val operator()(const client::room_reset& e) const {
    val o = typed("room_reset");
    o.set("room", e.room);
    o.set("epoch", number(e.epoch));
    o.set("head", number(e.head));
    return o;
  }
  val operator()(const client::message_received& e) const {
    val o = typed("message_received");
    o.set("event", to_js(e.event));
    return o;
  }
  val operator()(const client::message_acked& e) const {
    val o = typed("message_acked");
    o.set("room", e.room);
    o.set("cid", e.cid);
    o.set("seq", number(e.seq));
    o.set("ts", number(e.ts));
    return o;
  }
  val operator()(const client::message_failed& e) const {
    val o = typed("message_failed");
    o.set("room", e.room);
    o.set("cid", e.cid);
    set_error(o, e.code, e.message);
    return o;
  }
  val operator()(const client::history_loaded& e) const {
    val o = typed("history_loaded");
    o.set("request", e.request);
    o.set("room", e.room);
    o.set("events", array_of(e.events, convert<proto::room_event>));
    o.set("more", e.more);
    return o;
  }
  val operator()(const client::typing_changed& e) const {
    val o = typed("typing_changed");
    o.set("room", e.room);
    o.set("user", e.user);
    o.set("typing", e.typing);
    return o;
  }
  val operator()(const client::presence_changed& e) const {
    val o = typed("presence_changed");
    o.set("entry", to_js(e.entry));
    return o;
  }
  val operator()(const client::request_failed& e) const {
    val o = typed("request_failed");
    o.set("request", e.request);
    o.set("room", e.room);
    set_error(o, e.code, e.message);
    return o;
  }
  val operator()(const client::request_done& e) const {
    val o = typed("request_done");
    o.set("request", e.request);
    return o;
  }
  val operator()(const client::rooms_listed& e) const {
    val o = typed("rooms_listed");
    o.set("request", e.request);
    o.set("rooms", array_of(e.rooms, convert<proto::room_info>));
    return o;
  }
};

// Transport operations become `{op: "open"}`, `{op: "send", bytes}` or `{op: "close", code}`.
struct transport_to_js {
  val operator()(const client::open_transport&) const {
    val o = val::object();
    o.set("op", "open");
    return o;
  }
  val operator()(const client::send_frame& f) const {
    val o = val::object();
    o.set("op", "send");
    o.set("bytes", bytes(f.bytes));
    return o;
  }
  val operator()(const client::close_transport& c) const {
    val o = val::object();
    o.set("op", "close");
    o.set("code", c.code);
    return o;
  }
};

// ---- the Engine class as JS sees it ----------------------------------------------------------

// options: {token, clientName?, seedHigh, seedLow, backoffBaseMs?, backoffCapMs?,
// connectTimeoutMs?, maxOutbox?}. The 64-bit seed arrives as two 32-bit halves because this
// Emscripten passes no 64-bit integers to JS without BigInt support.
engine* make_engine(val options) {
  client::engine_config cfg;
  cfg.token = options["token"].as<std::string>();
  if (options["clientName"].isString()) cfg.client_name = options["clientName"].as<std::string>();
  std::uint32_t high = 0;
  std::uint32_t low = 0;
  read_number(options, "seedHigh", high);
  read_number(options, "seedLow", low);
  cfg.seed = (std::uint64_t{high} << 32) | low;
  std::int64_t base = cfg.backoff.base.count();
  std::int64_t cap = cfg.backoff.cap.count();
  std::int64_t connect_timeout = cfg.connect_timeout.count();
  read_number(options, "backoffBaseMs", base);
  read_number(options, "backoffCapMs", cap);
  read_number(options, "connectTimeoutMs", connect_timeout);
  read_number(options, "maxOutbox", cfg.max_outbox);
  cfg.backoff.base = millis(base);
  cfg.backoff.cap = millis(cap);
  cfg.connect_timeout = millis(connect_timeout);
  return new engine(std::move(cfg));
}

std::string state_of(const engine& e) { return std::string(state_name(e.state())); }

std::string user_of(const engine& e) { return e.user(); }

val params_of(const engine& e) {
  const auto& p = e.params();
  val o = val::object();
  o.set("heartbeatMs", p.heartbeat_ms);
  o.set("typingThrottleMs", p.typing_throttle_ms);
  o.set("typingExpiryMs", p.typing_expiry_ms);
  o.set("presenceGraceMs", p.presence_grace_ms);
  o.set("maxFrame", p.max_frame);
  o.set("maxBatch", p.max_batch);
  o.set("maxText", p.max_text);
  o.set("maxRooms", p.max_rooms);
  o.set("historyLimit", p.history_limit);
  o.set("ratePerSec", p.rate_per_sec);
  o.set("rateBurst", p.rate_burst);
  return o;
}

val typing_users_of(const engine& e, const std::string& room) {
  return array_of(e.typing_users(room), [](const std::string& user) { return val(user); });
}

val pending_of(const engine& e) {
  return array_of(e.pending().entries(), convert<client::outbox_entry>);
}

val export_outbox(const engine& e) { return bytes(e.pending().export_bytes()); }

bool import_outbox(engine& e, const std::string& saved, double now) {
  return e.import_outbox(saved, to_millis(now));
}

void handle_open(engine& e, double now) { e.handle_open(to_millis(now)); }
void handle_bytes(engine& e, const std::string& frame, double now) {
  e.handle_bytes(frame, to_millis(now));
}
void handle_close(engine& e, double now) { e.handle_close(to_millis(now)); }
void handle_timeout(engine& e, double now) { e.handle_timeout(to_millis(now)); }

void start(engine& e, double now) { e.start(to_millis(now)); }
void stop(engine& e, double now) { e.stop(to_millis(now)); }
void set_token(engine& e, std::string token, double now) {
  e.set_token(std::move(token), to_millis(now));
}
std::uint32_t join(engine& e, std::string room, double now) {
  return e.join(std::move(room), to_millis(now));
}
std::uint32_t leave(engine& e, std::string room, double now) {
  return e.leave(std::move(room), to_millis(now));
}
std::string send_message(engine& e, std::string room, std::string message, double now) {
  return e.send_message(std::move(room), std::move(message), to_millis(now));
}
void set_typing(engine& e, std::string room, bool typing, double now) {
  e.set_typing(std::move(room), typing, to_millis(now));
}
// "away" sets away; anything else sets online (offline is the server's to announce).
void set_presence(engine& e, const std::string& status, double now) {
  e.set_presence(status == "away" ? proto::presence_status::away : proto::presence_status::online,
                 to_millis(now));
}
std::uint32_t fetch_history(engine& e, std::string room, double before, std::uint32_t limit,
                            double now) {
  return e.fetch_history(std::move(room), static_cast<std::uint64_t>(before), limit,
                         to_millis(now));
}
std::uint32_t list_rooms(engine& e, double now) { return e.list_rooms(to_millis(now)); }
std::uint32_t create_room(engine& e, std::string room, bool is_private, double now) {
  return e.create_room(std::move(room), is_private, to_millis(now));
}
std::uint32_t add_member(engine& e, std::string room, std::string user, double now) {
  return e.add_member(std::move(room), std::move(user), to_millis(now));
}

val poll_transport(engine& e) {
  auto op = e.poll_transport();
  return op ? std::visit(transport_to_js{}, *op) : val::null();
}

val poll_event(engine& e) {
  auto ev = e.poll_event();
  return ev ? std::visit(event_to_js{}, *ev) : val::null();
}

val poll_timeout(const engine& e) {
  auto deadline = e.poll_timeout();
  return deadline ? val(static_cast<double>(deadline->count())) : val::null();
}

}  // namespace

EMSCRIPTEN_BINDINGS(parley_engine) {
  emscripten::class_<engine>("Engine")
      .constructor(&make_engine, emscripten::allow_raw_pointers())
      .function("state", &state_of)
      .function("user", &user_of)
      .function("params", &params_of)
      .function("typingUsers", &typing_users_of)
      .function("pendingSends", &pending_of)
      .function("exportOutbox", &export_outbox)
      .function("importOutbox", &import_outbox)
      .function("handleOpen", &handle_open)
      .function("handleBytes", &handle_bytes)
      .function("handleClose", &handle_close)
      .function("handleTimeout", &handle_timeout)
      .function("start", &start)
      .function("stop", &stop)
      .function("setToken", &set_token)
      .function("join", &join)
      .function("leave", &leave)
      .function("sendMessage", &send_message)
      .function("setTyping", &set_typing)
      .function("setPresence", &set_presence)
      .function("fetchHistory", &fetch_history)
      .function("listRooms", &list_rooms)
      .function("createRoom", &create_room)
      .function("addMember", &add_member)
      .function("pollTransport", &poll_transport)
      .function("pollEvent", &poll_event)
      .function("pollTimeout", &poll_timeout);
}
