// Server options: defaults, a JSON file (cereal), PARLEY_* environment variables and command
// line flags, applied in that order so that flags > env > file > default.
//
// Every option has one snake_case name used three ways: `"heartbeat_ms"` in the file,
// `PARLEY_HEARTBEAT_MS` in the environment and `--heartbeat-ms` on the command line.
#pragma once

#include "parley/protocol/messages.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace parley::server {

/// The protocol's announced defaults; the options below start from them.
inline constexpr proto::server_params protocol_defaults{};

/// Everything the operator can set. Each default says why it is that value.
struct server_options {
  // Path of a JSON config file; only read from the flag or PARLEY_CONFIG.
  std::string config;
  // Loopback: exposing the server beyond this host is an explicit choice.
  std::string host = "127.0.0.1";
  // Conventional unprivileged HTTP port; 0 binds an ephemeral port (tests, scripts).
  std::uint16_t port = 8080;
  // Empty: none. Otherwise the bound port is written here once listening (for --port 0).
  std::string port_file;
  // Directory of the SQLite database; relative to the working directory like most CLIs.
  std::string data = "./data";
  // HS256 key for JWTs. Empty is refused unless --dev or jwt_keys, which then keeps a
  // generated one in <data>/dev-jwt-secret so that tokens survive a restart.
  std::string jwt_secret;
  // Empty: only jwt_secret. Otherwise a JSON key set file: HS256 secrets and RS256 / ES256
  // public keys (PEM), each with a `kid`, so keys can be rotated by listing old and new.
  std::string jwt_keys;
  // Empty: plain ws:// and http://. Both set: the port speaks only TLS (wss://, https://),
  // TLS 1.2 or newer. PEM certificate chain and private key.
  std::string tls_cert;
  std::string tls_key;
  // Off: the dev token endpoint mints tokens for anyone and must never be on by accident.
  bool dev = false;
  // Empty: no static files. Set to serve the web demo from the same origin as /ws.
  std::string web_root;
  // 15 s: frequent enough to find dead peers within a minute, rare enough to cost nothing.
  std::uint32_t heartbeat_ms = protocol_defaults.heartbeat_ms;
  // 2 s: a typing indicator stays fresh without a message per keystroke.
  std::uint32_t typing_throttle_ms = protocol_defaults.typing_throttle_ms;
  // 6 s: three throttle periods, so one lost typing(on) does not blink the indicator.
  std::uint32_t typing_expiry_ms = protocol_defaults.typing_expiry_ms;
  // 10 s: covers a reconnect after a network switch without flapping offline/online.
  std::uint32_t presence_grace_ms = protocol_defaults.presence_grace_ms;
  // 50/s: far above human typing, low enough that one client cannot starve the loop.
  std::uint32_t rate_per_sec = protocol_defaults.rate_per_sec;
  // 100: a reconnect's batch (joins + outbox resend) passes without tripping the limit.
  std::uint32_t rate_burst = protocol_defaults.rate_burst;
  // 64 KiB: a full batch of maximal texts fits; bigger frames are closed with 1009.
  std::uint32_t max_frame = protocol_defaults.max_frame;
  // 8 KiB: a long chat message; documents belong in attachments, not in the room log.
  std::uint32_t max_text = protocol_defaults.max_text;
  // 100: bounds per-session fan-out state; a UI shows far fewer rooms at once.
  std::uint32_t max_rooms = protocol_defaults.max_rooms;
  // 200: one page fills a screen several times and stays well under a second to encode.
  std::uint32_t history_limit = protocol_defaults.history_limit;
  // 1 MiB: seconds of a busy room for a healthy client; a stalled one is cut before it costs.
  std::uint64_t send_queue_bytes = 1048576;
  // 24 h: a client offline for a day can still resend its outbox without duplicates.
  std::uint64_t dedup_window_s = 86400;
  // 10 s: a WebSocket must say hello this soon after the upgrade (else close 4004).
  std::uint32_t hello_timeout_ms = 10000;
  // 10 s: an HTTP request (headers and body, or the WebSocket upgrade) must arrive whole this
  // soon, and an idle keep-alive connection is dropped after it: slowloris costs one slot for
  // at most this long.
  std::uint32_t request_timeout_ms = 10000;
  // 256: a whole office behind one NAT fits; a single host cannot hold the server's file
  // descriptors. Over it, the connection gets HTTP 429 and is closed. 0 = no limit.
  std::uint32_t max_connections_per_ip = 256;
  // 32: tabs and devices of one person; a leaked token cannot open thousands of sessions.
  // Over it, hello is refused (error limit_exceeded, close 4006). 0 = no limit.
  std::uint32_t max_connections_per_user = 32;
  // On: a fan-out's sends reach the kernel in batches through io_uring, which saves a kernel
  // entry and exit per recipient. Where io_uring is refused (old kernel, seccomp) the server
  // logs it and sends one send(2) per frame, as it does with this off.
  bool io_uring = true;
  // info: one line per connection and error; debug adds one per message.
  std::string log_level = "info";

  /// The parameters announced to clients in welcome.
  proto::server_params params() const;
};

/// A bad flag, variable or file entry; the message names it.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Looks an environment variable up; nullopt when unset.
using env_lookup = std::function<std::optional<std::string>(const std::string& name)>;

/// The process environment, for env_lookup.
std::optional<std::string> process_env(const std::string& name);

/// Builds the options from defaults, the config file, the environment and `args` (argv without
/// the program name). Throws config_error.
server_options load_options(const std::vector<std::string>& args, const env_lookup& env);

/// Usage text listing every flag with its default.
std::string usage();

}  // namespace parley::server
