// Reading a room's log page by page, with the access rules shared by the WebSocket `history`
// message and the REST endpoint, so both answer the same events and the same errors.
#pragma once

#include "keys.hpp"
#include "store.hpp"

#include "parley/protocol/messages.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::server {

/// Which page to read (semantics 5): before=N newest below N, after=N oldest above N, neither
/// the newest. limit 0 means the default page size.
struct history_request {
  std::optional<std::uint64_t> before;
  std::optional<std::uint64_t> after;
  std::uint32_t limit = 0;
};

/// A page, or the error that refuses it.
struct history_result {
  std::optional<proto::error_code> error;
  std::string message;        // why, when refused
  std::uint64_t epoch = 0;
  std::vector<proto::room_event> events;  // ascending seq
  bool more = false;          // more events exist in the requested direction
};

/// Page size when the request gives none.
inline constexpr std::uint32_t default_history_page = 50;

/// True if `user` may read the room (public, or private and a member).
bool may_read(store& db, const room_key& room, const room_record& record, std::string_view user);

/// Reads a page of `room` for `user`, checking room id, existence, privacy and the limit
/// (1..max_limit). Throws store_error.
history_result read_history(store& db, const room_key& room, std::string_view user,
                            const history_request& request, std::uint32_t max_limit);

}  // namespace parley::server
