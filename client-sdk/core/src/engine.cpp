// Every state transition of the client engine lives in this file (h11 style): the connection
// states, the handshake, room joins and resume, the gap rule, the outbox, typing, presence,
// heartbeats and backoff. Anything the server sends that the rules do not allow in the current
// state is a protocol violation: the engine closes with 4004 and reconnects with backoff.
#include "parley/client/engine.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <initializer_list>
#include <utility>

namespace parley::client {
namespace {

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

constexpr std::uint16_t close_normal = 1000;
constexpr auto close_violation =
    static_cast<std::uint16_t>(proto::close_code::protocol_violation);
// A peer that stays silent (no welcome in time, no traffic for the dead-peer interval) is
// closed with the code the server uses for the same condition.
constexpr auto close_silent = static_cast<std::uint16_t>(proto::close_code::heartbeat_timeout);

// App requests waiting for an answer (history, list, create, add_member). Joins are bounded by
// max_rooms and gap fills by one per room, so they are not counted here.
constexpr std::size_t max_pending_requests = 256;

// Page size used when the app asks for "the server's default" (limit 0).
constexpr std::uint32_t default_history_page = 50;

// The server coalesces everything queued for a session into one frame per write (up to its
// 1 MiB send queue plus one message), so inbound frames may exceed max_frame/max_batch, which
// bound only what a client sends.
proto::decode_limits inbound_limits() {
  proto::decode_limits limits;
  limits.max_frame = std::size_t{4} << 20;
  limits.max_batch = std::size_t{1} << 16;
  // joined.members lists every member of a room; the frame bound still caps the total.
  limits.max_array = std::size_t{1} << 16;
  return limits;
}

bool is_auth_error(proto::error_code code) {
  return code == proto::error_code::unauthenticated || code == proto::error_code::token_expired;
}

bool transport_open(connection_state s) {
  return s == connection_state::connecting || s == connection_state::handshaking ||
         s == connection_state::ready;
}

}  // namespace

engine::engine(engine_config cfg)
    : cfg_(std::move(cfg)), rng_(cfg_.seed), outbox_(cfg_.max_outbox) {
  // The name rides in hello; a non-UTF-8 one would get every handshake refused.
  if (!proto::valid_utf8(cfg_.client_name)) cfg_.client_name = engine_config{}.client_name;
}

// ---- getters -------------------------------------------------------------------------------

connection_state engine::state() const { return state_; }
const proto::server_params& engine::params() const { return params_; }
const std::string& engine::user() const { return user_; }
const outbox& engine::pending() const { return outbox_; }

std::optional<proto::resume_point> engine::resume_point(std::string_view room) const {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return std::nullopt;
  return it->second.stream.resume();
}

std::vector<std::string> engine::typing_users(std::string_view room) const {
  auto it = rooms_.find(room);
  if (it == rooms_.end()) return {};
  return it->second.typing.users();
}

// ---- driver inputs -------------------------------------------------------------------------

void engine::handle_open(millis /*now*/) {
  if (state_ != connection_state::connecting) return;  // a transport we already gave up on
  transmit(proto::hello{proto::version_min, proto::version_max, cfg_.token, cfg_.client_name});
  set_state(connection_state::handshaking);
}

void engine::handle_bytes(std::string_view frame, millis now) {
  if (state_ != connection_state::handshaking && state_ != connection_state::ready)
    return;  // late bytes of a transport we already gave up on
  auto decoded = proto::decode_frame(frame, inbound_limits());
  if (!decoded) {
    abandon_transport(close_violation, now);
    return;
  }
  if (state_ == connection_state::ready) arm_dead_peer(now);
  for (auto& m : decoded.messages) {
    const bool legal = state_ == connection_state::ready ? on_message(m, now)
                                                         : on_handshake_message(m, now);
    if (!legal) {
      abandon_transport(close_violation, now);
      return;
    }
    // An auth error or a version mismatch ends the session; the rest of the frame is moot.
    if (!transport_open(state_)) return;
  }
}

void engine::handle_close(millis now) {
  if (transport_open(state_)) lose_transport(now);
}

void engine::handle_timeout(millis now) {
  if (timers_.take_expired(timer::reconnect, now)) connect(now);
  if (timers_.take_expired(timer::connect, now)) abandon_transport(close_silent, now);
  if (timers_.take_expired(timer::dead_peer, now)) abandon_transport(close_silent, now);
  if (timers_.take_expired(timer::rate_retry, now)) flush_unsent();
  if (timers_.take_expired(timer::typing_expiry, now)) expire_typing(now);
}

// ---- app commands --------------------------------------------------------------------------

void engine::start(millis now) {
  if (state_ != connection_state::idle && state_ != connection_state::failed) return;
  attempt_ = 0;
  connect(now);
}

void engine::stop(millis /*now*/) {
  if (state_ == connection_state::idle) return;
  end_session();
  set_state(connection_state::idle);
}

void engine::set_token(std::string token, millis /*now*/) {
  // A JWT is ASCII; anything else could never verify and would poison the frame it rides in.
  if (!proto::valid_utf8(token)) {
    fail_request(0, {}, proto::error_code::invalid_argument, "token is not UTF-8");
    return;
  }
  cfg_.token = std::move(token);
  // Before ready the next hello carries the new token; a live session swaps it in-protocol.
  if (state_ != connection_state::ready) return;
  const auto id = next_request_id();
  submit(id, request_kind::refresh, {}, proto::refresh{id, cfg_.token});
}

std::uint32_t engine::join(std::string room, millis /*now*/) {
  auto* existing = find_room(room);
  if (existing != nullptr && !existing->leaving) return existing->join_id;  // nothing changes
  const auto id = next_request_id();
  if (existing != nullptr) {
    // Its leave is still unanswered: join again once the server has processed the leave.
    existing->rejoin = true;
    existing->join_id = id;
    return id;
  }
  if (!room_id_ok(id, room)) return id;
  if (remembered_rooms() >= params_.max_rooms) {
    fail_request(id, std::move(room), proto::error_code::limit_exceeded, "too many rooms");
    return id;
  }
  rooms_[std::move(room)].join_id = id;
  flush_unsent();
  return id;
}

std::uint32_t engine::leave(std::string room, millis /*now*/) {
  const auto id = next_request_id();
  auto it = rooms_.find(room);
  if (it == rooms_.end() || it->second.leaving) {
    fail_request(id, std::move(room), proto::error_code::not_joined, "room is not joined");
    return id;
  }
  if (!it->second.join_sent) {
    // The server holds no subscription for it on this transport: forgetting it is the leave.
    rooms_.erase(it);
    rearm_typing_timer();
    emit(request_done{id});
    return id;
  }
  it->second.leaving = true;
  submit(id, request_kind::leave, room, proto::leave{id, room});
  return id;
}

std::string engine::send_message(std::string room, std::string text, millis /*now*/) {
  if (outbox_.size() >= outbox_.capacity()) return {};
  auto cid = make_cid();
  auto* target = sendable_room(room, cid, text);
  if (target == nullptr) return cid;
  // Sending ends typing; receivers clear the indicator on the message event, so no off is sent.
  target->throttle.on_stop();
  outbox_.push(outbox_entry{std::move(room), cid, std::move(text)});
  flush_unsent();
  return cid;
}

void engine::set_typing(std::string room, bool typing, millis now) {
  auto* target = find_room(room);
  // Typing is ephemeral: a notice that cannot go out now is worthless later, so no queueing.
  if (target == nullptr || !target->joined || target->leaving) return;
  const bool notify =
      typing ? target->throttle.on_keystroke(now, millis{params_.typing_throttle_ms})
             : target->throttle.on_stop();
  if (notify) transmit(proto::typing{std::move(room), typing});
}

void engine::set_presence(proto::presence_status status, millis /*now*/) {
  presence_ = status;
  presence_sent_ = false;
  flush_unsent();
}

std::uint32_t engine::fetch_history(std::string room, std::uint64_t before, std::uint32_t limit,
                                    millis /*now*/) {
  const auto id = next_request_id();
  if (!room_id_ok(id, room)) return id;
  proto::history h{id, room, std::nullopt, std::nullopt, 0};
  if (before != 0) h.before = before;
  // The server refuses pages over history_limit; clamping keeps the request useful instead.
  h.limit = std::min(limit == 0 ? default_history_page : limit, params_.history_limit);
  app_request(id, request_kind::history, std::move(room), std::move(h));
  return id;
}

std::uint32_t engine::list_rooms(millis /*now*/) {
  const auto id = next_request_id();
  app_request(id, request_kind::list_rooms, {}, proto::list_rooms{id});
  return id;
}

std::uint32_t engine::create_room(std::string room, bool is_private, millis /*now*/) {
  const auto id = next_request_id();
  if (!room_id_ok(id, room)) return id;
  app_request(id, request_kind::create_room, room, proto::create_room{id, room, is_private});
  return id;
}

std::uint32_t engine::add_member(std::string room, std::string user, millis /*now*/) {
  const auto id = next_request_id();
  if (!room_id_ok(id, room)) return id;
  // Checked before it reaches a frame: one bad string makes the server refuse the whole frame,
  // and this request would be batched with the rejoins and resends after every reconnect.
  if (!proto::valid_user_id(user)) {
    fail_request(id, std::move(room), proto::error_code::invalid_argument, "invalid user id");
    return id;
  }
  app_request(id, request_kind::add_member, room,
              proto::add_member{id, room, std::move(user)});
  return id;
}

bool engine::import_outbox(std::string_view bytes, millis /*now*/) {
  if (!outbox_.import_bytes(bytes)) return false;
  flush_unsent();
  return true;
}

// ---- outputs -------------------------------------------------------------------------------

std::optional<transport_op> engine::poll_transport() {
  flush_frames();
  if (transport_ops_.empty()) return std::nullopt;
  auto op = std::move(transport_ops_.front());
  transport_ops_.pop_front();
  return op;
}

std::optional<engine_event> engine::poll_event() {
  if (events_.empty()) return std::nullopt;
  auto ev = std::move(events_.front());
  events_.pop_front();
  return ev;
}

std::optional<millis> engine::poll_timeout() const { return timers_.poll(); }

// ---- connection transitions ----------------------------------------------------------------

void engine::set_state(connection_state s, millis retry_at, proto::error_code reason) {
  state_ = s;
  emit(state_changed{s, retry_at, reason});
}

void engine::connect(millis now) {
  push_transport(open_transport{});
  timers_.set(timer::connect, now + cfg_.connect_timeout);
  set_state(connection_state::connecting);
}

void engine::become_ready(const proto::welcome& w, millis now) {
  params_ = w.params;
  user_ = w.user;
  attempt_ = 0;  // the backoff starts over after every successful handshake
  timers_.stop(timer::connect);
  arm_dead_peer(now);
  set_state(connection_state::ready);
  // One batch: rejoin every room with its resume point, then resend the outbox in order.
  flush_unsent();
}

void engine::become_failed(proto::error_code reason) {
  end_session();
  set_state(connection_state::failed, millis{0}, reason);
}

void engine::end_session() {
  if (transport_open(state_)) push_transport(close_transport{close_normal});
  reset_session();
  timers_.stop(timer::reconnect);
}

void engine::abandon_transport(std::uint16_t close_code, millis now) {
  push_transport(close_transport{close_code});
  lose_transport(now);
}

void engine::lose_transport(millis now) {
  reset_session();
  const millis delay = cfg_.backoff.delay(attempt_++, rng_);
  timers_.set(timer::reconnect, now + delay);
  set_state(connection_state::backing_off, now + delay);
}

void engine::reset_session() {
  outgoing_.clear();
  in_flight_.clear();
  presence_sent_ = false;
  timers_.stop(timer::connect);
  timers_.stop(timer::dead_peer);
  timers_.stop(timer::rate_retry);
  requeue_requests();
  for (auto& [name, room] : rooms_) {
    room.join_sent = room.joined = false;
    room.fill_id.reset();
    room.stream.drop_buffer();  // the replay after the rejoin sends those events again
    room.throttle = proto::typing_throttle{};
  }
}

void engine::requeue_requests() {
  for (auto it = requests_.begin(); it != requests_.end();) {
    auto& req = it->second;
    switch (req.kind) {
      case request_kind::leave:
        // Done by losing the session it applied to.
        settle_leave(req.room);
        emit(request_done{it->first});
        it = requests_.erase(it);
        break;
      case request_kind::gap_fill:  // the resume of the rejoin replays what it would fetch
      case request_kind::refresh:   // the next hello carries the new token
        it = requests_.erase(it);
        break;
      default:  // asked again once ready
        req.sent = false;
        ++it;
        break;
    }
  }
}

void engine::arm_dead_peer(millis now) {
  timers_.set(timer::dead_peer,
              now + proto::dead_peer_after(millis{params_.heartbeat_ms}));
}

void engine::hold_for_rate_limit(std::uint32_t retry_ms, millis now) {
  // Wait for the later of all announced retry times: the bucket is empty until then.
  const millis at = now + millis{std::max<std::uint32_t>(retry_ms, 1)};
  const auto current = timers_.get(timer::rate_retry);
  timers_.set(timer::rate_retry, current ? std::max(*current, at) : at);
}

void engine::flush_unsent() {
  // While a rate-limit hold is armed nothing new goes out, so sends keep their order.
  if (state_ != connection_state::ready || timers_.get(timer::rate_retry)) return;
  for (auto& [name, room] : rooms_)
    if (!room.join_sent && !room.leaving) send_join(name, room);
  if (presence_ && !presence_sent_) {
    transmit(proto::set_presence{*presence_});
    presence_sent_ = true;
  }
  for (auto& [id, req] : requests_) {
    if (req.sent) continue;
    transmit(req.msg);
    req.sent = true;
  }
  for (const auto& e : outbox_.entries())
    if (in_flight_.insert(e.cid).second) transmit(proto::send{e.room, e.cid, e.text});
}

void engine::send_join(const std::string& name, room_entry& room) {
  // A room joined before resumes from its last delivered seq; a new one starts at the head.
  transmit(proto::join{room.join_id, name, room.stream.resume()});
  room.join_sent = true;
}

// ---- server messages -----------------------------------------------------------------------

bool engine::on_handshake_message(proto::message& m, millis now) {
  if (auto* w = std::get_if<proto::welcome>(&m)) {
    if (w->version < proto::version_min || w->version > proto::version_max)
      become_failed(proto::error_code::version_mismatch);
    else
      become_ready(*w, now);
    return true;
  }
  if (auto* e = std::get_if<proto::error>(&m)) {
    if (is_auth_error(e->code) || e->code == proto::error_code::version_mismatch)
      become_failed(e->code);
    else
      abandon_transport(close_normal, now);  // transient (internal, rate limit): try again later
    return true;
  }
  return false;  // only welcome or error may come before the handshake completes
}

bool engine::on_message(proto::message& m, millis now) {
  return std::visit(
      overloaded{
          [&](proto::joined& j) { return on_joined(j); },
          [&](proto::event& e) { return on_event(e.ev); },
          [&](proto::ack& a) { return on_ack(a); },
          [&](proto::history_page& p) { return on_history_page(p); },
          [&](proto::typing_update& t) { return on_typing_update(t, now); },
          [&](proto::presence& p) {
            emit(presence_changed{std::move(p.entry)});
            return true;
          },
          [&](proto::ping& p) {
            transmit(proto::pong{p.nonce});
            return true;
          },
          // The engine never pings, but an unsolicited pong is a heartbeat (as in RFC 6455):
          // it already counted as traffic for the dead-peer timer.
          [&](proto::pong&) { return true; },
          [&](proto::error& e) { return on_error(e, now); },
          [&](proto::ok& o) { return on_ok(o); },
          [&](proto::room_list& l) { return on_room_list(l); },
          // A second welcome, a client-to-server type, or a type v1 does not define.
          [&](auto&) { return false; },
      },
      m);
}

bool engine::on_joined(proto::joined& j) {
  auto* room = find_room(j.room);
  if (room == nullptr || !room->join_sent || room->joined) return false;  // never asked
  // The join carried the stream's resume point, which cannot move before joined arrives.
  const bool asked_resume = room->stream.resume().has_value();
  if (j.resumed) {
    // A resume is only possible from the point we sent, within the same epoch.
    if (!asked_resume || j.epoch != room->stream.epoch() || j.head < room->stream.last())
      return false;
  } else {
    room->stream.restart(proto::resume_point{j.epoch, j.head});
  }
  room->joined = true;
  emit(room_joined{j.room, j.epoch, j.head, std::move(j.members)});
  // Without a resume request there is nothing local to reset; with one, the app must reload.
  if (!j.resumed && asked_resume) emit(room_reset{j.room, j.epoch, j.head});
  return true;
}

bool engine::on_event(proto::room_event& ev) {
  bool legal = false;
  auto* entry = live_room(ev.room, legal);
  if (entry == nullptr) return legal;
  auto& [name, room] = *entry;
  // The epoch cannot change under a live subscription; a new log shows up as a failed resume.
  if (ev.epoch != room.stream.epoch()) return false;
  std::vector<proto::room_event> ready;
  room.stream.admit(std::move(ev), ready);
  deliver(name, room, ready);
  if (room.stream.has_gap()) request_fill(name, room);
  return true;
}

bool engine::on_ack(const proto::ack& a) {
  if (in_flight_.erase(a.cid) == 0) return false;  // an ack for nothing we have sent
  outbox_.remove(a.cid);
  emit(message_acked{a.room, a.cid, a.seq, a.ts});
  return true;
}

bool engine::on_history_page(proto::history_page& page) {
  auto req = take_answered(page.id, {request_kind::history, request_kind::gap_fill});
  if (!req || req->room != page.room) return false;
  for (auto& ev : page.events)
    if (!adopt_page_event(ev, page)) return false;
  if (req->kind == request_kind::history) {
    emit(history_loaded{page.id, std::move(page.room), std::move(page.events), page.more});
    return true;
  }
  auto* room = find_room(req->room);
  if (room == nullptr || room->leaving || room->fill_id != page.id) return true;  // left since
  room->fill_id.reset();
  return on_fill_page(req->room, *room, page);
}

bool engine::on_fill_page(const std::string& name, room_entry& room,
                          proto::history_page& page) {
  if (page.epoch != room.stream.epoch()) return false;
  std::vector<proto::room_event> ready;
  for (auto& ev : page.events) room.stream.admit(std::move(ev), ready);
  const bool progressed = !ready.empty();
  deliver(name, room, ready);
  if (!room.stream.has_gap()) return true;
  // A page that brings nothing after our last seq, while later events are buffered, means
  // the missing events left the history: reset to what we hold instead of asking forever.
  if (!progressed) skip_unfillable_gap(name, room);
  if (room.stream.has_gap()) request_fill(name, room);
  return true;
}

bool engine::on_typing_update(const proto::typing_update& t, millis now) {
  bool legal = false;
  auto* entry = live_room(t.room, legal);
  if (entry == nullptr) return legal;
  auto& typing = entry->second.typing;
  const bool changed = t.on ? typing.start(t.user, now + millis{params_.typing_expiry_ms})
                            : typing.stop(t.user);
  if (changed) emit(typing_changed{t.room, t.user, t.on});
  rearm_typing_timer();
  return true;
}

bool engine::on_error(const proto::error& e, millis now) {
  if (is_auth_error(e.code)) {
    become_failed(e.code);  // an expired or revoked token needs the app: set_token + start
    return true;
  }
  if (!e.cid.empty()) return on_send_error(e, now);
  if (e.id != 0) return on_request_error(e, now);
  if (e.code == proto::error_code::rate_limited) {
    hold_for_rate_limit(e.retry_ms, now);  // e.g. a typing notice: nothing to resend
    return true;
  }
  // Not tied to a request (a typing notice refused, say): reported, not swallowed.
  emit(request_failed{0, e.room, e.code, e.message});
  return true;
}

bool engine::on_send_error(const proto::error& e, millis now) {
  if (in_flight_.erase(e.cid) == 0) return false;
  if (e.code == proto::error_code::rate_limited) {
    // Not processed by the server: it stays in the outbox and goes again with the same cid.
    hold_for_rate_limit(e.retry_ms, now);
    return true;
  }
  auto entry = outbox_.remove(e.cid);
  emit(message_failed{entry ? entry->room : e.room, e.cid, e.code, e.message});
  return true;
}

bool engine::on_request_error(const proto::error& e, millis now) {
  if (auto it = requests_.find(e.id); it != requests_.end() && it->second.sent) {
    if (e.code == proto::error_code::rate_limited) {
      it->second.sent = false;
      hold_for_rate_limit(e.retry_ms, now);
      return true;
    }
    auto req = std::move(it->second);
    requests_.erase(it);
    if (req.kind == request_kind::gap_fill) return on_fill_failed(req.room, e.id);
    if (req.kind == request_kind::leave) settle_leave(req.room);
    emit(request_failed{e.id, std::move(req.room), e.code, e.message});
    flush_unsent();  // a settled leave may have a rejoin waiting
    return true;
  }
  return on_join_error(e, now);
}

bool engine::on_join_error(const proto::error& e, millis now) {
  auto it = std::find_if(rooms_.begin(), rooms_.end(), [&](const auto& r) {
    return r.second.join_id == e.id && r.second.join_sent && !r.second.joined;
  });
  if (it == rooms_.end()) return false;  // an error for a request we never made
  if (e.code == proto::error_code::rate_limited) {
    it->second.join_sent = false;
    hold_for_rate_limit(e.retry_ms, now);
    return true;
  }
  // Refused (forbidden, limit, bad id): the room is not remembered, so no rejoin retries it.
  std::string name = it->first;
  rooms_.erase(it);
  rearm_typing_timer();
  emit(request_failed{e.id, std::move(name), e.code, e.message});
  return true;
}

bool engine::on_fill_failed(const std::string& name, std::uint32_t id) {
  auto* room = find_room(name);
  if (room == nullptr || room->fill_id != id) return true;  // left since
  room->fill_id.reset();
  skip_unfillable_gap(name, *room);
  if (room->stream.has_gap()) request_fill(name, *room);
  return true;
}

bool engine::on_ok(const proto::ok& o) {
  auto req = take_answered(o.id, {request_kind::leave, request_kind::create_room,
                                  request_kind::add_member, request_kind::refresh});
  if (!req) return false;
  if (req->kind == request_kind::leave) settle_leave(req->room);
  emit(request_done{o.id});
  flush_unsent();  // a settled leave may have a rejoin waiting
  return true;
}

bool engine::on_room_list(proto::room_list& l) {
  if (!take_answered(l.id, {request_kind::list_rooms})) return false;
  emit(rooms_listed{l.id, std::move(l.rooms)});
  return true;
}

// ---- rooms ---------------------------------------------------------------------------------

engine::room_entry* engine::find_room(std::string_view name) {
  auto it = rooms_.find(name);
  return it == rooms_.end() ? nullptr : &it->second;
}

engine::room_map::value_type* engine::live_room(std::string_view name, bool& legal) {
  auto it = rooms_.find(name);
  if (it == rooms_.end()) {
    legal = false;
    return nullptr;
  }
  // After a leave the server may still send what it had queued before processing it.
  legal = it->second.leaving || it->second.joined;
  return it->second.leaving || !it->second.joined ? nullptr : &*it;
}

std::size_t engine::remembered_rooms() const {
  return static_cast<std::size_t>(std::count_if(
      rooms_.begin(), rooms_.end(), [](const auto& r) { return !r.second.leaving; }));
}

void engine::settle_leave(const std::string& name) {
  auto it = rooms_.find(name);
  if (it == rooms_.end() || !it->second.leaving) return;
  if (!it->second.rejoin) {
    rooms_.erase(it);
    rearm_typing_timer();
    return;
  }
  // join() was called while the leave was in flight: the next flush joins again, resuming
  // from where we left off. Callers flush; reset_session must not (its transport is gone).
  auto& room = it->second;
  room.leaving = room.rejoin = room.join_sent = room.joined = false;
  room.fill_id.reset();
  room.stream.drop_buffer();
}

bool engine::adopt_page_event(proto::room_event& ev, const proto::history_page& page) {
  // Page entries may leave out what the page already says (room, epoch).
  if (ev.room.empty()) ev.room = page.room;
  if (ev.epoch == 0) ev.epoch = page.epoch;
  return ev.room == page.room && ev.epoch == page.epoch;
}

void engine::deliver(const std::string& name, room_entry& room,
                     std::vector<proto::room_event>& ready) {
  bool typing_cleared = false;
  for (auto& ev : ready) {
    // A message ends its author's typing; receivers clear it here instead of waiting for off.
    const bool clears = ev.kind == static_cast<std::uint32_t>(proto::event_kind::message) &&
                        room.typing.stop(ev.from);
    std::string author = clears ? ev.from : std::string{};
    emit(message_received{std::move(ev)});
    if (clears) emit(typing_changed{name, std::move(author), false});
    typing_cleared = typing_cleared || clears;
  }
  if (typing_cleared) rearm_typing_timer();
}

void engine::request_fill(const std::string& name, room_entry& room) {
  if (room.fill_id || state_ != connection_state::ready) return;  // one fill per room
  const auto id = next_request_id();
  room.fill_id = id;
  submit(id, request_kind::gap_fill, name,
         proto::history{id, name, std::nullopt, room.stream.last(), params_.history_limit});
}

void engine::skip_unfillable_gap(const std::string& name, room_entry& room) {
  std::vector<proto::room_event> ready;
  const auto head = room.stream.skip_gap(ready);
  emit(room_reset{name, room.stream.epoch(), head});
  deliver(name, room, ready);
}

void engine::expire_typing(millis now) {
  for (auto& [name, room] : rooms_)
    for (auto& user : room.typing.expire(now)) emit(typing_changed{name, std::move(user), false});
  rearm_typing_timer();
}

void engine::rearm_typing_timer() {
  std::optional<millis> earliest;
  for (const auto& [name, room] : rooms_) earliest = earlier(earliest, room.typing.next_expiry());
  if (earliest)
    timers_.set(timer::typing_expiry, *earliest);
  else
    timers_.stop(timer::typing_expiry);
}

// ---- requests ------------------------------------------------------------------------------

std::uint32_t engine::next_request_id() {
  if (++last_request_id_ == 0) ++last_request_id_;  // 0 means "no request" on the wire
  return last_request_id_;
}

void engine::submit(std::uint32_t id, request_kind kind, std::string room, proto::message msg) {
  requests_.insert_or_assign(id, pending_request{kind, std::move(room), std::move(msg), false});
  flush_unsent();
}

void engine::app_request(std::uint32_t id, request_kind kind, std::string room,
                         proto::message msg) {
  const auto waiting = static_cast<std::size_t>(
      std::count_if(requests_.begin(), requests_.end(), [](const auto& r) {
        return r.second.kind != request_kind::gap_fill;
      }));
  if (waiting >= max_pending_requests) {
    fail_request(id, std::move(room), proto::error_code::limit_exceeded,
                 "too many requests waiting for an answer");
    return;
  }
  submit(id, kind, std::move(room), std::move(msg));
}

std::optional<engine::pending_request> engine::take_answered(
    std::uint32_t id, std::initializer_list<request_kind> expected) {
  auto it = requests_.find(id);
  if (it == requests_.end() || !it->second.sent) return std::nullopt;
  if (std::find(expected.begin(), expected.end(), it->second.kind) == expected.end())
    return std::nullopt;  // an answer of the wrong type for this request
  auto req = std::move(it->second);
  requests_.erase(it);
  return req;
}

void engine::fail_request(std::uint32_t id, std::string room, proto::error_code code,
                          std::string message) {
  emit(request_failed{id, std::move(room), code, std::move(message)});
}

bool engine::room_id_ok(std::uint32_t id, const std::string& room) {
  // Checked here with the server's own rule, so a malformed id fails at once, offline too.
  if (proto::valid_room_id(room)) return true;
  fail_request(id, room, proto::error_code::invalid_argument, "invalid room id");
  return false;
}

std::string engine::make_cid() {
  char buf[33];
  const auto hi = rng_.next();
  const auto lo = rng_.next();
  std::snprintf(buf, sizeof buf, "%016" PRIx64 "%016" PRIx64, hi, lo);
  return std::string(buf, 32);
}

engine::room_entry* engine::sendable_room(const std::string& room, const std::string& cid,
                                          const std::string& text) {
  auto refuse = [&](proto::error_code code, const char* why) -> room_entry* {
    emit(message_failed{room, cid, code, why});
    return nullptr;
  };
  auto* target = find_room(room);
  // Checked here as the server would, so a hopeless send never occupies the outbox.
  if (target == nullptr || target->leaving)
    return refuse(proto::error_code::not_joined, "join the room before sending");
  if (text.size() > params_.max_text)
    return refuse(proto::error_code::too_large, "text is longer than max_text");
  if (!proto::valid_utf8(text))
    return refuse(proto::error_code::invalid_utf8, "text is not valid UTF-8");
  return target;
}

// ---- output queues -------------------------------------------------------------------------

void engine::transmit(const proto::message& m) { outgoing_.push_back(proto::encode(m)); }

void engine::push_transport(transport_op op) {
  flush_frames();  // messages queued before a close still go out ahead of it
  transport_ops_.push_back(std::move(op));
}

void engine::flush_frames() {
  const std::size_t max_batch = std::max<std::uint32_t>(params_.max_batch, 1);
  std::string frame;
  std::size_t count = 0;
  for (auto& msg : outgoing_) {
    if (count > 0 && (count == max_batch || frame.size() + msg.size() > params_.max_frame)) {
      transport_ops_.push_back(send_frame{std::move(frame)});
      frame.clear();
      count = 0;
    }
    frame += msg;
    ++count;
  }
  if (count > 0) transport_ops_.push_back(send_frame{std::move(frame)});
  outgoing_.clear();
}

void engine::emit(engine_event ev) { events_.push_back(std::move(ev)); }

}  // namespace parley::client
