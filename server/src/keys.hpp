// Tenant-scoped identifiers. Every room and user lookup goes through these, so nothing can be
// addressed without its tenant.
#pragma once

#include <compare>
#include <string>

namespace parley::server {

/// A room within a tenant; the same room name in two tenants is two rooms.
struct room_key {
  std::string tenant;
  std::string room;
  auto operator<=>(const room_key&) const = default;
};

/// A user within a tenant.
struct user_key {
  std::string tenant;
  std::string user;
  auto operator<=>(const user_key&) const = default;
};

}  // namespace parley::server
