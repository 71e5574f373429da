#include "presence_board.hpp"

namespace parley::server {

void presence_board::unqueue(const user_key& user, const entry& e) {
  if (e.grace.sessions() == 0) in_grace_.erase({e.grace.deadline(), user});
}

bool presence_board::open(const user_key& user) {
  auto& e = users_[user];
  unqueue(user, e);
  const bool was_offline = e.grace.on_session_open();
  if (was_offline) e.status = proto::presence_status::online;
  return was_offline;
}

void presence_board::close(const user_key& user, proto::millis now) {
  const auto it = users_.find(user);
  if (it == users_.end()) return;
  unqueue(user, it->second);  // a close without an open must not leave a stale slot
  it->second.grace.on_session_close(now, grace_);
  if (it->second.grace.sessions() == 0) in_grace_.insert({it->second.grace.deadline(), user});
}

std::optional<proto::presence_status> presence_board::status(const user_key& user) const {
  const auto it = users_.find(user);
  if (it == users_.end() || !it->second.grace.online()) return std::nullopt;
  return it->second.status;
}

bool presence_board::set_status(const user_key& user, proto::presence_status status) {
  const auto it = users_.find(user);
  if (it == users_.end() || !it->second.grace.online()) return false;
  it->second.status = status;
  return true;
}

proto::millis presence_board::next_deadline() const {
  return in_grace_.empty() ? proto::millis::max() : in_grace_.begin()->first;
}

std::vector<user_key> presence_board::expire(proto::millis now) {
  std::vector<user_key> offline;
  while (!in_grace_.empty() && in_grace_.begin()->first <= now) {
    const user_key user = in_grace_.begin()->second;
    in_grace_.erase(in_grace_.begin());
    const auto it = users_.find(user);
    if (it != users_.end() && it->second.grace.on_timeout(now)) {
      offline.push_back(user);
      users_.erase(it);
    }
  }
  return offline;
}

}  // namespace parley::server
