// Who is online, per tenant and user, with the grace period that keeps a quick reconnect from
// flapping offline/online (proto::presence_grace does the counting; this keeps one per user
// plus the chosen status). No I/O: the shared state turns changes into broadcasts.
#pragma once

#include "keys.hpp"

#include "parley/protocol/messages.hpp"
#include "parley/protocol/rules.hpp"

#include <map>
#include <optional>
#include <set>
#include <utility>
#include <vector>

namespace parley::server {

/// Presence of every user with a session or within the grace after their last one.
class presence_board {
 public:
  /// `grace`: how long a user with no session still counts as online.
  explicit presence_board(proto::millis grace) : grace_(grace) {}

  /// A session of the user opened. True if the user was offline (announce online).
  bool open(const user_key& user);
  /// A session of the user closed at `now`; the last one starts the grace period.
  void close(const user_key& user, proto::millis now);
  /// The user's status, or nullopt when offline.
  std::optional<proto::presence_status> status(const user_key& user) const;
  /// Changes an online user's status (online / away). False if the user is offline.
  bool set_status(const user_key& user, proto::presence_status status);
  /// The earliest end of a grace period, or millis::max() if none is running.
  proto::millis next_deadline() const;
  /// Users whose grace ended by `now`: they are offline now and leave the board.
  std::vector<user_key> expire(proto::millis now);

 private:
  struct entry {
    proto::presence_grace grace;
    proto::presence_status status = proto::presence_status::online;
  };

  /// A user in grace, ordered by when it ends: next_deadline() and expire() look only at the
  /// front, so a mass disconnect of N sessions costs O(N log N), not O(N) per session.
  using grace_slot = std::pair<proto::millis, user_key>;

  /// Takes the user out of the grace queue, if queued.
  void unqueue(const user_key& user, const entry& e);

  proto::millis grace_;
  std::map<user_key, entry> users_;
  std::set<grace_slot> in_grace_;  // users with no session, waiting for their deadline
};

}  // namespace parley::server
