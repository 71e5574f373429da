#include "presence_board.hpp"

#include <algorithm>

namespace parley::server {

bool presence_board::open(const user_key& user) {
  in_grace_.erase(user);
  auto& e = users_[user];
  const bool was_offline = e.grace.on_session_open();
  if (was_offline) e.status = proto::presence_status::online;
  return was_offline;
}

void presence_board::close(const user_key& user, proto::millis now) {
  const auto it = users_.find(user);
  if (it == users_.end()) return;
  it->second.grace.on_session_close(now, grace_);
  if (it->second.grace.sessions() == 0) in_grace_.insert(user);
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
  proto::millis earliest = proto::millis::max();
  for (const auto& user : in_grace_) {
    earliest = std::min(earliest, users_.at(user).grace.deadline());
  }
  return earliest;
}

std::vector<user_key> presence_board::expire(proto::millis now) {
  std::vector<user_key> offline;
  for (auto it = in_grace_.begin(); it != in_grace_.end();) {
    auto& e = users_.at(*it);
    if (e.grace.deadline() <= now && e.grace.on_timeout(now)) {
      offline.push_back(*it);
      users_.erase(*it);
      it = in_grace_.erase(it);
    } else {
      ++it;
    }
  }
  return offline;
}

}  // namespace parley::server
