// Which sessions are joined to which room, per tenant: the live side of fan-out.
//
// A plain data structure with no socket types (like uWebSockets' TopicTree), so it can be tested
// and fuzzed alone. The server runs on one thread, so members() is iterated without locks; a
// caller that iterates must not join or leave during that iteration (delivery only queues).
#pragma once

#include "keys.hpp"

#include <algorithm>
#include <map>
#include <vector>

namespace parley::server {

/// Room → joined members. `Member` is whatever a broadcast is delivered to.
template <class Member>
class room_index {
 public:
  /// Adds `member` to the room; false if it was already there.
  bool add(const room_key& room, Member* member) {
    auto& list = rooms_[room];
    if (std::find(list.begin(), list.end(), member) != list.end()) return false;
    list.push_back(member);
    return true;
  }

  /// Removes `member` from the room; false if it was not there. Empty rooms are dropped.
  bool remove(const room_key& room, Member* member) {
    const auto it = rooms_.find(room);
    if (it == rooms_.end()) return false;
    auto& list = it->second;
    const auto pos = std::find(list.begin(), list.end(), member);
    if (pos == list.end()) return false;
    // Order among members does not matter: swap-and-pop keeps removal cheap.
    *pos = list.back();
    list.pop_back();
    if (list.empty()) rooms_.erase(it);
    return true;
  }

  /// The room's members (empty if none).
  const std::vector<Member*>& members(const room_key& room) const {
    static const std::vector<Member*> none;
    const auto it = rooms_.find(room);
    return it == rooms_.end() ? none : it->second;
  }

  /// Rooms with at least one member.
  std::size_t room_count() const { return rooms_.size(); }

 private:
  std::map<room_key, std::vector<Member*>> rooms_;
};

}  // namespace parley::server
