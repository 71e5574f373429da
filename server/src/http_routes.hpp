// The HTTP side of the port, sans-I/O: a request's method, target and Authorization header go
// in, a status, content type and body come out. http_session does the Beast parsing and
// writing; everything a route decides is here, so it compiles without Beast.
//
// Routes: GET /healthz, GET /metrics, GET /api/v1/rooms/{room}/messages (Bearer JWT),
// POST /api/v1/dev/token (only with --dev), and static files under --web-root (GET/HEAD).
// /ws is upgraded to a WebSocket by http_session before it gets here.
#pragma once

#include "instant.hpp"
#include "shared_state.hpp"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::server {

/// The parts of a request the routes look at.
struct http_call {
  std::string_view method;         // "GET", "HEAD", "POST", ...
  std::string_view target;         // path and query, as sent
  std::string_view authorization;  // the Authorization header, empty if absent
};

/// A complete answer.
struct http_reply {
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
};

/// Request → reply for every HTTP route.
class http_routes {
 public:
  /// `started`: process start, for uptime in /healthz.
  http_routes(shared_state& hub, instant started) : hub_(hub), started_(started) {}

  /// Answers one request at `now`.
  http_reply handle(const http_call& call, instant now);

 private:
  http_reply health(instant now);
  http_reply metrics_text();
  http_reply room_messages(std::string_view room, std::string_view query,
                           std::string_view authorization, instant now);
  http_reply dev_token(std::string_view query, instant now);
  http_reply static_file(std::string_view path);

  shared_state& hub_;
  instant started_;
};

/// Content type served for a file name's extension (".wasm" → application/wasm, ...).
std::string_view mime_type(std::string_view path);

}  // namespace parley::server
