#include "store.hpp"

#include <algorithm>
#include <chrono>

namespace parley::server {
namespace {

/// Opens the database and makes sure the schema exists before statements are prepared.
sqlite_db& prepared(sqlite_db& db) {
  // WAL + NORMAL: commits reach the OS before returning (durable across a process crash)
  // without an fsync per message; readers never block the writer.
  db.exec("PRAGMA journal_mode=WAL");
  db.exec("PRAGMA synchronous=NORMAL");
  db.exec("PRAGMA foreign_keys=OFF");
  db.exec(R"sql(
    CREATE TABLE IF NOT EXISTS rooms(
      tenant TEXT NOT NULL, room TEXT NOT NULL, epoch INTEGER NOT NULL,
      head INTEGER NOT NULL DEFAULT 0, private INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY(tenant, room)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS events(
      tenant TEXT NOT NULL, room TEXT NOT NULL, seq INTEGER NOT NULL, epoch INTEGER NOT NULL,
      kind INTEGER NOT NULL, sender TEXT NOT NULL, cid TEXT NOT NULL, ts INTEGER NOT NULL,
      text TEXT NOT NULL, ref INTEGER NOT NULL DEFAULT 0,
      PRIMARY KEY(tenant, room, seq)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS members(
      tenant TEXT NOT NULL, room TEXT NOT NULL, user TEXT NOT NULL,
      PRIMARY KEY(tenant, room, user)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS members_by_user ON members(tenant, user);
    CREATE TABLE IF NOT EXISTS dedup(
      tenant TEXT NOT NULL, user TEXT NOT NULL, cid TEXT NOT NULL, room TEXT NOT NULL,
      seq INTEGER NOT NULL, ts INTEGER NOT NULL,
      PRIMARY KEY(tenant, user, cid)) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS dedup_by_ts ON dedup(ts);
    CREATE TABLE IF NOT EXISTS users(
      tenant TEXT NOT NULL, user TEXT NOT NULL, last_seen INTEGER NOT NULL,
      PRIMARY KEY(tenant, user)) WITHOUT ROWID;
  )sql");
  return db;
}

constexpr const char* event_columns = "seq, epoch, kind, sender, cid, ts, text, ref";

std::string events_query(const char* where_order) {
  return std::string("SELECT ") + event_columns +
         " FROM events WHERE tenant = ?1 AND room = ?2 AND " + where_order + " LIMIT ?4";
}

/// Reports the duration of one write transaction to the histogram when it goes out of scope.
class write_timer {
 public:
  explicit write_timer(metrics& stats) : stats_(stats) {}
  ~write_timer() {
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
    stats_.store_write(elapsed.count());
  }
  write_timer(const write_timer&) = delete;
  write_timer& operator=(const write_timer&) = delete;

 private:
  metrics& stats_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

store::store(const std::string& path, metrics& stats)
    : stats_(stats),
      db_(path),
      find_room_(prepared(db_),
                 "SELECT epoch, head, private FROM rooms WHERE tenant = ?1 AND room = ?2"),
      insert_room_(db_,
                   "INSERT INTO rooms(tenant, room, epoch, head, private) VALUES(?1, ?2, ?3, 0, ?4)"),
      is_member_(db_, "SELECT 1 FROM members WHERE tenant = ?1 AND room = ?2 AND user = ?3"),
      add_member_(db_, "INSERT OR IGNORE INTO members(tenant, room, user) VALUES(?1, ?2, ?3)"),
      members_(db_,
               "SELECT m.user, COALESCE(u.last_seen, 0) FROM members m LEFT JOIN users u"
               " ON u.tenant = m.tenant AND u.user = m.user"
               " WHERE m.tenant = ?1 AND m.room = ?2 ORDER BY m.user LIMIT ?3"),
      rooms_of_(db_, "SELECT room FROM members WHERE tenant = ?1 AND user = ?2"),
      visible_rooms_(db_,
                     "SELECT r.room, r.private, r.epoch, r.head FROM rooms r WHERE r.tenant = ?1"
                     " AND (r.private = 0 OR EXISTS(SELECT 1 FROM members m WHERE"
                     " m.tenant = r.tenant AND m.room = r.room AND m.user = ?2))"
                     " ORDER BY r.room LIMIT ?3"),
      find_send_(db_,
                 "SELECT d.room, COALESCE(r.epoch, 0), d.seq, d.ts FROM dedup d LEFT JOIN rooms r"
                 " ON r.tenant = d.tenant AND r.room = d.room"
                 " WHERE d.tenant = ?1 AND d.user = ?2 AND d.cid = ?3 AND d.ts >= ?4"),
      room_head_(db_, "SELECT head, epoch FROM rooms WHERE tenant = ?1 AND room = ?2"),
      insert_event_(db_,
                    "INSERT INTO events(tenant, room, seq, epoch, kind, sender, cid, ts, text, ref)"
                    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 0)"),
      insert_send_(db_,
                   "INSERT OR REPLACE INTO dedup(tenant, user, cid, room, seq, ts)"
                   " VALUES(?1, ?2, ?3, ?4, ?5, ?6)"),
      update_head_(db_, "UPDATE rooms SET head = ?3 WHERE tenant = ?1 AND room = ?2"),
      events_after_(db_, events_query("seq > ?3 ORDER BY seq ASC").c_str()),
      events_before_(db_, events_query("seq < ?3 ORDER BY seq DESC").c_str()),
      set_last_seen_(db_,
                     "INSERT INTO users(tenant, user, last_seen) VALUES(?1, ?2, ?3)"
                     " ON CONFLICT(tenant, user) DO UPDATE SET last_seen = excluded.last_seen"),
      prune_sends_(db_, "DELETE FROM dedup WHERE ts < ?1"),
      ping_(db_, "SELECT 1") {}

std::optional<room_record> store::find_room(const room_key& room) {
  auto rows = find_room_.query(room.tenant, room.room);
  if (!rows.next()) return std::nullopt;
  return room_record{rows.u64(0), rows.u64(1), rows.u64(2) != 0};
}

room_record store::create_room(const room_key& room, bool is_private, std::uint64_t epoch,
                               std::string_view creator) {
  write_timer timer(stats_);
  sqlite_transaction tx(db_);
  insert_room_.run(room.tenant, room.room, epoch, is_private);
  if (!creator.empty()) add_member_.run(room.tenant, room.room, creator);
  tx.commit();
  return room_record{epoch, 0, is_private};
}

bool store::is_member(const room_key& room, std::string_view user) {
  return is_member_.query(room.tenant, room.room, user).next();
}

void store::add_member(const room_key& room, std::string_view user) {
  write_timer timer(stats_);
  add_member_.run(room.tenant, room.room, user);
}

std::vector<member_record> store::members(const room_key& room, std::size_t limit) {
  std::vector<member_record> out;
  auto rows = members_.query(room.tenant, room.room, limit);
  while (rows.next()) out.push_back({rows.text(0), rows.u64(1)});
  return out;
}

std::vector<std::string> store::rooms_of(const user_key& user) {
  std::vector<std::string> out;
  auto rows = rooms_of_.query(user.tenant, user.user);
  while (rows.next()) out.push_back(rows.text(0));
  return out;
}

std::vector<proto::room_info> store::visible_rooms(const user_key& user, std::size_t limit) {
  std::vector<proto::room_info> out;
  auto rows = visible_rooms_.query(user.tenant, user.user, limit);
  while (rows.next()) {
    out.push_back({rows.text(0), rows.u64(1) != 0, rows.u64(2), rows.u64(3), false});
  }
  return out;
}

std::optional<stored_send> store::find_send(const user_key& user, std::string_view cid,
                                           std::uint64_t not_before_ms) {
  auto rows = find_send_.query(user.tenant, user.user, cid, not_before_ms);
  if (!rows.next()) return std::nullopt;
  return stored_send{rows.text(0), rows.u64(1), rows.u64(2), rows.u64(3)};
}

stored_send store::append_message(const room_key& room, std::string_view user,
                                  std::string_view cid, std::string_view text, std::uint64_t ts) {
  write_timer timer(stats_);
  sqlite_transaction tx(db_);
  std::uint64_t seq = 0;
  std::uint64_t epoch = 0;
  {
    auto rows = room_head_.query(room.tenant, room.room);
    if (!rows.next()) throw store_error("append to unknown room " + room.room);
    seq = rows.u64(0) + 1;
    epoch = rows.u64(1);
  }
  insert_event_.run(room.tenant, room.room, seq, epoch,
                    static_cast<std::uint64_t>(proto::event_kind::message), user, cid, ts, text);
  insert_send_.run(room.tenant, user, cid, room.room, seq, ts);
  update_head_.run(room.tenant, room.room, seq);
  tx.commit();
  return stored_send{room.room, epoch, seq, ts};
}

std::vector<proto::room_event> store::events_after(const room_key& room, std::uint64_t after,
                                                   std::size_t limit) {
  return read_events(events_after_.query(room.tenant, room.room, after, limit), room);
}

std::vector<proto::room_event> store::events_before(const room_key& room, std::uint64_t before,
                                                    std::size_t limit) {
  auto events = read_events(events_before_.query(room.tenant, room.room, before, limit), room);
  std::reverse(events.begin(), events.end());  // read newest first to take the newest `limit`
  return events;
}

std::vector<proto::room_event> store::read_events(sqlite_cursor rows, const room_key& room) {
  std::vector<proto::room_event> events;
  while (rows.next()) {
    proto::room_event ev;
    ev.room = room.room;
    ev.seq = rows.u64(0);
    ev.epoch = rows.u64(1);
    ev.kind = static_cast<std::uint32_t>(rows.u64(2));
    ev.from = rows.text(3);
    ev.cid = rows.text(4);
    ev.ts = rows.u64(5);
    ev.text = rows.text(6);
    ev.ref = rows.u64(7);
    events.push_back(std::move(ev));
  }
  return events;
}

void store::set_last_seen(const user_key& user, std::uint64_t ms) {
  write_timer timer(stats_);
  set_last_seen_.run(user.tenant, user.user, ms);
}

std::uint64_t store::prune_sends(std::uint64_t cutoff_ms) {
  write_timer timer(stats_);
  prune_sends_.run(cutoff_ms);
  return prune_sends_.changes();
}

bool store::healthy() {
  try {
    return ping_.query().next();
  } catch (const store_error&) {
    return false;
  }
}

}  // namespace parley::server
