// fuzz_server_session: the server's per-connection protocol logic (session_logic) and the state
// sessions share (shared_state over an in-memory SQLite store), driven in-process with no
// sockets. Up to three sessions at once take raw frames or well-formed client messages built
// from the script (fuzz_input.hpp), open and close, and live on a virtual clock.
//
// Invariants, checked on every frame a session writes:
//  - it decodes with the client's limits, holds at most max_batch messages and max_frame bytes
//    (one larger message goes alone), and only server-to-client types;
//  - errors are typed: a known code, `type` on unsupported, `retry` on rate_limited;
//  - per (tenant, user, cid) at most one ack with dup=false, and every ack of that cid names
//    the same room, epoch, seq and ts, which is the event that carries the cid;
//  - each session's events for a room follow `joined` without gap or repeat (replay, then
//    live), in the epoch joined, and only for rooms it joined;
//  - a (tenant, room, epoch, seq) names one event everywhere: live, replayed, or in history.
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "config.hpp"
#include "jwt.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "session_logic.hpp"
#include "shared_state.hpp"
#include "store.hpp"

#include "parley/protocol/codec.hpp"

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <variant>

namespace {

namespace proto = parley::proto;
namespace server = parley::server;
using parley::fuzz::expect;
using parley::fuzz::fuzz_input;
using parley::fuzz::room_pool;
using parley::fuzz::tenant_pool;
using parley::fuzz::user_pool;

const std::string& secret = parley::fuzz::jwt_secret;
const std::array<std::string, 4> cid_pool{"c1", "c2", "c3", "0123456789abcdef0123456789abcdef"};
constexpr std::size_t slots = 3;
constexpr int max_frames_per_pump = 100000;

bool server_to_client(const proto::message& m) {
  return std::holds_alternative<proto::welcome>(m) || std::holds_alternative<proto::joined>(m) ||
         std::holds_alternative<proto::room_list>(m) || std::holds_alternative<proto::ack>(m) ||
         std::holds_alternative<proto::event>(m) ||
         std::holds_alternative<proto::history_page>(m) ||
         std::holds_alternative<proto::typing_update>(m) ||
         std::holds_alternative<proto::presence>(m) || std::holds_alternative<proto::ping>(m) ||
         std::holds_alternative<proto::pong>(m) || std::holds_alternative<proto::error>(m) ||
         std::holds_alternative<proto::ok>(m);
}

/// Options for one run: the defaults, or small bounds that reach the limits quickly.
server::server_options options(fuzz_input& in) {
  server::server_options o;
  o.jwt_secret = secret;
  // Dedup records must outlive the run: a pruned cid may legitimately be stored again.
  o.dedup_window_s = std::uint64_t{1} << 40;
  if (in.flag()) {
    o.max_rooms = in.number<std::uint32_t>(0, 4);
    o.max_text = in.number<std::uint32_t>(0, 64);
    o.history_limit = in.number<std::uint32_t>(0, 8);
    o.rate_burst = in.number<std::uint32_t>(0, 8);
    o.rate_per_sec = in.number<std::uint32_t>(0, 100);
    o.send_queue_bytes = in.number<std::uint64_t>(512, 8192);
    o.max_frame = in.number<std::uint32_t>(256, 4096);
  }
  return o;
}

/// What a session's client has received for one room since `joined`.
struct room_stream_model {
  std::uint64_t epoch = 0;
  std::optional<std::uint64_t> next;  // the seq the next event must have
  std::uint64_t replay_from_max = 0;  // without `next` (resumed): the first event is <= this
};

/// One connection slot: the session (null when closed) and what its client has seen.
struct slot {
  std::unique_ptr<server::session_logic> logic;
  std::optional<server::user_key> user;  // from welcome
  std::map<std::string, room_stream_model> rooms;
};

/// An event as every reader must see it.
using event_identity = std::tuple<std::string, std::string, std::string, std::uint64_t,
                                  std::uint32_t>;  // from, cid, text, ts, kind
/// Where an acked send landed.
using ack_identity = std::tuple<std::string, std::uint64_t, std::uint64_t, std::uint64_t>;

/// One fuzz run: the hub, its store, the sessions, and the invariant models.
class server_run {
 public:
  explicit server_run(fuzz_input& in)
      : in_(in),
        options_(options(in)),
        db_(":memory:", stats_),
        hub_(options_, db_, stats_, in.number<std::uint64_t>(0, 255)) {}

  void run() {
    while (!in_.done()) {
      step();
      pump();
    }
  }

 private:
  // ---- steps ----

  void step() {
    auto& s = slots_[in_.number<std::size_t>(0, slots - 1)];
    switch (in_.number(0, 9)) {
      case 0: open(s); break;
      case 1: close(s); break;
      case 2: frame(s, in_.bytes()); break;
      case 3: advance(); break;
      case 4:
        if (in_.number(0, 15) == 0) hub_.close_all(proto::close_code::going_away, now_, [] {});
        break;
      default: frame(s, client_frame()); break;
    }
  }

  void open(slot& s) {
    if (s.logic) return;
    s = slot{};
    s.logic = std::make_unique<server::session_logic>(hub_, now_);
    // Most sessions start authenticated, so the script spends its bytes past the handshake.
    if (!in_.flag()) frame(s, proto::encode(hello(true)));
  }

  void close(slot& s) {
    if (!s.logic) return;
    s.logic->handle_transport_closed(now_);
    s.logic.reset();
  }

  void frame(slot& s, const std::string& bytes) {
    if (s.logic) s.logic->handle_frame(bytes, now_);
  }

  void advance() {
    const auto by = in_.number<std::int64_t>(0, 200000);
    now_.mono += proto::millis{by};
    now_.wall_ms += static_cast<std::uint64_t>(by);
    for (auto& s : slots_)
      if (s.logic) s.logic->handle_timeout(now_);
    if (now_.mono >= hub_.next_deadline()) hub_.handle_timeout(now_);
  }

  // ---- client messages built from the script ----

  std::string client_frame() {
    std::string bytes;
    const int count = in_.number(1, 4);
    for (int i = 0; i < count; ++i) proto::encode(client_message(), bytes);
    return bytes;
  }

  proto::message client_message() {
    const std::string room = in_.pick(room_pool);
    switch (in_.number(0, 15)) {
      case 0: return hello(in_.flag());
      case 1:
      case 2: return join(room);
      case 3: return proto::leave{next_id(), room};
      case 4: return proto::list_rooms{next_id()};
      case 5:
      case 6:
      case 7: return send(room);
      case 8: return history(room);
      case 9: return proto::typing{room, in_.flag()};
      case 10: return proto::set_presence{static_cast<proto::presence_status>(in_.number(0, 2))};
      case 11: return proto::ping{in_.number<std::uint64_t>(0, 9)};
      case 12: return proto::pong{in_.number<std::uint64_t>(0, 9)};
      case 13: return proto::refresh{next_id(), token()};
      case 14: return proto::create_room{next_id(), room, in_.flag()};
      default: {
        if (in_.flag()) return proto::ok{next_id()};  // a server-only type
        return proto::add_member{next_id(), room, in_.flag() ? in_.pick(user_pool) : in_.bytes(80)};
      }
    }
  }

  proto::hello hello(bool valid) {
    proto::hello h;
    h.token = valid ? token_for(3600) : token();
    if (!valid && in_.flag()) {
      h.min_version = in_.number<std::uint32_t>(0, 3);
      h.max_version = in_.number<std::uint32_t>(0, 3);
    }
    return h;
  }

  // A token for a user and tenant from the pools, expiring `ttl_s` from now.
  std::string token_for(std::int64_t ttl_s) {
    server::jwt_claims claims;
    claims.sub = in_.pick(user_pool);
    claims.tid = in_.pick(tenant_pool);
    claims.exp = static_cast<std::int64_t>(now_.wall_ms / 1000) + ttl_s;
    return server::jwt_sign_hs256(claims, secret);
  }

  // Valid, short-lived, expired, signed with another key, or arbitrary bytes.
  std::string token() {
    switch (in_.number(0, 4)) {
      case 0: return token_for(3600);
      case 1: return token_for(in_.number(-5, 60));
      case 2: {
        server::jwt_claims claims{"alice", "acme"};
        claims.exp = static_cast<std::int64_t>(now_.wall_ms / 1000) + 3600;
        return server::jwt_sign_hs256(claims, "another-secret");
      }
      default: return in_.bytes(300);
    }
  }

  proto::join join(const std::string& room) {
    proto::join j{next_id(), room, std::nullopt};
    if (in_.flag()) {
      const auto known = epochs_.find(room);
      const std::uint64_t epoch = known != epochs_.end() && in_.flag()
                                      ? known->second
                                      : in_.number<std::uint64_t>(0, 3);
      j.resume = proto::resume_point{epoch, in_.number<std::uint64_t>(0, 40)};
    }
    return j;
  }

  proto::send send(const std::string& room) {
    proto::send s;
    s.room = room;
    s.cid = in_.flag() ? in_.pick(cid_pool) : in_.bytes(80);
    s.text = in_.bytes(200);
    return s;
  }

  proto::history history(const std::string& room) {
    proto::history h{next_id(), room, std::nullopt, std::nullopt, in_.number<std::uint32_t>(0, 12)};
    if (in_.flag()) h.before = in_.number<std::uint64_t>(0, 40);
    if (in_.flag()) h.after = in_.number<std::uint64_t>(0, 40);
    return h;
  }

  std::uint32_t next_id() { return ++last_id_; }

  // ---- outputs and invariants ----

  void pump() {
    for (auto& s : slots_) {
      if (!s.logic) continue;
      int frames = 0;
      for (auto frame = s.logic->poll_transmit(); !frame.empty();
           frame = s.logic->poll_transmit()) {
        expect(++frames < max_frames_per_pump, "poll_transmit drains");
        const auto bytes = frame.joined();
        expect(bytes.size() == frame.bytes, "frame_view counts its bytes");
        const std::size_t messages = frame.messages.size();
        s.logic->transmitted(frame);
        check_frame(s, bytes, messages);
      }
      // The driver closes the WebSocket and the session goes away.
      if (s.logic->poll_close()) close(s);
    }
  }

  void check_frame(slot& s, const std::string& bytes, std::size_t messages) {
    // What the engine accepts from a server: frames are checked with the client's own bounds.
  const auto decoded = proto::decode_frame(bytes, parley::fuzz::client_decode_limits());
    expect(static_cast<bool>(decoded), "every server frame decodes");
    expect(decoded.messages.size() == messages, "poll_transmit counts the frame's messages");
    expect(messages <= server::protocol_defaults.max_batch, "server frames respect max_batch");
    expect(messages == 1 || bytes.size() <= options_.max_frame, "server frames respect max_frame");
    for (const auto& m : decoded.messages) {
      expect(server_to_client(m), "the server sends only server-to-client messages");
      std::visit([&](const auto& msg) { on_message(s, msg); }, m);
    }
  }

  void on_message(slot& s, const proto::welcome& w) {
    expect(!s.user.has_value(), "one welcome per session");
    s.user = server::user_key{w.tenant, w.user};
  }

  void on_message(slot& s, const proto::joined& j) {
    expect(s.user.has_value(), "joined only after welcome");
    epochs_[j.room] = j.epoch;
    auto& room = s.rooms[j.room];
    room.epoch = j.epoch;
    if (j.resumed) {
      room.next.reset();
      room.replay_from_max = j.head + 1;
    } else {
      room.next = j.head + 1;
    }
  }

  void on_message(slot& s, const proto::event& e) {
    const auto& ev = e.ev;
    const auto it = s.rooms.find(ev.room);
    expect(it != s.rooms.end(), "events come only for joined rooms");
    auto& room = it->second;
    expect(ev.epoch == room.epoch, "events belong to the joined epoch");
    if (room.next) {
      expect(ev.seq == *room.next, "each session sees a gapless, repeat-free seq stream");
    } else {
      expect(ev.seq >= 1 && ev.seq <= room.replay_from_max, "a replay starts within the head");
    }
    room.next = ev.seq + 1;
    remember(s, ev);
  }

  void on_message(slot& s, const proto::history_page& page) {
    std::uint64_t previous = 0;
    for (const auto& ev : page.events) {
      expect(ev.seq > previous, "history pages are in ascending seq");
      expect(ev.room == page.room && ev.epoch == page.epoch, "page events are the page's room");
      previous = ev.seq;
      remember(s, ev);
    }
  }

  void on_message(slot& s, const proto::ack& a) {
    expect(s.user.has_value(), "acks only after welcome");
    const auto key = std::tuple{s.user->tenant, s.user->user, a.cid};
    const ack_identity where{a.room, a.epoch, a.seq, a.ts};
    if (!a.duplicate) expect(stored_.insert(key).second, "a cid is stored at most once");
    const auto [it, fresh] = acks_.try_emplace(key, where);
    expect(fresh || it->second == where, "every ack of a cid names the same seq");
    const auto ev = events_.find({s.user->tenant, a.room, a.epoch, a.seq});
    if (ev != events_.end()) {
      expect(std::get<0>(ev->second) == s.user->user && std::get<1>(ev->second) == a.cid,
             "an ack names the event that carries its cid");
    }
  }

  void on_message(slot&, const proto::error& e) {
    const auto code = static_cast<std::uint32_t>(e.code);
    expect(code >= 1 && code <= static_cast<std::uint32_t>(proto::error_code::internal),
           "errors carry a known code");
    if (e.code == proto::error_code::unsupported) {
      expect(e.type != 0, "unsupported names the type");
    }
    if (e.code == proto::error_code::rate_limited) {
      expect(e.retry_ms >= 1, "rate_limited says when");
    }
  }

  template <class Other>
  void on_message(slot&, const Other&) {}

  // One (tenant, room, epoch, seq) is one event for every reader.
  void remember(const slot& s, const proto::room_event& ev) {
    expect(s.user.has_value(), "room events only after welcome");
    const event_identity what{ev.from, ev.cid, ev.text, ev.ts, ev.kind};
    const auto [it, fresh] = events_.try_emplace({s.user->tenant, ev.room, ev.epoch, ev.seq}, what);
    expect(fresh || it->second == what, "a seq names the same event everywhere");
    const auto ack = acks_.find({s.user->tenant, ev.from, ev.cid});
    if (ack != acks_.end()) {
      expect(ack->second == ack_identity{ev.room, ev.epoch, ev.seq, ev.ts},
             "the event that carries a cid is where its ack said");
    }
  }

  fuzz_input& in_;
  server::server_options options_;
  server::metrics stats_;
  server::store db_;
  server::shared_state hub_;
  std::array<slot, slots> slots_;  // destroyed before the hub they are attached to
  server::instant now_{proto::millis{1000000}, 1700000000000};
  std::uint32_t last_id_ = 0;
  std::map<std::string, std::uint64_t> epochs_;  // last epoch seen per room name
  std::set<std::tuple<std::string, std::string, std::string>> stored_;  // acked dup=false
  std::map<std::tuple<std::string, std::string, std::string>, ack_identity> acks_;
  std::map<std::tuple<std::string, std::string, std::uint64_t, std::uint64_t>, event_identity>
      events_;
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  server::set_log_level(server::log_level::error);  // one info line per session is noise here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in(data, size);
  server_run(in).run();
  return 0;
}
