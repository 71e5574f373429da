// The state every session shares, with a few verbs (Beast's shared_state): which sessions are
// joined where (room_index), who is online (presence_board), how many sessions each user holds,
// the keys tokens are checked with, and fan-out of encoded messages.
// It owns no sockets: a session is a session_logic, so the whole thing runs in-process for
// tests and fuzzing. Everything happens on the server's one thread, hence no locks.
#pragma once

#include "config.hpp"
#include "instant.hpp"
#include "jwt.hpp"
#include "keys.hpp"
#include "metrics.hpp"
#include "presence_board.hpp"
#include "room_index.hpp"
#include "store.hpp"

#include "parley/protocol/messages.hpp"
#include "parley/protocol/rules.hpp"

#include <functional>
#include <map>
#include <set>

namespace parley::server {

class session_logic;

/// Rooms, presence and fan-out across sessions.
class shared_state {
 public:
  /// `seed` drives room epochs and session ids. Builds the token keyring from jwt_secret and
  /// the jwt_keys file; throws config_error if the file is bad.
  shared_state(const server_options& options, store& db, metrics& stats, std::uint64_t seed);

  const server_options& options() const { return options_; }
  /// The keys every client token (hello, refresh, REST) is verified with, built once from
  /// jwt_secret and jwt_keys.
  const jwt_keyring& keys() const { return keys_; }
  store& db() { return db_; }
  metrics& stats() { return stats_; }
  /// A fresh room epoch: random, positive, below 2^53 (exact in JavaScript).
  std::uint64_t new_epoch();
  /// A fresh session id: 16 hex digits, for welcome and logs.
  std::string new_session_id();

  /// A new connection's session exists (counted in parley_connections).
  void attach(session_logic& session);
  /// The session is going away: it leaves its rooms and, once authenticated, frees its slot
  /// of its user's sessions and starts the user's presence grace if it was their last.
  void detach(session_logic& session, instant now);
  /// The session passed hello as session.user(): takes one of the user's
  /// max_connections_per_user slots and announces the user online if they were offline.
  /// False, changing nothing, when the user already holds every slot.
  bool sign_in(const session_logic& session);

  /// The session receives the room's broadcasts from now on.
  void subscribe(const room_key& room, session_logic& session);
  /// The session stops receiving the room's broadcasts.
  void unsubscribe(const room_key& room, session_logic& session);
  /// Encodes `message` once and queues it for every session joined to the room except `skip`.
  /// `droppable` messages (typing) are skipped for sessions whose queue is over half full.
  void broadcast(const room_key& room, const proto::message& message,
                 const session_logic* skip = nullptr, bool droppable = false);

  /// Presence of a member for joined.members; `last_seen` is the stored time.
  proto::presence_entry presence_of(const user_key& user, std::uint64_t last_seen) const;
  /// Sets an online user's status and announces it. False if the user is offline.
  bool set_status(const user_key& user, proto::presence_status status);

  /// When handle_timeout is next due (presence grace, dedup pruning).
  proto::millis next_deadline() const;
  /// Announces users whose grace ended and prunes old dedup records when due.
  void handle_timeout(instant now);
  /// Called whenever next_deadline() may have moved earlier (the driver re-arms its timer).
  void on_deadline_change(std::function<void()> hook) { deadline_hook_ = std::move(hook); }

  /// Server shutdown: every session closes with `code`; `drained` runs once none is left.
  /// From now on nothing is broadcast.
  void close_all(proto::close_code code, instant now, std::function<void()> drained);

  std::size_t session_count() const { return sessions_.size(); }
  std::size_t room_count() const { return rooms_.room_count(); }

 private:
  /// Sends a presence change to every session joined to a room the user is a member of.
  void announce(const user_key& user, const proto::presence_entry& entry);

  const server_options& options_;
  const jwt_keyring keys_;
  store& db_;
  metrics& stats_;
  proto::random_source random_;
  room_index<session_logic> rooms_;
  presence_board presence_;
  std::set<session_logic*> sessions_;
  std::map<user_key, std::uint32_t> signed_in_;  // authenticated sessions per user, none = 0
  proto::millis next_prune_{0};
  std::function<void()> deadline_hook_;
  std::function<void()> drained_;
  bool closing_ = false;
};

}  // namespace parley::server
