// In-memory test bench for the client engine (quinn-proto's Pair, in C++): a scripted server
// that decodes the client's frames with the real codec and answers with the real encoder, and
// a `bench` that shuttles frames both ways and jumps a virtual clock to the next deadline.
// No sockets, no threads, no sleeps: every test is deterministic.
#pragma once

#include "parley/client/engine.hpp"
#include "parley/protocol/codec.hpp"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace parley::test {

using proto::millis;
using namespace std::chrono_literals;

/// The alternatives of type T in a list of variants, in order.
template <class T, class Variant>
std::vector<T> of_type(const std::vector<Variant>& all) {
  std::vector<T> out;
  for (const auto& v : all)
    if (const auto* t = std::get_if<T>(&v)) out.push_back(*t);
  return out;
}

/// A tiny single-session server following the brief's Semantics, with knobs for misbehaviour.
class scripted_server {
 public:
  /// One room's log; seq of events[i] is i + 1.
  struct room_log {
    std::uint64_t epoch = 7;
    std::vector<proto::room_event> events;
    std::uint64_t trimmed_below = 0;  // history no longer holds seqs below this
    std::uint64_t head() const { return events.size(); }
  };

  // ---- knobs ----
  proto::server_params params;                     // announced in welcome
  bool accept_connections = true;                  // false: every open fails
  bool answer_hello = true;                        // false: hello is never answered
  std::optional<proto::error_code> refuse_hello;   // answer hello with this error
  std::uint32_t welcome_version = proto::version_max;
  bool silent = false;               // send nothing at all (a dead peer)
  bool lose_output = false;          // process input but lose every answer in transit
  bool pings = true;                 // ping every heartbeat while a session is open
  int rate_limit_sends = 0;          // refuse the next N sends with rate_limited
  std::uint32_t retry_ms = 300;      // retry announced with rate_limited
  std::optional<proto::error_code> refuse_sends;           // refuse every send with this
  std::map<std::string, proto::error_code> refuse_joins;   // per room
  std::map<std::string, room_log> rooms;

  // ---- observations ----
  std::vector<proto::message> received;   // every client message, in order
  std::vector<std::size_t> frame_sizes;   // messages per client frame
  std::vector<std::size_t> frame_bytes;   // bytes per client frame
  std::vector<std::uint16_t> closes;      // close codes the client asked for
  int opens = 0;                          // transports the client opened

  /// Feed one client frame; answers are queued for the client as one coalesced frame.
  void on_frame(std::string_view bytes, millis now);
  /// A transport opened (true) or failed to (false).
  bool on_open(millis now);
  /// The session ended (client close or network drop); the log and dedup records survive.
  void end_session();
  /// Heartbeat: queue a ping if one is due.
  void on_timeout(millis now);
  /// Next ping deadline, if a session is open and pings are on.
  std::optional<millis> next_deadline() const;

  /// Append a message from another user to the room's log; broadcast it when `live`.
  proto::room_event post(const std::string& room, const std::string& from,
                         const std::string& text, bool live = true);
  /// Queue one message to the client as its own frame (scripted misbehaviour included).
  void push(const proto::message& m);
  /// Queue several messages as one frame.
  void push_batch(const std::vector<proto::message>& ms);
  /// Frames waiting for the client.
  std::deque<std::string>& to_client() { return to_client_; }
  /// True while a session (transport) is open.
  bool connected() const { return connected_; }

  /// Every received client message of type T.
  template <class T>
  std::vector<T> received_of() const {
    return of_type<T>(received);
  }

 private:
  void answer(const proto::message& m, millis now);
  void on_hello(const proto::hello& h);
  void on_join(const proto::join& j);
  void on_send(const proto::send& s, millis now);
  void on_history(const proto::history& h);
  room_log& log_of(const std::string& room);
  void reply(proto::message m) { replies_.push_back(std::move(m)); }

  bool connected_ = false;
  std::string user_;
  std::set<std::string> joined_;
  std::map<std::string, proto::ack> dedup_;   // by cid
  std::vector<proto::message> replies_;        // answers to the frame being processed
  std::deque<std::string> to_client_;
  std::optional<millis> next_ping_;
  std::uint64_t ping_nonce_ = 0;
};

/// Engine settings every test starts from.
client::engine_config default_config(std::uint64_t seed = 42);

/// Engine + scripted server + virtual clock.
class bench {
 public:
  explicit bench(client::engine_config cfg = default_config());

  client::engine engine;
  scripted_server server;
  millis now{0};
  std::vector<client::engine_event> events;                 // everything the app saw
  std::vector<std::pair<millis, client::state_changed>> states;  // with the time they happened

  /// Shuttle operations, frames and events until nothing moves; the clock stays put.
  void drive();
  /// Drive, jumping the clock from deadline to deadline for `d` (bounded), then drive.
  void advance(millis d);
  /// start() and drive to ready.
  void connect();
  /// The network drops the connection: the server forgets the session, the engine is told.
  void drop();

  /// Every event of type T the app received, in order.
  template <class T>
  std::vector<T> events_of() const {
    return of_type<T>(events);
  }
  /// Forget the events seen so far (to look only at what follows).
  void clear_events() { events.clear(); }

 private:
  void perform(client::transport_op op);
  std::optional<millis> next_deadline() const;
};

/// Make `b` ready and joined to "lobby", whose log already holds `existing` messages from bob.
void join_lobby(bench& b, int existing = 5);
/// Let the backoff run out and reconnect (the scripted server accepts by default).
void reconnect(bench& b);

/// Seqs of a list of events, for compact assertions.
std::vector<std::uint64_t> seqs_of(const std::vector<client::message_received>& received);

}  // namespace parley::test
