#include "session_logic.hpp"

#include "jwt.hpp"
#include "log.hpp"
#include "room_history.hpp"

#include <algorithm>
#include <type_traits>
#include <utility>

namespace parley::server {
namespace {

/// A resume further behind than this answers "cannot resume" and the client reloads through
/// history pages: a replay must not turn a reconnect into a slow-consumer close.
constexpr std::uint64_t max_replay_events = 1000;
/// joined.members lists at most this many members (the rest are still members).
constexpr std::size_t max_listed_members = 1000;
/// room_list holds at most this many rooms.
constexpr std::size_t max_listed_rooms = 1000;

/// Sets a flag for the duration of one input so that deliveries to the session itself do not
/// wake the driver, which pumps after every input anyway.
class input_scope {
 public:
  explicit input_scope(bool& flag) : flag_(flag), previous_(std::exchange(flag, true)) {}
  ~input_scope() { flag_ = previous_; }
  input_scope(const input_scope&) = delete;
  input_scope& operator=(const input_scope&) = delete;

 private:
  bool& flag_;
  bool previous_;
};

/// Metric label of a close that its error answer (if any) does not already tell apart:
/// limit_exceeded is also the answer for too many rooms, so 4006 gets a series of its own.
std::string_view close_label(proto::close_code code) {
  switch (code) {
    case proto::close_code::protocol_violation: return "protocol_violation";
    case proto::close_code::heartbeat_timeout: return "heartbeat_timeout";
    case proto::close_code::too_many_connections: return "too_many_connections";
    case proto::close_code::slow_consumer: return "slow_consumer";
    default: return {};
  }
}

}  // namespace

session_logic::session_logic(shared_state& hub, instant now)
    : hub_(hub),
      queue_(hub.options().send_queue_bytes, hub.options().max_frame, protocol_defaults.max_batch),
      bucket_(hub.options().rate_per_sec, hub.options().rate_burst),
      id_(hub.new_session_id()),
      hello_deadline_(now.mono + proto::millis(hub.options().hello_timeout_ms)),
      last_heard_(now.mono),
      closed_at_(now) {
  hub_.attach(*this);
}

session_logic::~session_logic() { hub_.detach(*this, closed_at_); }

// ---- inputs ----------------------------------------------------------------------------------

void session_logic::handle_frame(std::string_view frame, instant now) {
  if (closing_) return;
  input_scope scope(in_input_);
  last_heard_ = now.mono;
  proto::decode_limits limits;
  limits.max_frame = hub_.options().max_frame;
  limits.max_batch = protocol_defaults.max_batch;
  const auto decoded = proto::decode_frame(frame, limits);
  hub_.stats().frame_in(frame.size(), decoded.messages.size());
  if (!decoded) {
    // A frame is accepted or rejected whole; the connection stays usable (semantics 11). A bad
    // frame costs a token like a message, so garbage cannot buy unlimited error answers.
    const request_context refused{0, decoded.error->room, decoded.error->cid};
    if (!admit(refused, now)) return;
    reply_error(refused, proto::error_for(decoded.error->code),
                "frame rejected at message " + std::to_string(decoded.error->index) + ": " +
                    decoded.error->detail);
    return;
  }
  for (const auto& message : decoded.messages) {
    if (closing_) break;
    dispatch(message, now);
  }
}

void session_logic::handle_timeout(instant now) {
  if (closing_) return;
  input_scope scope(in_input_);
  if (!authenticated_) {
    if (now.mono >= hello_deadline_) close(proto::close_code::protocol_violation, "no hello in time");
    return;
  }
  const auto heartbeat = proto::millis(hub_.options().heartbeat_ms);
  if (now.mono - last_heard_ >= proto::dead_peer_after(heartbeat)) {
    close(proto::close_code::heartbeat_timeout, "peer silent");
    return;
  }
  if (now.mono >= token_deadline_) {
    reply_error({}, proto::error_code::token_expired, "token expired; refresh and reconnect");
    close(proto::close_code::token_expired, "token expired");
    return;
  }
  if (now.mono >= next_ping_) {
    reply(proto::ping{++ping_nonce_});
    next_ping_ = now.mono + heartbeat;
  }
}

// ---- commands ---------------------------------------------------------------------------------

void session_logic::deliver(const shared_buffer& message, bool droppable) {
  if (closing_) return;
  if (queue_.push(message, droppable) == push_result::overflow) {
    close(proto::close_code::slow_consumer, "outbound queue over send_queue_bytes");
  }
  if (!in_input_ && wake_) wake_();
}

void session_logic::shutdown(proto::close_code code) {
  if (closing_) return;
  close(code, "server shutting down");
  if (!in_input_ && wake_) wake_();
}

// ---- outputs ----------------------------------------------------------------------------------

void session_logic::transmitted(const frame_view& frame) {
  hub_.stats().frame_out(frame.bytes, frame.messages.size());
  queue_.pop_frame(frame);
}

std::optional<proto::close_code> session_logic::poll_close() const {
  if (closing_ && queue_.empty()) return closing_;
  return std::nullopt;
}

proto::millis session_logic::poll_timeout() const {
  if (closing_) return proto::millis::max();
  if (!authenticated_) return hello_deadline_;
  const auto heartbeat = proto::millis(hub_.options().heartbeat_ms);
  return std::min({next_ping_, last_heard_ + proto::dead_peer_after(heartbeat), token_deadline_});
}

// ---- dispatch ---------------------------------------------------------------------------------

bool session_logic::admit(const request_context& context, instant now) {
  proto::millis retry{0};
  if (bucket_.take(now.mono, retry)) return true;
  reply_error(context, proto::error_code::rate_limited, "rate limit exceeded",
              static_cast<std::uint32_t>(std::max<std::int64_t>(retry.count(), 1)));
  return false;
}

template <class Message>
void session_logic::on(const Message& m, instant) {
  proto::error e;
  e.code = proto::error_code::unsupported;
  if constexpr (std::is_same_v<Message, proto::unknown_message>) {
    e.type = m.type;
  } else {
    e.type = proto::type_of(proto::message{m});
  }
  e.message = "message type " + std::to_string(e.type) + " is not accepted by the server";
  hub_.stats().error(proto::error_name(e.code));
  reply(e);
}

void session_logic::dispatch(const proto::message& message, instant now) {
  const auto context = std::visit(
      [](const auto& m) {
        request_context c;
        if constexpr (requires { m.id; }) c.id = m.id;
        if constexpr (requires { m.room; }) c.room = m.room;
        if constexpr (requires { m.cid; }) c.cid = m.cid;
        return c;
      },
      message);
  if (!authenticated_ && !std::holds_alternative<proto::hello>(message)) {
    reply_error(context, proto::error_code::unauthenticated, "the first message must be hello");
    close(proto::close_code::auth_failed, "message before hello");
    return;
  }
  if (!std::holds_alternative<proto::pong>(message) && !admit(context, now)) return;
  if (log_enabled(log_level::debug)) {
    log_line(log_level::debug, "session " + id_ + " <- " +
                                   std::string(proto::type_name(proto::type_of(message))));
  }
  try {
    std::visit([&](const auto& m) { on(m, now); }, message);
  } catch (const store_error& e) {
    log_line(log_level::error, "session " + id_ + ": store failed: " + e.what());
    reply_error(context, proto::error_code::internal, "store unavailable; retry");
  }
}

// ---- handshake and session ---------------------------------------------------------------------

void session_logic::on(const proto::hello& m, instant now) {
  if (authenticated_) {
    reply_error({}, proto::error_code::invalid_argument, "already authenticated");
    return;
  }
  if (!accept_token(m.token, 0, now, true)) return;
  const std::uint32_t version = proto::negotiate_version(m.min_version, m.max_version);
  if (version == 0) {
    reply_error({}, proto::error_code::version_mismatch,
                "server speaks versions " + std::to_string(proto::version_min) + ".." +
                    std::to_string(proto::version_max));
    close(proto::close_code::version_mismatch, "no common version");
    return;
  }
  if (!hub_.sign_in(*this)) {
    const auto limit = std::to_string(hub_.options().max_connections_per_user);
    reply_error({}, proto::error_code::limit_exceeded,
                "max_connections_per_user " + limit + " reached: close another session of " +
                    user_.user + " first");
    close(proto::close_code::too_many_connections, "user holds max_connections_per_user sessions");
    return;
  }
  authenticated_ = true;
  next_ping_ = now.mono + proto::millis(hub_.options().heartbeat_ms);
  proto::welcome w;
  w.version = version;
  w.session = id_;
  w.user = user_.user;
  w.tenant = user_.tenant;
  w.server_time = now.wall_ms;
  w.params = hub_.options().params();
  reply(w);
  log_line(log_level::info, "session " + id_ + " authenticated " + user_.user + "@" +
                                user_.tenant + " client=" + m.client);
}

bool session_logic::accept_token(std::string_view token, std::uint32_t id, instant now,
                                 bool on_hello) {
  const auto now_s = static_cast<std::int64_t>(now.wall_ms / 1000);
  const auto verified = hub_.keys().verify(token, now_s);
  if (!verified.claims) {
    const bool expired = verified.error == jwt_errc::expired;
    reply_error({id, {}, {}}, expired ? proto::error_code::token_expired
                                      : proto::error_code::unauthenticated,
                std::string(jwt_error_text(verified.error)));
    if (on_hello) {
      close(expired ? proto::close_code::token_expired : proto::close_code::auth_failed,
            jwt_error_text(verified.error));
    }
    return false;
  }
  const auto& claims = *verified.claims;
  if (on_hello) {
    user_ = {claims.tid, claims.sub};
  } else if (claims.tid != user_.tenant || claims.sub != user_.user) {
    reply_error({id, {}, {}}, proto::error_code::forbidden, "token is for another user");
    return false;
  }
  // exp > now was checked, so the remaining lifetime is positive.
  const auto remaining = static_cast<std::int64_t>(claims.exp) * 1000 -
                         static_cast<std::int64_t>(now.wall_ms);
  token_deadline_ = now.mono + proto::millis(remaining);
  return true;
}

void session_logic::on(const proto::refresh& m, instant now) {
  if (accept_token(m.token, m.id, now, false)) reply(proto::ok{m.id});
}

void session_logic::on(const proto::ping& m, instant) { reply(proto::pong{m.nonce}); }

void session_logic::on(const proto::pong&, instant) {
  // Liveness is recorded for every frame in handle_frame; nothing else to do.
}

void session_logic::on(const proto::set_presence& m, instant) {
  if (m.status == proto::presence_status::offline) {
    reply_error({}, proto::error_code::invalid_argument, "status must be online or away");
    return;
  }
  hub_.set_status(user_, m.status);
}

// ---- rooms --------------------------------------------------------------------------------------

void session_logic::on(const proto::join& m, instant) {
  const request_context context{m.id, m.room, {}};
  if (!proto::valid_room_id(m.room)) {
    reply_error(context, proto::error_code::invalid_argument, "invalid room id");
    return;
  }
  if (!rooms_.contains(m.room) && rooms_.size() >= hub_.options().max_rooms) {
    reply_error(context, proto::error_code::limit_exceeded,
                "max_rooms " + std::to_string(hub_.options().max_rooms) + " reached");
    return;
  }
  const room_key k = key(m.room);
  store& db = hub_.db();
  auto room = db.find_room(k);
  bool newcomer = false;
  if (!room) {
    room = db.create_room(k, false, hub_.new_epoch(), user_.user);
  } else if (!may_read(db, k, *room, user_.user)) {
    reply_error(context, proto::error_code::forbidden, "private room");
    return;
  } else if (!db.is_member(k, user_.user)) {
    db.add_member(k, user_.user);
    newcomer = true;
  }
  enter_room(m, k, *room);
  // Presence goes to rooms a user is a member of; the room's present sessions learned the
  // members' presence before this user was one, so introduce the newcomer to them.
  // The entry names the room, so the room's people list can add them before they speak.
  if (newcomer) {
    auto entry = hub_.presence_of(user_, 0);
    entry.room = k.room;
    hub_.broadcast(k, proto::presence{std::move(entry)}, this, true);
  }
}

void session_logic::enter_room(const proto::join& m, const room_key& k, const room_record& room) {
  store& db = hub_.db();
  const auto replay = m.resume ? replay_for(m, k, room) : std::nullopt;
  proto::joined answer;
  answer.id = m.id;
  answer.room = m.room;
  answer.epoch = room.epoch;
  answer.head = room.head;
  answer.resumed = replay.has_value();
  for (const auto& member : db.members(k, max_listed_members)) {
    answer.members.push_back(hub_.presence_of({k.tenant, member.user}, member.last_seen));
  }
  reply(answer);
  if (replay) {
    for (const auto& ev : *replay) reply(proto::event{ev});
  }
  // Subscribing after reading head and the replay, with no other work in between on this one
  // thread, is what makes replay + live gapless and duplicate-free.
  hub_.subscribe(k, *this);
  rooms_.insert(m.room);
}

std::optional<std::vector<proto::room_event>> session_logic::replay_for(const proto::join& m,
                                                                        const room_key& k,
                                                                        const room_record& room) {
  const auto& from = *m.resume;
  if (from.epoch != room.epoch || from.seq > room.head) return std::nullopt;
  const std::uint64_t missing = room.head - from.seq;
  if (missing > max_replay_events) return std::nullopt;
  auto events = hub_.db().events_after(k, from.seq, missing);
  if (events.size() != missing) return std::nullopt;  // part of the log is gone
  std::size_t bytes = 0;
  for (const auto& ev : events) bytes += ev.text.size() + ev.cid.size() + ev.from.size();
  if (bytes > hub_.options().send_queue_bytes / 2) return std::nullopt;
  return events;
}

void session_logic::on(const proto::leave& m, instant) {
  if (!rooms_.contains(m.room)) {
    reply_error({m.id, m.room, {}}, proto::error_code::not_joined, "not joined");
    return;
  }
  hub_.unsubscribe(key(m.room), *this);
  rooms_.erase(m.room);
  reply(proto::ok{m.id});
}

void session_logic::on(const proto::list_rooms& m, instant) {
  proto::room_list answer;
  answer.id = m.id;
  answer.rooms = hub_.db().visible_rooms(user_, max_listed_rooms);
  for (auto& room : answer.rooms) room.joined = rooms_.contains(room.room);
  reply(answer);
}

void session_logic::on(const proto::create_room& m, instant) {
  const request_context context{m.id, m.room, {}};
  if (!proto::valid_room_id(m.room)) {
    reply_error(context, proto::error_code::invalid_argument, "invalid room id");
    return;
  }
  const room_key k = key(m.room);
  if (hub_.db().find_room(k)) {
    reply_error(context, proto::error_code::invalid_argument, "room exists");
    return;
  }
  hub_.db().create_room(k, m.is_private, hub_.new_epoch(), user_.user);
  reply(proto::ok{m.id});
}

void session_logic::on(const proto::add_member& m, instant) {
  const request_context context{m.id, m.room, {}};
  if (!proto::valid_room_id(m.room) || !proto::valid_user_id(m.user)) {
    reply_error(context, proto::error_code::invalid_argument, "invalid room or user id");
    return;
  }
  const room_key k = key(m.room);
  store& db = hub_.db();
  const auto room = db.find_room(k);
  if (!room) {
    reply_error(context, proto::error_code::not_found, "no such room");
    return;
  }
  if (!may_read(db, k, *room, user_.user)) {
    reply_error(context, proto::error_code::forbidden, "only members add members");
    return;
  }
  db.add_member(k, m.user);
  reply(proto::ok{m.id});
}

// ---- messages -----------------------------------------------------------------------------------

void session_logic::on(const proto::send& m, instant now) {
  const request_context context{0, m.room, m.cid};
  const auto& options = hub_.options();
  if (!proto::valid_client_id(m.cid)) {
    reply_error(context, proto::error_code::invalid_argument, "cid must be 1..64 printable ASCII");
    return;
  }
  if (!rooms_.contains(m.room)) {
    reply_error(context, proto::error_code::not_joined, "join the room first");
    return;
  }
  if (m.text.size() > options.max_text) {
    reply_error(context, proto::error_code::too_large,
                "text over max_text " + std::to_string(options.max_text));
    return;
  }
  if (!proto::valid_utf8(m.text)) {
    reply_error(context, proto::error_code::invalid_utf8, "text is not UTF-8");
    return;
  }
  store& db = hub_.db();
  // Exactly the window: a record older than it (not yet pruned) no longer counts.
  const std::uint64_t window_ms = hub_.options().dedup_window_s * 1000;
  const std::uint64_t not_before = now.wall_ms > window_ms ? now.wall_ms - window_ms : 0;
  if (const auto earlier = db.find_send(user_, m.cid, not_before)) {
    // A retransmission: the original ack, nothing stored, nothing broadcast.
    reply(proto::ack{earlier->room, m.cid, earlier->epoch, earlier->seq, earlier->ts, true});
    return;
  }
  const room_key k = key(m.room);
  const auto stored = db.append_message(k, user_.user, m.cid, m.text, now.wall_ms);
  reply(proto::ack{m.room, m.cid, stored.epoch, stored.seq, stored.ts, false});
  proto::room_event ev;
  ev.room = m.room;
  ev.epoch = stored.epoch;
  ev.seq = stored.seq;
  ev.from = user_.user;
  ev.cid = m.cid;
  ev.ts = stored.ts;
  ev.text = m.text;
  // The sender gets the event too, after its ack, so every client sees a gapless stream.
  hub_.broadcast(k, proto::event{std::move(ev)});
}

void session_logic::on(const proto::history& m, instant) {
  auto page = read_history(hub_.db(), key(m.room), user_.user, {m.before, m.after, m.limit},
                                 hub_.options().history_limit);
  if (page.error) {
    reply_error({m.id, m.room, {}}, *page.error, page.message);
    return;
  }
  proto::history_page answer;
  answer.id = m.id;
  answer.room = m.room;
  answer.epoch = page.epoch;
  answer.events = std::move(page.events);
  answer.more = page.more;
  reply(answer);
}

void session_logic::on(const proto::typing& m, instant) {
  if (!rooms_.contains(m.room)) {
    reply_error({0, m.room, {}}, proto::error_code::not_joined, "join the room first");
    return;
  }
  hub_.broadcast(key(m.room), proto::typing_update{m.room, user_.user, m.on}, this, true);
}

// ---- output helpers -------------------------------------------------------------------------------

void session_logic::reply(const proto::message& message) {
  if (closing_ == proto::close_code::slow_consumer) return;
  auto bytes = std::make_shared<const std::string>(proto::encode(message));
  if (queue_.push(std::move(bytes), false) == push_result::overflow) {
    close(proto::close_code::slow_consumer, "outbound queue over send_queue_bytes");
  }
}

void session_logic::reply_error(const request_context& to, proto::error_code code,
                                std::string text, std::uint32_t retry_ms) {
  hub_.stats().error(proto::error_name(code));
  if (log_enabled(log_level::debug)) {
    log_line(log_level::debug, "session " + id_ + " error " +
                                   std::string(proto::error_name(code)) + ": " + text);
  }
  proto::error e;
  e.id = to.id;
  e.code = code;
  e.message = std::move(text);
  e.room = to.room;
  e.cid = to.cid;
  e.retry_ms = retry_ms;
  reply(e);
}

void session_logic::close(proto::close_code code, std::string_view reason) {
  if (closing_) return;
  closing_ = code;
  // A slow consumer or a dead peer will not read what is pending: drop it and close now.
  if (code == proto::close_code::slow_consumer || code == proto::close_code::heartbeat_timeout) {
    queue_.clear();
  }
  if (const auto label = close_label(code); !label.empty()) hub_.stats().error(label);
  log_line(log_level::info, "session " + id_ + " closing " +
                                std::to_string(static_cast<unsigned>(code)) + ": " +
                                std::string(reason));
}

}  // namespace parley::server
