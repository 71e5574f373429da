// Where a client connects: the parts of a ws:// or wss:// URL that the transport needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::client {

/// A parsed WebSocket URL.
struct endpoint {
  bool secure = false;       // wss:// (TLS) rather than ws://
  std::string host;          // name or address as written, without IPv6 brackets
  std::uint16_t port = 0;    // explicit port, else 80 (ws) / 443 (wss)
  std::string target = "/";  // path and query sent in the upgrade request

  /// The Host header value: host, bracketed if IPv6, plus ":port" when not the default.
  std::string host_header() const;
};

/// Parse `ws://host[:port][/path][?query]` or `wss://...`; IPv6 hosts as `[::1]`.
/// Nullopt for another scheme, an empty host, a bad port, user info or a fragment.
std::optional<endpoint> parse_endpoint(std::string_view url);

}  // namespace parley::client
