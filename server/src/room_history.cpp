#include "room_history.hpp"

#include "parley/protocol/rules.hpp"

#include <algorithm>
#include <limits>

namespace parley::server {
namespace {

history_result refuse(proto::error_code code, std::string message) {
  history_result result;
  result.error = code;
  result.message = std::move(message);
  return result;
}

}  // namespace

bool may_read(store& db, const room_key& room, const room_record& record, std::string_view user) {
  return !record.is_private || db.is_member(room, user);
}

history_result read_history(store& db, const room_key& room, std::string_view user,
                            const history_request& request, std::uint32_t max_limit) {
  if (!proto::valid_room_id(room.room)) {
    return refuse(proto::error_code::invalid_argument, "invalid room id");
  }
  if (request.before && request.after) {
    return refuse(proto::error_code::invalid_argument, "give before or after, not both");
  }
  const std::uint32_t limit =
      request.limit == 0 ? std::min(default_history_page, max_limit) : request.limit;
  if (limit > max_limit) {
    return refuse(proto::error_code::invalid_argument,
                  "limit above history_limit " + std::to_string(max_limit));
  }
  const auto record = db.find_room(room);
  if (!record) return refuse(proto::error_code::not_found, "no such room");
  if (!may_read(db, room, *record, user)) {
    return refuse(proto::error_code::forbidden, "private room");
  }

  history_result result;
  result.epoch = record->epoch;
  // One extra row tells whether more exist in that direction without a second query.
  if (request.after) {
    result.events = db.events_after(room, *request.after, limit + 1);
    result.more = result.events.size() > limit;
    if (result.more) result.events.pop_back();
  } else {
    const std::uint64_t before = request.before.value_or(0) == 0
                                     ? std::numeric_limits<std::int64_t>::max()
                                     : *request.before;
    result.events = db.events_before(room, before, limit + 1);
    result.more = result.events.size() > limit;
    if (result.more) result.events.erase(result.events.begin());
  }
  return result;
}

}  // namespace parley::server
