#include "http_routes.hpp"

#include "jwt.hpp"
#include "log.hpp"
#include "room_history.hpp"

#include "parley/protocol/codec.hpp"
#include "parley/protocol/rules.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

namespace parley::server {
namespace {

namespace fs = std::filesystem;

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// Lifetime of tokens from the dev endpoint: a working day of local testing.
constexpr std::int64_t dev_token_ttl_s = 24 * 3600;

constexpr std::string_view json_type = "application/json";
constexpr std::string_view rooms_prefix = "/api/v1/rooms/";
constexpr std::string_view messages_suffix = "/messages";

void key(json_writer& w, std::string_view name) {
  w.Key(name.data(), static_cast<rapidjson::SizeType>(name.size()));
}

void string_value(json_writer& w, std::string_view value) {
  w.String(value.data(), static_cast<rapidjson::SizeType>(value.size()));
}

http_reply json_reply(unsigned status, const rapidjson::StringBuffer& buffer) {
  return {status, std::string(json_type), std::string(buffer.GetString(), buffer.GetSize()), {}};
}

http_reply json_error(unsigned status, std::string_view code, std::string_view message) {
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  key(w, "error");
  string_value(w, code);
  key(w, "message");
  string_value(w, message);
  w.EndObject();
  return json_reply(status, buffer);
}

unsigned status_for(proto::error_code code) {
  switch (code) {
    case proto::error_code::unauthenticated:
    case proto::error_code::token_expired: return 401;
    case proto::error_code::forbidden: return 403;
    case proto::error_code::not_found: return 404;
    case proto::error_code::internal: return 503;
    default: return 400;
  }
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Decodes %XX escapes (and '+' as space in queries); nullopt on a broken escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%') {
      if (i + 2 >= text.size()) return std::nullopt;
      const int hi = hex_digit(text[i + 1]);
      const int lo = hex_digit(text[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (plus_is_space && text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

/// Query parameters; a malformed escape makes the whole query invalid.
std::optional<std::map<std::string, std::string, std::less<>>> parse_query(std::string_view query) {
  std::map<std::string, std::string, std::less<>> params;
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto name = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!name || !value) return std::nullopt;
    params[std::move(*name)] = std::move(*value);
  }
  return params;
}

/// Parses an optional unsigned query parameter; false if present and not a number.
bool number_param(const std::map<std::string, std::string, std::less<>>& params,
                  std::string_view name, std::optional<std::uint64_t>& out) {
  const auto it = params.find(name);
  if (it == params.end() || it->second.empty()) return true;
  std::uint64_t value = 0;
  const auto& text = it->second;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return false;
  out = value;
  return true;
}

void write_event(json_writer& w, const proto::room_event& ev) {
  w.StartObject();
  key(w, "seq");
  w.Uint64(ev.seq);
  key(w, "epoch");
  w.Uint64(ev.epoch);
  key(w, "kind");
  w.Uint(ev.kind);
  key(w, "from");
  string_value(w, ev.from);
  key(w, "cid");
  string_value(w, ev.cid);
  key(w, "ts");
  w.Uint64(ev.ts);
  key(w, "text");
  string_value(w, ev.text);
  key(w, "ref");
  w.Uint64(ev.ref);
  w.EndObject();
}

/// The token of an "Authorization: Bearer <token>" header, or empty.
std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return {};
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    const char c = authorization[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != scheme[i]) return {};
  }
  return authorization.substr(scheme.size());
}

}  // namespace

std::string_view mime_type(std::string_view path) {
  static const std::map<std::string_view, std::string_view> types{
      {".html", "text/html; charset=utf-8"},
      {".htm", "text/html; charset=utf-8"},
      {".js", "text/javascript"},
      {".mjs", "text/javascript"},
      {".css", "text/css; charset=utf-8"},
      {".wasm", "application/wasm"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".txt", "text/plain; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".ico", "image/x-icon"},
      {".webp", "image/webp"},
      {".woff2", "font/woff2"},
      {".ts", "text/plain; charset=utf-8"},
  };
  const auto dot = path.rfind('.');
  const auto slash = path.rfind('/');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
    return "application/octet-stream";
  }
  const auto it = types.find(path.substr(dot));
  return it == types.end() ? "application/octet-stream" : it->second;
}

http_reply http_routes::handle(const http_call& call, instant now) {
  const auto question = call.target.find('?');
  const std::string_view path = call.target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view{} : call.target.substr(question + 1);
  const bool get = call.method == "GET" || call.method == "HEAD";

  if (path == "/healthz") return get ? health(now) : json_error(405, "method", "use GET");
  if (path == "/metrics") return get ? metrics_text() : json_error(405, "method", "use GET");
  if (path == "/api/v1/dev/token" && hub_.options().dev) {
    return call.method == "POST" ? dev_token(query, now) : json_error(405, "method", "use POST");
  }
  if (path.starts_with(rooms_prefix) && path.ends_with(messages_suffix) &&
      path.size() > rooms_prefix.size() + messages_suffix.size()) {
    if (!get) return json_error(405, "method", "use GET");
    const auto room = path.substr(rooms_prefix.size(),
                                  path.size() - rooms_prefix.size() - messages_suffix.size());
    return room_messages(room, query, call.authorization, now);
  }
  if (path.starts_with("/api/")) return json_error(404, "not_found", "no such endpoint");
  if (!hub_.options().web_root.empty() && get) return static_file(path);
  return json_error(404, "not_found", "no such resource");
}

http_reply http_routes::health(instant now) {
  const bool store_ok = hub_.db().healthy();
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  key(w, "status");
  string_value(w, store_ok ? "ok" : "degraded");
  key(w, "store");
  string_value(w, store_ok ? "ok" : "error");
  key(w, "uptime_s");
  w.Int64((now.mono - started_.mono).count() / 1000);
  w.EndObject();
  return json_reply(store_ok ? 200 : 503, buffer);
}

http_reply http_routes::metrics_text() {
  return {200, "text/plain; version=0.0.4; charset=utf-8",
          hub_.stats().render(hub_.room_count()), {}};
}

http_reply http_routes::room_messages(std::string_view room_segment, std::string_view query,
                                      std::string_view authorization, instant now) {
  const auto token = bearer_token(authorization);
  const auto verified = hub_.keys().verify(token, static_cast<std::int64_t>(now.wall_ms / 1000));
  if (!verified.claims) {
    auto reply = json_error(401,
                            proto::error_name(verified.error == jwt_errc::expired
                                                  ? proto::error_code::token_expired
                                                  : proto::error_code::unauthenticated),
                            token.empty() ? "Authorization: Bearer <JWT> required"
                                          : jwt_error_text(verified.error));
    reply.headers.emplace_back("WWW-Authenticate", "Bearer");
    hub_.stats().error(proto::error_name(proto::error_code::unauthenticated));
    return reply;
  }
  const auto room = percent_decode(room_segment, false);
  const auto params = parse_query(query);
  history_request request;
  std::optional<std::uint64_t> limit;
  if (!room || !params || !number_param(*params, "before", request.before) ||
      !number_param(*params, "after", request.after) || !number_param(*params, "limit", limit) ||
      limit.value_or(0) > hub_.options().history_limit) {
    return json_error(400, proto::error_name(proto::error_code::invalid_argument),
                      "before, after and limit must be numbers; limit <= history_limit");
  }
  request.limit = static_cast<std::uint32_t>(limit.value_or(0));
  const room_key k{verified.claims->tid, *room};
  history_result page;
  try {
    page = read_history(hub_.db(), k, verified.claims->sub, request, hub_.options().history_limit);
  } catch (const store_error& e) {
    log_line(log_level::error, std::string("REST history: store failed: ") + e.what());
    page.error = proto::error_code::internal;
    page.message = "store unavailable";
  }
  if (page.error) {
    hub_.stats().error(proto::error_name(*page.error));
    return json_error(status_for(*page.error), proto::error_name(*page.error), page.message);
  }
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  key(w, "room");
  string_value(w, k.room);
  key(w, "epoch");
  w.Uint64(page.epoch);
  key(w, "events");
  w.StartArray();
  for (const auto& ev : page.events) write_event(w, ev);
  w.EndArray();
  key(w, "more");
  w.Bool(page.more);
  w.EndObject();
  return json_reply(200, buffer);
}

http_reply http_routes::dev_token(std::string_view query, instant now) {
  const auto params = parse_query(query);
  if (!params) return json_error(400, "invalid_argument", "bad query string");
  const auto user = params->find("user");
  const auto tenant = params->find("tenant");
  jwt_claims claims;
  claims.sub = user == params->end() ? "" : user->second;
  claims.tid = tenant == params->end() || tenant->second.empty() ? "default" : tenant->second;
  // Same rule as client ids: printable ASCII, 1..64 bytes.
  if (!proto::valid_client_id(claims.sub) || !proto::valid_client_id(claims.tid)) {
    return json_error(400, "invalid_argument", "user (and tenant) must be 1..64 printable ASCII");
  }
  claims.iat = static_cast<std::int64_t>(now.wall_ms / 1000);
  claims.exp = claims.iat + dev_token_ttl_s;
  const std::string token = jwt_sign_hs256(claims, hub_.options().jwt_secret);
  log_line(log_level::warn, "DEV MODE: issued a token for " + claims.sub + "@" + claims.tid);
  rapidjson::StringBuffer buffer;
  json_writer w(buffer);
  w.StartObject();
  key(w, "token");
  string_value(w, token);
  key(w, "user");
  string_value(w, claims.sub);
  key(w, "tenant");
  string_value(w, claims.tid);
  key(w, "expires");
  w.Int64(claims.exp);
  w.EndObject();
  return json_reply(200, buffer);
}

http_reply http_routes::static_file(std::string_view raw_path) {
  const auto path = percent_decode(raw_path, false);
  if (!path || path->empty() || path->front() != '/' ||
      path->find_first_of(std::string_view("\\\0", 2)) != std::string::npos) {
    return json_error(400, "invalid_argument", "bad path");
  }
  // No ".." segment may climb out of the web root; the canonical check below also catches
  // symlinks that point outside it.
  const fs::path relative = fs::path(path->substr(1)).lexically_normal();
  for (const auto& part : relative) {
    if (part == "..") return json_error(404, "not_found", "no such file");
  }
  std::error_code ec;
  const fs::path root = fs::canonical(hub_.options().web_root, ec);
  if (ec) return json_error(404, "not_found", "no such file");
  fs::path file = root / relative;
  if (fs::is_directory(file, ec)) file /= "index.html";
  const fs::path resolved = fs::canonical(file, ec);
  if (ec || !fs::is_regular_file(resolved, ec)) return json_error(404, "not_found", "no such file");
  const auto [root_end, _] = std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
  if (root_end != root.end()) return json_error(404, "not_found", "no such file");
  std::ifstream in(resolved, std::ios::binary);
  if (!in) return json_error(500, "internal", "cannot read file");
  std::ostringstream body;
  body << in.rdbuf();
  return {200, std::string(mime_type(resolved.string())), std::move(body).str(), {}};
}

}  // namespace parley::server
