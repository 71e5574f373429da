// The durable room log over SQLite: rooms with their epoch and head, events, members, the
// send-dedup records and users' last-seen times.
//
// The database runs in WAL mode with synchronous=NORMAL: a commit is in the OS once it returns,
// so every acked send survives kill -9 of the server (only a power loss can drop the last
// commits). All methods throw store_error on SQLite failures; the protocol layer answers those
// with `internal`.
#pragma once

#include "keys.hpp"
#include "metrics.hpp"
#include "sqlite.hpp"

#include "parley/protocol/messages.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::server {

/// A room's row.
struct room_record {
  std::uint64_t epoch = 0;
  std::uint64_t head = 0;  // last seq in the log; 0 = empty
  bool is_private = false;
};

/// Where a send landed: the answer to a retransmission of the same client id.
struct stored_send {
  std::string room;
  std::uint64_t epoch = 0;  // the room's current epoch
  std::uint64_t seq = 0;
  std::uint64_t ts = 0;
};

/// A member of a room and the last time the user was seen online (0 = never recorded).
struct member_record {
  std::string user;
  std::uint64_t last_seen = 0;
};

/// Persistence for everything that outlives a connection.
class store {
 public:
  /// Opens (creating if needed) the database file; ":memory:" for tests and fuzzing.
  /// Write transactions report their duration to `stats`.
  store(const std::string& path, metrics& stats);

  std::optional<room_record> find_room(const room_key& room);
  /// Creates the room with `creator` (if non-empty) as its first member, in one transaction.
  room_record create_room(const room_key& room, bool is_private, std::uint64_t epoch,
                          std::string_view creator);
  bool is_member(const room_key& room, std::string_view user);
  /// Adds a member; adding an existing member does nothing.
  void add_member(const room_key& room, std::string_view user);
  /// Up to `limit` members of the room with their last-seen time, by user id.
  std::vector<member_record> members(const room_key& room, std::size_t limit);
  /// Rooms of the tenant the user is a member of.
  std::vector<std::string> rooms_of(const user_key& user);
  /// Rooms the user may see: every public room of the tenant and the private ones they belong
  /// to, by name, at most `limit`. `joined` is left false.
  std::vector<proto::room_info> visible_rooms(const user_key& user, std::size_t limit);

  /// The earlier send of this client id by this user stored at or after `not_before_ms` (the
  /// start of the dedup window); older records are pruned hourly and ignored until then.
  std::optional<stored_send> find_send(const user_key& user, std::string_view cid,
                                       std::uint64_t not_before_ms);
  /// Appends a message in one transaction: seq = head + 1, the event, the dedup record and the
  /// new head. Returns the assigned seq and `ts`.
  stored_send append_message(const room_key& room, std::string_view user, std::string_view cid,
                             std::string_view text, std::uint64_t ts);
  /// Up to `limit` events with seq > after, ascending.
  std::vector<proto::room_event> events_after(const room_key& room, std::uint64_t after,
                                              std::size_t limit);
  /// The newest `limit` events with seq < before, ascending.
  std::vector<proto::room_event> events_before(const room_key& room, std::uint64_t before,
                                               std::size_t limit);

  /// Records when the user was last online (ms since Unix epoch).
  void set_last_seen(const user_key& user, std::uint64_t ms);
  /// Forgets dedup records older than `cutoff_ms`; returns how many.
  std::uint64_t prune_sends(std::uint64_t cutoff_ms);
  /// True if the database answers a trivial query.
  bool healthy();

 private:
  std::vector<proto::room_event> read_events(sqlite_cursor cursor, const room_key& room);

  metrics& stats_;
  sqlite_db db_;
  sqlite_statement find_room_, insert_room_, is_member_, add_member_, members_, rooms_of_,
      visible_rooms_, find_send_, room_head_, insert_event_, insert_send_, update_head_,
      events_after_, events_before_, set_last_seen_, prune_sends_, ping_;
};

}  // namespace parley::server
