#include "parley/client/typing_roster.hpp"

#include "parley/client/timer_table.hpp"

namespace parley::client {

bool typing_roster::start(const std::string& user, proto::millis expires) {
  return expiry_.insert_or_assign(user, expires).second;
}

std::vector<std::string> typing_roster::expire(proto::millis now) {
  std::vector<std::string> lapsed;
  for (auto it = expiry_.begin(); it != expiry_.end();) {
    if (it->second <= now) {
      lapsed.push_back(it->first);
      it = expiry_.erase(it);
    } else {
      ++it;
    }
  }
  return lapsed;
}

std::optional<proto::millis> typing_roster::next_expiry() const {
  std::optional<proto::millis> earliest;
  for (const auto& [user, at] : expiry_) earliest = earlier(earliest, at);
  return earliest;
}

std::vector<std::string> typing_roster::users() const {
  std::vector<std::string> out;
  out.reserve(expiry_.size());
  for (const auto& [user, at] : expiry_) out.push_back(user);
  return out;
}

}  // namespace parley::client
