// Parley wire protocol v1: every message, as plain C++ values.
//
// This header is the C++ face of docs/PROTOCOL.md; the two must agree field for field.
// On the wire a message is a MessagePack array `[type, body]` where `type` is a positive
// integer (msg_type) and `body` is a map keyed by short strings. Several messages may be
// concatenated in one WebSocket binary frame (batching). Unknown body keys are ignored;
// an unknown type decodes to `unknown_message` so the receiver can answer `unsupported`.
//
// Numbers that a browser must hold exactly (seq, epoch, timestamps) stay below 2^53.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace parley::proto {

/// Protocol versions this build speaks; negotiated in hello/welcome.
inline constexpr std::uint32_t version_min = 1;
inline constexpr std::uint32_t version_max = 1;

/// Message type numbers. Stable forever: never reuse a retired number.
enum class msg_type : std::uint32_t {
  hello = 1,          // C→S first message: versions + token
  welcome = 2,        // S→C handshake answer: version, identity, server parameters
  join = 3,           // C→S join a room, optionally resuming from (epoch, seq)
  joined = 4,         // S→C join answer; replay (if any) follows as `event`s up to `head`
  leave = 5,          // C→S leave a room
  list_rooms = 6,     // C→S list rooms visible to the user
  room_list = 7,      // S→C answer to list_rooms
  send = 8,           // C→S post a message with a client-generated id
  ack = 9,            // S→C a send is durable, with its room seq
  event = 10,         // S→C one room-log event (message, later edit/delete/...)
  history = 11,       // C→S page of the room log before or after a seq (also gap fill)
  history_page = 12,  // S→C answer to history
  typing = 13,        // C→S typing started / stopped
  typing_update = 14, // S→C someone else is typing / stopped
  set_presence = 15,  // C→S own status (online / away)
  presence = 16,      // S→C a user's presence changed (or initial state on join)
  ping = 17,          // either way: liveness probe
  pong = 18,          // either way: answer to ping
  error = 19,         // S→C typed error, optionally tied to a request
  ok = 20,            // S→C success for requests without a richer answer
  refresh = 21,       // C→S replace the session's token before it expires
  create_room = 22,   // C→S create a public or private room
  add_member = 23,    // C→S add a user to a private room (members only)
};

/// Stable numeric error codes carried by `error.code`. Never renumber.
enum class error_code : std::uint32_t {
  malformed = 1,          // not MessagePack, wrong shape, wrong field type, missing field
  unsupported = 2,        // unknown message type (error.type says which)
  version_mismatch = 3,   // no common protocol version
  unauthenticated = 4,    // missing/invalid token, or a message before hello
  token_expired = 5,      // token `exp` passed
  forbidden = 6,          // not allowed: private room, other tenant
  not_found = 7,          // room does not exist
  rate_limited = 8,       // token bucket empty; error.retry_ms says when to retry
  too_large = 9,          // frame, batch, text or id over its announced limit
  invalid_utf8 = 10,      // a text field is not valid UTF-8
  limit_exceeded = 11,    // a count limit (rooms per session, ...) was reached
  not_joined = 12,        // send/typing/history in a room the session has not joined
  invalid_argument = 13,  // a field is out of its documented range (room id syntax, limit)
  internal = 14,          // the server failed (store unavailable); safe to retry
};

/// WebSocket close codes the server uses (RFC 6455 private range 4000-4999).
enum class close_code : std::uint16_t {
  going_away = 1001,       // server shutting down; reconnect with backoff
  too_big = 1009,          // frame over max_frame
  auth_failed = 4001,      // hello rejected; do not reconnect without a new token
  token_expired = 4002,    // token expired on a live connection; refresh and reconnect
  version_mismatch = 4003, // no common version; do not reconnect
  protocol_violation = 4004,  // e.g. no hello within the handshake timeout
  heartbeat_timeout = 4005,   // no traffic from the peer for the dead-peer interval
  too_many_connections = 4006,  // the user already holds max_connections_per_user sessions
  slow_consumer = 4008,    // the session's outbound queue stayed over its bound
};

/// Kinds of room-log events. v1 servers produce `message`; the others are reserved so that
/// edits, deletes, reactions, receipts, membership and moderation extend the same ordered log.
enum class event_kind : std::uint32_t {
  message = 1,
  edit = 2,        // ref = seq of the edited message, text = new text
  remove = 3,      // ref = seq of the deleted message
  reaction = 4,    // ref = seq of the target, text = the reaction
  receipt = 5,     // ref = seq read up to
  membership = 6,  // text = "join" / "leave" / "add" ; target user in `text` details (future)
  moderation = 7,
  room_change = 8,
};

/// Presence status values.
enum class presence_status : std::uint32_t { online = 0, away = 1, offline = 2 };

/// Per-room resume point: what the client already has.
struct resume_point {
  std::uint64_t epoch = 0;  // 0 = nothing yet
  std::uint64_t seq = 0;    // last contiguous seq delivered to the app
  bool operator==(const resume_point&) const = default;
};

/// Server parameters announced in welcome; clients must follow them.
struct server_params {
  std::uint32_t heartbeat_ms = 15000;        // server sends ping at least this often
  std::uint32_t typing_throttle_ms = 2000;   // send typing(on) at most once per this
  std::uint32_t typing_expiry_ms = 6000;     // receivers drop a typing(on) after this
  std::uint32_t presence_grace_ms = 10000;   // offline announced after this without a session
  std::uint32_t max_frame = 65536;           // bytes per client frame
  std::uint32_t max_batch = 64;              // messages per client frame
  std::uint32_t max_text = 8192;             // bytes of UTF-8 text per message
  std::uint32_t max_rooms = 100;             // rooms joined per session
  std::uint32_t history_limit = 200;         // largest history page
  std::uint32_t rate_per_sec = 50;           // token bucket refill, messages per second
  std::uint32_t rate_burst = 100;            // token bucket size
  bool operator==(const server_params&) const = default;
};

/// A room-log event as delivered live, in replay and in history pages.
struct room_event {
  std::string room{};
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint32_t kind = static_cast<std::uint32_t>(event_kind::message);
  std::string from;     // sender user id
  std::string cid;      // sender's client id (empty for server-made events)
  std::uint64_t ts = 0; // server time, ms since Unix epoch
  std::string text;
  std::uint64_t ref = 0;  // target seq for edit/remove/reaction/receipt; 0 = none
  bool operator==(const room_event&) const = default;
};

struct presence_entry {
  std::string user;
  presence_status status = presence_status::offline;
  std::uint64_t last_seen = 0;  // ms since Unix epoch; 0 = never / unknown
  // In a `presence` broadcast: the room the user has just become a member of, so its present
  // sessions can list the newcomer. Empty otherwise (and in joined.members).
  std::string room{};
  bool operator==(const presence_entry&) const = default;
};

struct room_info {
  std::string room{};
  bool is_private = false;
  std::uint64_t epoch = 0;
  std::uint64_t head = 0;  // last seq in the room log
  bool joined = false;     // the requesting session has joined it
  bool operator==(const room_info&) const = default;
};

// ---- messages ------------------------------------------------------------------------------
// `id` fields are request ids chosen by the client (uint32); answers echo them.

struct hello {
  std::uint32_t min_version = version_min;
  std::uint32_t max_version = version_max;
  std::string token;   // JWT
  std::string client;  // free-form "name/version", for logs
  bool operator==(const hello&) const = default;
};
struct welcome {
  std::uint32_t version = version_max;
  std::string session;  // server-chosen session id, for logs
  std::string user;
  std::string tenant;
  std::uint64_t server_time = 0;  // ms since Unix epoch
  server_params params;
  bool operator==(const welcome&) const = default;
};
struct join {
  std::uint32_t id = 0;
  std::string room{};
  std::optional<resume_point> resume;  // absent: no replay, just live from head
  bool operator==(const join&) const = default;
};
struct joined {
  std::uint32_t id = 0;
  std::string room{};
  std::uint64_t epoch = 0;
  std::uint64_t head = 0;   // replay (if resumed) ends at this seq; live events follow
  bool resumed = false;     // false with a resume request: cannot resume, reload the room
  std::vector<presence_entry> members;  // presence of the room's members
  bool operator==(const joined&) const = default;
};
struct leave {
  std::uint32_t id = 0;
  std::string room{};
  bool operator==(const leave&) const = default;
};
struct list_rooms {
  std::uint32_t id = 0;
  bool operator==(const list_rooms&) const = default;
};
struct room_list {
  std::uint32_t id = 0;
  std::vector<room_info> rooms;
  bool operator==(const room_list&) const = default;
};
struct send {
  std::string room{};
  std::string cid;   // client id, 1..64 bytes, unique per user for the dedup window
  std::string text;
  bool operator==(const send&) const = default;
};
struct ack {
  std::string room{};
  std::string cid;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
  bool duplicate = false;  // this cid was already stored; seq/ts are the original ones
  bool operator==(const ack&) const = default;
};
struct event {
  room_event ev;
  bool operator==(const event&) const = default;
};
struct history {
  std::uint32_t id = 0;
  std::string room{};
  std::optional<std::uint64_t> before;  // events with seq < before (newest first page)
  std::optional<std::uint64_t> after;   // events with seq > after (gap fill); one of the two
  std::uint32_t limit = 50;
  bool operator==(const history&) const = default;
};
struct history_page {
  std::uint32_t id = 0;
  std::string room{};
  std::uint64_t epoch = 0;
  std::vector<room_event> events;  // ascending seq
  bool more = false;               // more events exist in the requested direction
  bool operator==(const history_page&) const = default;
};
struct typing {
  std::string room{};
  bool on = true;
  bool operator==(const typing&) const = default;
};
struct typing_update {
  std::string room{};
  std::string user;
  bool on = true;
  bool operator==(const typing_update&) const = default;
};
struct set_presence {
  presence_status status = presence_status::online;
  bool operator==(const set_presence&) const = default;
};
struct presence {
  presence_entry entry;
  bool operator==(const presence&) const = default;
};
struct ping {
  std::uint64_t nonce = 0;
  bool operator==(const ping&) const = default;
};
struct pong {
  std::uint64_t nonce = 0;
  bool operator==(const pong&) const = default;
};
struct error {
  std::uint32_t id = 0;  // request id it answers; 0 = none
  error_code code = error_code::internal;
  std::string message;   // human-readable, not for matching
  std::string room;      // when the error concerns a room
  std::string cid;       // when the error concerns a send
  std::uint32_t type = 0;       // for `unsupported`: the type received
  std::uint32_t retry_ms = 0;   // for `rate_limited`
  bool operator==(const error&) const = default;
};
struct ok {
  std::uint32_t id = 0;
  bool operator==(const ok&) const = default;
};
struct refresh {
  std::uint32_t id = 0;
  std::string token;
  bool operator==(const refresh&) const = default;
};
struct create_room {
  std::uint32_t id = 0;
  std::string room{};
  bool is_private = false;
  bool operator==(const create_room&) const = default;
};
struct add_member {
  std::uint32_t id = 0;
  std::string room{};
  std::string user;
  bool operator==(const add_member&) const = default;
};
/// A well-formed message of a type this build does not know.
struct unknown_message {
  std::uint32_t type = 0;
  bool operator==(const unknown_message&) const = default;
};

using message =
    std::variant<hello, welcome, join, joined, leave, list_rooms, room_list, send, ack, event,
                 history, history_page, typing, typing_update, set_presence, presence, ping,
                 pong, error, ok, refresh, create_room, add_member, unknown_message>;

}  // namespace parley::proto
