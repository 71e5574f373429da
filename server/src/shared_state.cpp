#include "shared_state.hpp"

#include "log.hpp"
#include "session_logic.hpp"

#include "parley/protocol/codec.hpp"

#include <cstdio>
#include <utility>

namespace parley::server {
namespace {

/// How often dedup records older than the window are deleted.
constexpr proto::millis prune_interval{3600 * 1000};

/// jwt_secret (a key for tokens without kid) and every key of the jwt_keys file.
jwt_keyring keyring_from(const server_options& options) {
  jwt_keyring keys;
  if (!options.jwt_secret.empty()) keys.add_secret({}, options.jwt_secret);
  if (!options.jwt_keys.empty()) keys.load_key_set(options.jwt_keys);
  return keys;
}

}  // namespace

shared_state::shared_state(const server_options& options, store& db, metrics& stats,
                           std::uint64_t seed)
    : options_(options),
      keys_(keyring_from(options)),
      db_(db),
      stats_(stats),
      random_(seed),
      presence_(proto::millis(options.presence_grace_ms)) {}

std::uint64_t shared_state::new_epoch() {
  constexpr std::uint64_t largest = (std::uint64_t{1} << 53) - 1;
  return random_.uniform(largest - 1) + 1;
}

std::string shared_state::new_session_id() {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(random_.next()));
  return text;
}

void shared_state::attach(session_logic& session) {
  sessions_.insert(&session);
  stats_.connection_opened();
}

void shared_state::detach(session_logic& session, instant now) {
  sessions_.erase(&session);
  stats_.connection_closed();
  for (const auto& room : session.rooms()) rooms_.remove({session.user().tenant, room}, &session);
  if (session.authenticated()) {
    const auto held = signed_in_.find(session.user());
    if (held != signed_in_.end() && --held->second == 0) signed_in_.erase(held);
  }
  if (session.authenticated() && !closing_) {
    presence_.close(session.user(), now.mono);
    if (deadline_hook_) deadline_hook_();
  }
  if (closing_ && sessions_.empty() && drained_) std::exchange(drained_, nullptr)();
}

bool shared_state::sign_in(const session_logic& session) {
  const std::uint32_t limit = options_.max_connections_per_user;
  auto& held = signed_in_[session.user()];  // a refused user already has an entry
  if (limit != 0 && held >= limit) return false;
  ++held;
  if (presence_.open(session.user())) {
    announce(session.user(), {session.user().user, proto::presence_status::online, 0});
  }
  return true;
}

void shared_state::subscribe(const room_key& room, session_logic& session) {
  rooms_.add(room, &session);
}

void shared_state::unsubscribe(const room_key& room, session_logic& session) {
  rooms_.remove(room, &session);
}

void shared_state::broadcast(const room_key& room, const proto::message& message,
                             const session_logic* skip, bool droppable) {
  if (closing_) return;
  const auto& members = rooms_.members(room);
  if (members.empty() || (members.size() == 1 && members.front() == skip)) return;
  // Encoded once; every recipient queues the same bytes. deliver() only queues (and may mark
  // a session for closing), so the member list cannot change during this loop.
  const auto bytes = std::make_shared<const std::string>(proto::encode(message));
  for (session_logic* member : members) {
    if (member != skip) member->deliver(bytes, droppable);
  }
}

proto::presence_entry shared_state::presence_of(const user_key& user,
                                                std::uint64_t last_seen) const {
  const auto status = presence_.status(user);
  return {user.user, status.value_or(proto::presence_status::offline), last_seen};
}

bool shared_state::set_status(const user_key& user, proto::presence_status status) {
  if (!presence_.set_status(user, status)) return false;
  announce(user, {user.user, status, 0});
  return true;
}

proto::millis shared_state::next_deadline() const {
  return std::min(presence_.next_deadline(), next_prune_);
}

void shared_state::handle_timeout(instant now) {
  if (closing_) return;
  for (const auto& user : presence_.expire(now.mono)) {
    db_.set_last_seen(user, now.wall_ms);
    announce(user, {user.user, proto::presence_status::offline, now.wall_ms});
  }
  if (now.mono >= next_prune_) {
    const std::uint64_t window_ms = options_.dedup_window_s * 1000;
    const std::uint64_t cutoff = now.wall_ms > window_ms ? now.wall_ms - window_ms : 0;
    const auto pruned = db_.prune_sends(cutoff);
    if (pruned > 0) log_line(log_level::info, "pruned " + std::to_string(pruned) + " dedup records");
    next_prune_ = now.mono + prune_interval;
  }
}

void shared_state::close_all(proto::close_code code, instant now, std::function<void()> drained) {
  closing_ = true;
  if (sessions_.empty()) {
    drained();
    return;
  }
  drained_ = std::move(drained);
  // shutdown() only marks and wakes; sessions detach later, from their own handlers.
  for (session_logic* session : sessions_) session->shutdown(code);
  // Users still online were last seen now; a restart should not show them as never seen.
  for (session_logic* session : sessions_) {
    if (session->authenticated()) db_.set_last_seen(session->user(), now.wall_ms);
  }
}

void shared_state::announce(const user_key& user, const proto::presence_entry& entry) {
  if (closing_) return;
  std::set<session_logic*> recipients;
  for (const auto& room : db_.rooms_of(user)) {
    for (session_logic* member : rooms_.members({user.tenant, room})) recipients.insert(member);
  }
  if (recipients.empty()) return;
  const auto bytes = std::make_shared<const std::string>(proto::encode(proto::presence{entry}));
  // Presence is ephemeral: a backed-up session may miss it (semantics 8, promise 5).
  for (session_logic* member : recipients) member->deliver(bytes, true);
}

}  // namespace parley::server
