#include "engine_test_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace parley::test {
namespace {

// Enough for every scenario here; hitting it means the engine and server ping-pong forever.
constexpr int max_drive_rounds = 10000;
constexpr int max_timer_jumps = 100000;

template <class... Ts>
struct overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
overloaded(Ts...) -> overloaded<Ts...>;

}  // namespace

// ---- scripted_server -----------------------------------------------------------------------

bool scripted_server::on_open(millis now) {
  ++opens;
  if (!accept_connections) return false;
  connected_ = true;
  if (pings) next_ping_ = now + millis{params.heartbeat_ms};
  return true;
}

void scripted_server::end_session() {
  connected_ = false;
  joined_.clear();
  next_ping_.reset();
}

void scripted_server::on_timeout(millis now) {
  if (!next_ping_ || *next_ping_ > now) return;
  push(proto::ping{++ping_nonce_});
  next_ping_ = now + millis{params.heartbeat_ms};
}

std::optional<millis> scripted_server::next_deadline() const {
  return connected_ ? next_ping_ : std::nullopt;
}

void scripted_server::on_frame(std::string_view bytes, millis now) {
  auto decoded = proto::decode_frame(bytes);
  ASSERT_TRUE(decoded) << "client sent an undecodable frame";
  frame_sizes.push_back(decoded.messages.size());
  frame_bytes.push_back(bytes.size());
  for (const auto& m : decoded.messages) {
    received.push_back(m);
    answer(m, now);
  }
  if (!replies_.empty()) push_batch(replies_);
  replies_.clear();
}

void scripted_server::answer(const proto::message& m, millis now) {
  std::visit(overloaded{
                 [&](const proto::hello& h) { on_hello(h); },
                 [&](const proto::join& j) { on_join(j); },
                 [&](const proto::send& s) { on_send(s, now); },
                 [&](const proto::history& h) { on_history(h); },
                 [&](const proto::leave& l) {
                   joined_.erase(l.room);
                   reply(proto::ok{l.id});
                 },
                 [&](const proto::list_rooms& l) {
                   proto::room_list list{l.id, {}};
                   for (const auto& [name, log] : rooms)
                     list.rooms.push_back({name, false, log.epoch, log.head(),
                                           joined_.count(name) != 0});
                   reply(list);
                 },
                 [&](const proto::create_room& c) { reply(proto::ok{c.id}); },
                 [&](const proto::add_member& a) { reply(proto::ok{a.id}); },
                 [&](const proto::refresh& r) { reply(proto::ok{r.id}); },
                 [&](const auto&) {},  // typing, set_presence, pong: recorded only
             },
             m);
}

void scripted_server::on_hello(const proto::hello& h) {
  if (refuse_hello) return reply(proto::error{0, *refuse_hello, "refused", {}, {}, 0, 0});
  if (!answer_hello) return;
  user_ = h.token;  // tests use the user name as the token
  reply(proto::welcome{welcome_version, "session-1", user_, "default", 1700000000000, params});
}

void scripted_server::on_join(const proto::join& j) {
  if (auto refusal = refuse_joins.find(j.room); refusal != refuse_joins.end())
    return reply(proto::error{j.id, refusal->second, "refused", j.room, {}, 0, 0});
  auto& log = log_of(j.room);
  joined_.insert(j.room);
  const auto& r = j.resume;
  const bool resumed = r && r->epoch == log.epoch && r->seq <= log.head() &&
                       r->seq + 1 >= log.trimmed_below;
  reply(proto::joined{j.id, j.room, log.epoch, log.head(), resumed,
                      {{user_, proto::presence_status::online, 0}}});
  if (!resumed) return;
  for (auto seq = r->seq + 1; seq <= log.head(); ++seq) reply(proto::event{log.events[seq - 1]});
}

void scripted_server::on_send(const proto::send& s, millis now) {
  auto refuse = [&](proto::error_code code, std::uint32_t retry) {
    reply(proto::error{0, code, "refused", s.room, s.cid, 0, retry});
  };
  if (rate_limit_sends > 0) {
    --rate_limit_sends;
    return refuse(proto::error_code::rate_limited, retry_ms);
  }
  if (refuse_sends) return refuse(*refuse_sends, 0);
  if (auto dup = dedup_.find(s.cid); dup != dedup_.end()) return reply(dup->second);
  auto& log = log_of(s.room);
  const auto ts = static_cast<std::uint64_t>(now.count()) + 1700000000000;
  log.events.push_back({s.room, log.epoch, log.head() + 1, 1, user_, s.cid, ts, s.text, 0});
  const auto& ev = log.events.back();
  reply(proto::ack{s.room, s.cid, ev.epoch, ev.seq, ev.ts, false});
  dedup_[s.cid] = proto::ack{s.room, s.cid, ev.epoch, ev.seq, ev.ts, true};
  if (joined_.count(s.room) != 0) reply(proto::event{ev});
}

void scripted_server::on_history(const proto::history& h) {
  auto& log = log_of(h.room);
  proto::history_page page{h.id, h.room, log.epoch, {}, false};
  const std::uint64_t oldest = std::max<std::uint64_t>(log.trimmed_below, 1);
  if (h.after) {
    // Oldest `limit` events after the given seq (gap fill).
    auto seq = std::max<std::uint64_t>(*h.after + 1, oldest);
    for (; seq <= log.head() && page.events.size() < h.limit; ++seq)
      page.events.push_back(log.events[seq - 1]);
    page.more = seq <= log.head();
  } else {
    // Newest `limit` events before the given seq (or the newest overall).
    const std::uint64_t end = h.before.value_or(log.head() + 1);
    std::uint64_t first = end > h.limit ? end - h.limit : 1;
    first = std::max(first, oldest);
    for (auto seq = first; seq < end && seq <= log.head(); ++seq)
      page.events.push_back(log.events[seq - 1]);
    page.more = first > oldest;
  }
  reply(page);
}

scripted_server::room_log& scripted_server::log_of(const std::string& room) {
  return rooms[room];  // joining an unknown room creates it, as the real server does
}

proto::room_event scripted_server::post(const std::string& room, const std::string& from,
                                        const std::string& text, bool live) {
  auto& log = log_of(room);
  log.events.push_back({room, log.epoch, log.head() + 1, 1, from, {}, 1700000000000, text, 0});
  if (live && connected_ && joined_.count(room) != 0) push(proto::event{log.events.back()});
  return log.events.back();
}

void scripted_server::push(const proto::message& m) { push_batch({m}); }

void scripted_server::push_batch(const std::vector<proto::message>& ms) {
  if (silent || lose_output || !connected_) return;
  std::string frame;
  for (const auto& m : ms) proto::encode(m, frame);
  to_client_.push_back(std::move(frame));
}

// ---- bench ---------------------------------------------------------------------------------

client::engine_config default_config(std::uint64_t seed) {
  client::engine_config cfg;
  cfg.token = "alice";
  cfg.seed = seed;
  return cfg;
}

bench::bench(client::engine_config cfg) : engine(std::move(cfg)) {}

void bench::perform(client::transport_op op) {
  std::visit(overloaded{
                        [&](client::open_transport) {
                          if (server.on_open(now))
                            engine.handle_open(now);
                          else
                            engine.handle_close(now);
                        },
                        [&](client::send_frame& f) {
                          if (server.connected()) server.on_frame(f.bytes, now);
                        },
                        [&](client::close_transport c) {
                          server.closes.push_back(c.code);
                          server.end_session();
                          server.to_client().clear();  // never delivered on a closed socket
                        },
                    },
                    op);
}

void bench::drive() {
  for (int round = 0; round < max_drive_rounds; ++round) {
    bool moved = false;
    while (auto op = engine.poll_transport()) {
      perform(std::move(*op));
      moved = true;
    }
    while (auto ev = engine.poll_event()) {
      if (const auto* s = std::get_if<client::state_changed>(&*ev)) states.emplace_back(now, *s);
      events.push_back(std::move(*ev));
      moved = true;
    }
    if (!server.to_client().empty()) {
      auto frame = std::move(server.to_client().front());
      server.to_client().pop_front();
      engine.handle_bytes(frame, now);
      moved = true;
    }
    if (!moved) return;
  }
  ADD_FAILURE() << "drive() did not settle";
}

std::optional<millis> bench::next_deadline() const {
  return client::earlier(engine.poll_timeout(), server.next_deadline());
}

void bench::advance(millis d) {
  const millis until = now + d;
  drive();
  for (int jump = 0; jump < max_timer_jumps; ++jump) {
    const auto next = next_deadline();
    if (!next || *next > until) {
      now = until;
      return;
    }
    now = std::max(now, *next);
    engine.handle_timeout(now);
    server.on_timeout(now);
    drive();
  }
  ADD_FAILURE() << "advance() kept firing timers";
}

void bench::connect() {
  engine.start(now);
  drive();
  ASSERT_EQ(engine.state(), client::connection_state::ready);
}

void bench::drop() {
  server.end_session();
  server.to_client().clear();
  engine.handle_close(now);
  drive();
}

void join_lobby(bench& b, int existing) {
  for (int i = 0; i < existing; ++i) b.server.post("lobby", "bob", "old " + std::to_string(i));
  b.engine.join("lobby", b.now);
  b.connect();
  ASSERT_EQ(b.events_of<client::room_joined>().size(), 1u);
}

void reconnect(bench& b) {
  b.advance(1min);
  ASSERT_EQ(b.engine.state(), client::connection_state::ready);
}

std::vector<std::uint64_t> seqs_of(const std::vector<client::message_received>& received) {
  std::vector<std::uint64_t> out;
  for (const auto& r : received) out.push_back(r.event.seq);
  return out;
}

}  // namespace parley::test
