// fuzz_engine: the client engine driven by an arbitrary sequence of driver inputs, server frames
// and app commands, on a virtual clock.
//
// The fuzz input is a script (fuzz_input.hpp) of steps. Server frames are either raw bytes or
// well-formed messages built from the script and aimed at what the engine actually asked for
// (its join, history and request ids, the cids it sent, the epochs and seqs of its rooms), so
// the fuzzer reaches resume, gap fill, acks and errors instead of stopping at the decoder.
//
// Invariants checked after every step:
//  - message_received is gapless per room and epoch: each seq is the previous one + 1, except
//    after room_reset (continues after its head) or when the room was forgotten and joined
//    again; its epoch is the room's current one;
//  - every cid send_message returned stays in pending() until exactly one message_acked or
//    message_failed names it; pending() holds no other cid; a full outbox refuses with "";
//  - pending().size() <= capacity, and the outbox export re-imports to the same entries;
//  - every frame the engine sends decodes, holds only client-to-server messages and respects
//    the announced max_batch / max_frame (a single larger message goes alone);
//  - draining poll_transport/poll_event terminates, firing the timer at poll_timeout()
//    converges, and the last state_changed matches state().
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "parley/client/engine.hpp"
#include "parley/protocol/codec.hpp"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

namespace {

namespace proto = parley::proto;
namespace client = parley::client;
using parley::fuzz::expect;
using parley::fuzz::fuzz_input;
using parley::fuzz::room_pool;
using parley::fuzz::user_pool;
using proto::millis;

const std::array<std::string, 3> token_pool{"token-a", "token-b", ""};
constexpr std::uint64_t largest_uint53 = (std::uint64_t{1} << 53) - 1;

// Bounds on one step's outputs: far above anything legitimate, low enough to flag a loop.
constexpr int max_transport_ops = 100000;
constexpr int max_events = 1 << 21;
constexpr int max_timer_firings = 16;

// Frames decoded from the engine use the widest bounds; the announced ones are checked apart.
proto::decode_limits wide_limits() {
  proto::decode_limits limits;
  limits.max_frame = std::size_t{64} << 20;
  limits.max_batch = std::size_t{1} << 20;
  return limits;
}

bool client_to_server(const proto::message& m) {
  return std::holds_alternative<proto::hello>(m) || std::holds_alternative<proto::join>(m) ||
         std::holds_alternative<proto::leave>(m) || std::holds_alternative<proto::list_rooms>(m) ||
         std::holds_alternative<proto::send>(m) || std::holds_alternative<proto::history>(m) ||
         std::holds_alternative<proto::typing>(m) ||
         std::holds_alternative<proto::set_presence>(m) || std::holds_alternative<proto::pong>(m) ||
         std::holds_alternative<proto::refresh>(m) ||
         std::holds_alternative<proto::create_room>(m) ||
         std::holds_alternative<proto::add_member>(m);
}

/// What the app has seen delivered in one room: the seq the next message must follow.
struct delivery {
  std::uint64_t epoch = 0;
  std::uint64_t last = 0;
  bool loose = true;  // joined afresh: the first delivery sets the point instead of checking it
};

/// A history request the engine sent, to answer it.
struct history_ask {
  std::uint32_t id = 0;
  std::string room;
  std::optional<std::uint64_t> after;
};

/// One fuzz run: the engine, the virtual clock, what it sent, and the invariant models.
class engine_run {
 public:
  explicit engine_run(fuzz_input& in) : in_(in), engine_(config(in)) {}

  void run() {
    while (!in_.done()) {
      step();
      drain();
    }
  }

 private:
  static client::engine_config config(fuzz_input& in) {
    client::engine_config cfg;
    cfg.token = "token-a";
    cfg.seed = in.number<std::uint64_t>(0, 255);
    // A small outbox reaches "full" quickly; the default one is checked too.
    cfg.max_outbox = in.flag() ? 1000 : in.number<std::size_t>(0, 8);
    return cfg;
  }

  // ---- steps ----

  void step() {
    switch (in_.number<int>(0, 21)) {
      case 0: engine_.start(now_); break;
      case 1: engine_.stop(now_); break;
      case 2: engine_.handle_open(now_); break;
      case 3: engine_.handle_close(now_); break;
      case 4: fire_timer(); break;
      case 5: now_ += millis{in_.number<std::int64_t>(0, 120000)}; break;
      case 6: engine_.handle_bytes(in_.bytes(), now_); break;
      case 7:
      case 8:
      case 9:
      case 10: engine_.handle_bytes(server_frame(), now_); break;
      case 11: join(); break;
      case 12: leave(); break;
      case 13: send(); break;
      case 14: {
        const auto& room = in_.pick(room_pool);
        engine_.set_typing(room, in_.flag(), now_);
        break;
      }
      case 15:
        engine_.set_presence(static_cast<proto::presence_status>(in_.number(0, 2)), now_);
        break;
      case 16: {
        const auto& room = in_.pick(room_pool);
        const auto before = in_.number<std::uint64_t>(0, 60);
        engine_.fetch_history(room, before, in_.number<std::uint32_t>(0, 300), now_);
        break;
      }
      case 17: engine_.list_rooms(now_); break;
      case 18: {
        const auto& room = in_.pick(room_pool);
        engine_.create_room(room, in_.flag(), now_);
        break;
      }
      case 19: {
        const auto& room = in_.pick(room_pool);
        engine_.add_member(room, in_.bytes(80), now_);  // user ids are not checked by the engine
        break;
      }
      case 20: engine_.set_token(in_.pick(token_pool), now_); break;
      case 21: import_outbox(); break;
    }
  }

  void fire_timer() {
    const auto deadline = engine_.poll_timeout();
    if (!deadline) return;
    now_ = std::max(now_, *deadline);
    // A driver fires its timer at every deadline that is due; the engine must move them on.
    for (int i = 0;; ++i) {
      engine_.handle_timeout(now_);
      drain();
      const auto next = engine_.poll_timeout();
      if (!next || *next > now_) break;
      expect(i < max_timer_firings, "handle_timeout at a due deadline makes progress");
    }
  }

  void join() {
    const std::string room = in_.pick(room_pool);
    joins_[engine_.join(room, now_)] = room;
  }

  void leave() {
    const std::string room = in_.pick(room_pool);
    joins_[engine_.leave(room, now_)] = room;
  }

  void send() {
    const auto before = engine_.pending().size();
    const bool full = before >= engine_.pending().capacity();
    const auto& room = in_.pick(room_pool);
    const auto cid = engine_.send_message(room, in_.bytes(200), now_);
    expect(cid.empty() == full, "send_message returns \"\" exactly when the outbox is full");
    if (!cid.empty()) expect(outstanding_.insert(cid).second, "client ids are unique");
  }

  void import_outbox() {
    const auto saved = engine_.pending().entries();
    // Its own export merges as a no-op; arbitrary bytes are usually refused whole.
    if (in_.flag()) {
      expect(engine_.import_outbox(engine_.pending().export_bytes(), now_),
             "the engine re-imports its own outbox export");
      expect(engine_.pending().size() == saved.size(), "re-importing changes nothing");
    } else {
      engine_.import_outbox(in_.bytes(), now_);
    }
    for (const auto& e : engine_.pending().entries()) outstanding_.insert(e.cid);
  }

  // ---- server frames built from the script ----

  std::string server_frame() {
    if (in_.number(0, 15) == 0) return event_run();
    std::string frame;
    const int count = in_.number(1, 4);
    for (int i = 0; i < count; ++i) proto::encode(server_message(), frame);
    return frame;
  }

  proto::message server_message() {
    switch (in_.number(0, 14)) {
      case 0: return welcome();
      case 1: return joined();
      case 2:
      case 3: return event();
      case 4: return ack();
      case 5: return error();
      case 6: return history_page();
      case 7: return proto::typing_update{in_.pick(room_pool), in_.pick(user_pool), in_.flag()};
      case 8:
        return proto::presence{{in_.pick(user_pool),
                                static_cast<proto::presence_status>(in_.number(0, 2)),
                                in_.number<std::uint64_t>(0, largest_uint53)}};
      case 9: return proto::ping{in_.number<std::uint64_t>(0, 9)};
      case 10: return proto::pong{in_.number<std::uint64_t>(0, 9)};
      case 11: return proto::ok{request_id()};
      case 12: return room_list();
      case 13: return proto::unknown_message{in_.number<std::uint32_t>(24, 200)};
      default: return proto::send{in_.pick(room_pool), "c", "a message only clients send"};
    }
  }

  proto::welcome welcome() {
    proto::welcome w;
    w.version = in_.flag() ? proto::version_max : in_.number<std::uint32_t>(0, 3);
    w.user = in_.pick(user_pool);
    w.tenant = "acme";
    if (in_.flag()) {  // unusual parameters: tiny frames and batches, zero timers
      auto& p = w.params;
      p.heartbeat_ms = in_.number<std::uint32_t>(0, 60000);
      p.typing_throttle_ms = in_.number<std::uint32_t>(0, 5000);
      p.typing_expiry_ms = in_.number<std::uint32_t>(0, 10000);
      p.max_frame = in_.number<std::uint32_t>(0, 70000);
      p.max_batch = in_.number<std::uint32_t>(0, 70);
      p.max_text = in_.number<std::uint32_t>(0, 300);
      p.max_rooms = in_.number<std::uint32_t>(0, 6);
      p.history_limit = in_.number<std::uint32_t>(0, 300);
    }
    return w;
  }

  proto::joined joined() {
    proto::joined j;
    j.room = in_.pick(room_pool);
    j.id = in_.flag() ? sent_join_id_[j.room] : request_id();
    j.epoch = epoch_for(j.room);
    epochs_[j.room] = j.epoch;
    j.head = in_.number<std::uint64_t>(0, 40);
    j.resumed = in_.flag();
    const int members = in_.number(0, 2);
    for (int i = 0; i < members; ++i) {
      j.members.push_back({in_.pick(user_pool),
                           static_cast<proto::presence_status>(in_.number(0, 2)), 0});
    }
    return j;
  }

  // The room's known epoch most of the time; sometimes a new or a hostile one.
  std::uint64_t epoch_for(const std::string& room) {
    switch (in_.number(0, 3)) {
      case 0: return in_.number<std::uint64_t>(1, 3);
      case 1: return in_.number<std::uint64_t>(0, largest_uint53);
      default: {
        const auto it = epochs_.find(room);
        return it == epochs_.end() ? 1 : it->second;
      }
    }
  }

  std::uint64_t last_seq(const std::string& room) const {
    const auto at = engine_.resume_point(room);
    return at ? at->seq : 0;
  }

  // A seq near what the room expects (next, duplicate, small gap) or anywhere.
  std::uint64_t seq_for(const std::string& room) {
    const auto last = last_seq(room);
    switch (in_.number(0, 3)) {
      case 0: return in_.number<std::uint64_t>(0, largest_uint53);
      case 1: return last + in_.number<std::uint64_t>(0, 1100);
      default: return last + in_.number<std::uint64_t>(0, 3);
    }
  }

  proto::room_event room_event(const std::string& room, std::uint64_t epoch, std::uint64_t seq) {
    proto::room_event ev;
    ev.room = room;
    ev.epoch = epoch;
    ev.seq = seq;
    ev.kind = in_.flag() ? 1 : in_.number<std::uint32_t>(0, 9);
    ev.from = in_.pick(user_pool);
    ev.cid = in_.pick_from(sent_cids_, std::string{});
    ev.text = "m";
    return ev;
  }

  proto::event event() {
    const std::string room = in_.pick(room_pool);
    const auto epoch = epoch_for(room);
    return proto::event{room_event(room, epoch, seq_for(room))};
  }

  // Many events in one frame: enough to overflow a room's gap buffer and force a skip.
  std::string event_run() {
    const std::string room = in_.pick(room_pool);
    // Read in a fixed order (argument evaluation order is unspecified), as fuzz_seeds writes it.
    const auto epoch = epoch_for(room);
    auto ev = room_event(room, epoch, seq_for(room));
    const auto count = in_.number<std::uint64_t>(1, 1200);
    const auto stride = in_.number<std::uint64_t>(1, 3);
    std::string frame;
    for (std::uint64_t i = 0; i < count; ++i, ev.seq += stride) {
      proto::encode(proto::event{ev}, frame);
    }
    return frame;
  }

  proto::ack ack() {
    proto::ack a;
    a.room = in_.pick(room_pool);
    a.cid = in_.flag() ? in_.pick_from(sent_cids_, std::string{"x"}) : in_.bytes(40);
    a.epoch = epoch_for(a.room);
    a.seq = seq_for(a.room);
    a.ts = in_.number<std::uint64_t>(0, largest_uint53);
    a.duplicate = in_.flag();
    return a;
  }

  proto::error error() {
    proto::error e;
    e.code = static_cast<proto::error_code>(in_.number(0, 16));
    switch (in_.number(0, 2)) {
      case 0: e.cid = in_.pick_from(sent_cids_, std::string{"x"}); break;
      case 1: e.id = request_id(); break;
      default: break;
    }
    e.room = in_.flag() ? in_.pick(room_pool) : std::string{};
    e.retry_ms = in_.number<std::uint32_t>(0, 5000);
    e.type = in_.number<std::uint32_t>(0, 30);
    return e;
  }

  proto::history_page history_page() {
    const auto ask = in_.pick_from(history_asks_, history_ask{0, in_.pick(room_pool), {}});
    proto::history_page page;
    page.id = ask.id;
    page.room = in_.flag() ? ask.room : in_.pick(room_pool);
    page.epoch = epoch_for(page.room);
    auto seq = ask.after ? *ask.after + 1 : seq_for(page.room);
    const int count = in_.number(0, 6);
    for (int i = 0; i < count; ++i) {
      auto ev = room_event(page.room, page.epoch, seq);
      // Entries may leave out what the page says (room, epoch), or contradict it.
      if (in_.flag()) ev.room.clear();
      if (in_.flag()) ev.epoch = in_.flag() ? 0 : epoch_for(page.room);
      page.events.push_back(std::move(ev));
      seq += in_.number<std::uint64_t>(0, 2) + (in_.flag() ? 1 : 0);
    }
    page.more = in_.flag();
    return page;
  }

  proto::room_list room_list() {
    proto::room_list l;
    l.id = request_id();
    const int count = in_.number(0, 2);
    for (int i = 0; i < count; ++i)
      l.rooms.push_back(proto::room_info{in_.pick(room_pool), in_.flag(), 1, 0, false});
    return l;
  }

  // An id the engine used (so answers match) or any number.
  std::uint32_t request_id() {
    return in_.flag() ? in_.pick_from(sent_ids_, std::uint32_t{0})
                      : in_.number<std::uint32_t>(0, 300);
  }

  // ---- outputs and invariants ----

  void drain() {
    int ops = 0;
    while (auto op = engine_.poll_transport()) {
      expect(++ops < max_transport_ops, "poll_transport drains");
      if (auto* frame = std::get_if<client::send_frame>(&*op)) check_sent(frame->bytes);
    }
    int events = 0;
    while (auto ev = engine_.poll_event()) {
      expect(++events < max_events, "poll_event drains");
      std::visit([&](auto& e) { on_event(e); }, *ev);
    }
    check_outbox();
  }

  void check_sent(const std::string& bytes) {
    const auto decoded = proto::decode_frame(bytes, wide_limits());
    if (!decoded) {
      std::fprintf(stderr, "engine frame refused at message %zu: %s\n", decoded.error->index,
                   decoded.error->detail.c_str());
      parley::fuzz::violated("every frame the engine sends decodes");
    }
    const auto& params = engine_.params();
    const auto count = decoded.messages.size();
    expect(count <= std::max<std::uint32_t>(params.max_batch, 1), "frames respect max_batch");
    expect(count == 1 || bytes.size() <= params.max_frame, "frames respect max_frame");
    for (const auto& m : decoded.messages) {
      expect(client_to_server(m), "the engine sends only client-to-server messages");
      remember_sent(m);
    }
  }

  void remember_sent(const proto::message& m) {
    // Kept short: answers pick among recent ids and cids.
    constexpr std::size_t keep = 16;
    std::visit(
        [&](const auto& msg) {
          if constexpr (requires { msg.id; }) {
            if (msg.id != 0) sent_ids_.push_back(msg.id);
          }
        },
        m);
    if (const auto* s = std::get_if<proto::send>(&m)) {
      expect(outstanding_.contains(s->cid), "the engine sends only cids the app was given");
      sent_cids_.push_back(s->cid);
    } else if (const auto* j = std::get_if<proto::join>(&m)) {
      sent_join_id_[j->room] = j->id;
    } else if (const auto* h = std::get_if<proto::history>(&m)) {
      history_asks_.push_back({h->id, h->room, h->after});
    }
    if (sent_ids_.size() > keep) sent_ids_.erase(sent_ids_.begin());
    if (sent_cids_.size() > keep) sent_cids_.erase(sent_cids_.begin());
    if (history_asks_.size() > keep) history_asks_.erase(history_asks_.begin());
  }

  void on_event(const client::state_changed& e) { last_state_ = e.state; }

  void on_event(const client::room_joined& e) {
    auto& d = delivered_[e.room];
    if (!d) d = delivery{e.epoch, e.head, true};
  }

  void on_event(const client::room_reset& e) {
    delivered_[e.room] = delivery{e.epoch, e.head, false};
  }

  void on_event(const client::message_received& e) {
    const auto& ev = e.event;
    auto& d = delivered_[ev.room];
    if (!d || d->loose) {
      expect(!d || d->epoch == ev.epoch, "delivered events belong to the joined epoch");
    } else {
      expect(ev.epoch == d->epoch, "an epoch changes only with room_reset");
      expect(ev.seq == d->last + 1, "events are delivered in seq order without gap or repeat");
    }
    d = delivery{ev.epoch, ev.seq, false};
  }

  void on_event(const client::message_acked& e) { settle(e.cid); }
  void on_event(const client::message_failed& e) { settle(e.cid); }

  void on_event(const client::request_failed& e) { forget(e.request); }
  void on_event(const client::request_done& e) { forget(e.request); }

  template <class Other>
  void on_event(const Other&) {}

  void settle(const std::string& cid) {
    expect(outstanding_.erase(cid) == 1, "each cid is acked or failed once, and only ours");
    const auto& entries = engine_.pending().entries();
    expect(std::none_of(entries.begin(), entries.end(),
                        [&](const auto& entry) { return entry.cid == cid; }),
           "an acked or failed cid leaves the outbox");
  }

  // A join or leave ended: the engine may have forgotten the room, and a later join starts
  // afresh. Forgetting here only relaxes the next check, so it errs on the safe side.
  void forget(std::uint32_t request) {
    const auto it = joins_.find(request);
    if (it == joins_.end()) return;
    delivered_.erase(it->second);
    joins_.erase(it);
  }

  void check_outbox() {
    const auto& box = engine_.pending();
    expect(box.size() <= box.capacity(), "the outbox stays within its capacity");
    std::set<std::string> in_box;
    for (const auto& e : box.entries()) {
      expect(in_box.insert(e.cid).second, "outbox cids are unique");
      expect(outstanding_.contains(e.cid), "the outbox holds only sends the app made");
    }
    for (const auto& cid : outstanding_)
      expect(in_box.contains(cid), "a send stays in the outbox until acked or failed");
    client::outbox copy(box.capacity());
    expect(copy.import_bytes(box.export_bytes()) && copy.size() == box.size(),
           "the outbox export round-trips");
    if (last_state_) expect(*last_state_ == engine_.state(), "state_changed reports state()");
  }

  fuzz_input& in_;
  client::engine engine_;
  millis now_{1000000};
  // What the engine sent, to answer it.
  std::vector<std::uint32_t> sent_ids_;
  std::vector<std::string> sent_cids_;
  std::vector<history_ask> history_asks_;
  std::map<std::string, std::uint32_t> sent_join_id_;
  std::map<std::string, std::uint64_t> epochs_;  // last epoch announced per room
  // Invariant models.
  std::set<std::string> outstanding_;                       // cids not yet acked or failed
  std::map<std::string, std::optional<delivery>> delivered_;  // per room
  std::map<std::uint32_t, std::string> joins_;              // join/leave request id -> room
  std::optional<client::connection_state> last_state_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in(data, size);
  engine_run(in).run();
  return 0;
}
