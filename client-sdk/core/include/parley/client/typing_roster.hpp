// Receiver side of typing indicators for one room: who is typing and until when. A typing(on)
// lapses after the server's typing expiry unless refreshed (brief, Semantics 7).
#pragma once

#include "parley/protocol/rules.hpp"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace parley::client {

/// Users typing in one room, each with the time their indicator lapses.
class typing_roster {
 public:
  /// typing(on) from `user`; true if they were not already shown as typing.
  bool start(const std::string& user, proto::millis expires);
  /// typing(off), or a message from `user`; true if they were shown as typing.
  bool stop(const std::string& user) { return expiry_.erase(user) != 0; }
  /// Remove and return the users whose indicator lapsed at or before `now`.
  std::vector<std::string> expire(proto::millis now);
  /// Earliest lapse, if anyone is typing.
  std::optional<proto::millis> next_expiry() const;
  /// Users currently shown as typing, sorted.
  std::vector<std::string> users() const;

 private:
  std::map<std::string, proto::millis, std::less<>> expiry_;
};

}  // namespace parley::client
