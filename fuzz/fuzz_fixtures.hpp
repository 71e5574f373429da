// The names, keys and times the fuzz targets and their seed writer (fuzz_seeds.cpp) share.
//
// Pools are small on purpose: when the script picks among a few rooms and users, the same ones
// come back and state builds up (joins, sends, dedup records) instead of scattering.
#pragma once

#include "parley/protocol/codec.hpp"

#include <array>
#include <cstdint>
#include <string>

namespace parley::fuzz {

/// Rooms a script picks from. The last id is invalid, so the room id checks are exercised too.
inline const std::array<std::string, 5> room_pool{"general", "ops", "r.1", "a-b_c", "bad room"};
/// Users a script picks from.
inline const std::array<std::string, 3> user_pool{"alice", "bob", "carol"};
/// Tenants a script picks from: two, so that tenant isolation is exercised.
inline const std::array<std::string, 2> tenant_pool{"acme", "umbrella"};
/// The HS256 key tokens are signed with.
inline const std::string jwt_secret = "fuzz-secret";
/// "Now" for the JWT target, in seconds since the Unix epoch (November 2023).
inline constexpr std::int64_t jwt_now_s = 1700000000;

/// The bounds the engine decodes server frames with: the widest the codec is used with.
inline proto::decode_limits client_decode_limits() {
  proto::decode_limits limits;
  limits.max_frame = std::size_t{4} << 20;
  limits.max_batch = std::size_t{1} << 16;
  return limits;
}

}  // namespace parley::fuzz
