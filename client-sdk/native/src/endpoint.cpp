#include "parley/client/endpoint.hpp"

#include <charconv>

namespace parley::client {

namespace {

constexpr std::uint16_t default_port(bool secure) { return secure ? 443 : 80; }

std::optional<std::uint16_t> parse_port(std::string_view digits) {
  unsigned value = 0;
  const auto* end = digits.data() + digits.size();
  auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (ec != std::errc{} || ptr != end || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(value);
}

}  // namespace

std::string endpoint::host_header() const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  if (port != default_port(secure)) h += ":" + std::to_string(port);
  return h;
}

std::optional<endpoint> parse_endpoint(std::string_view url) {
  endpoint ep;
  if (url.starts_with("wss://")) {
    ep.secure = true;
    url.remove_prefix(6);
  } else if (url.starts_with("ws://")) {
    url.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  // A fragment has no meaning for a WebSocket URL (RFC 6455 §3) and user info is not sent.
  if (url.find('#') != std::string_view::npos) return std::nullopt;

  const auto authority_end = url.find_first_of("/?");
  std::string_view authority = url.substr(0, authority_end);
  if (authority_end != std::string_view::npos) {
    ep.target = std::string(url.substr(authority_end));
    if (ep.target.front() == '?') ep.target.insert(0, "/");
  }
  if (authority.find('@') != std::string_view::npos) return std::nullopt;

  // IPv6 literals carry colons, hence the brackets; a missing port means the scheme default.
  std::string_view host = authority;
  std::optional<std::string_view> port_text;
  if (authority.starts_with('[')) {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      port_text = rest.substr(1);
    }
  } else if (const auto colon = authority.find(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return std::nullopt;
  ep.host = std::string(host);

  if (!port_text) {
    ep.port = default_port(ep.secure);
  } else if (auto port = parse_port(*port_text)) {
    ep.port = *port;
  } else {
    return std::nullopt;
  }
  return ep;
}

}  // namespace parley::client
