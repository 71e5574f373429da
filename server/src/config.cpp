// Debian's cereal reads JSON with the system rapidjson headers and redefines RAPIDJSON_ASSERT
// to throw. Other files (jwt.cpp, http_routes.cpp, tests) use the same headers with the plain
// assert, so the same inline templates would exist twice with different bodies (an ODR
// violation: which one the linker keeps decides whether a bad config aborts or throws). Giving
// cereal's instantiations a namespace of their own keeps the two apart. Must precede every
// include that might pull rapidjson in.
#define RAPIDJSON_NAMESPACE parley_cereal_rapidjson
#define RAPIDJSON_NAMESPACE_BEGIN namespace parley_cereal_rapidjson {
#define RAPIDJSON_NAMESPACE_END }

#include "config.hpp"

#include "log.hpp"

#include <cereal/archives/json.hpp>

#include <charconv>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <variant>

namespace parley::server {
namespace {

/// A settable member of server_options.
using field = std::variant<std::string server_options::*, std::uint16_t server_options::*,
                           std::uint32_t server_options::*, std::uint64_t server_options::*,
                           bool server_options::*>;

/// One option: its snake_case name (the file key; flag and env names derive from it).
struct option_spec {
  std::string_view name;
  field member;
  std::string_view help;
};

const option_spec specs[] = {
    {"config", &server_options::config, "JSON config file (keys are these names in snake_case)"},
    {"host", &server_options::host, "address to listen on"},
    {"port", &server_options::port, "TCP port; 0 = ephemeral"},
    {"port_file", &server_options::port_file, "write the bound port here once listening"},
    {"data", &server_options::data, "directory of the SQLite database"},
    {"jwt_secret", &server_options::jwt_secret, "HS256 secret for client tokens"},
    {"jwt_keys", &server_options::jwt_keys, "JSON key set file (HS256/RS256/ES256 keys by kid)"},
    {"tls_cert", &server_options::tls_cert, "PEM certificate chain: serve wss:// and https://"},
    {"tls_key", &server_options::tls_key, "PEM private key of tls_cert"},
    {"dev", &server_options::dev, "enable the dev token endpoint (never in production)"},
    {"web_root", &server_options::web_root, "serve static files from this directory"},
    {"heartbeat_ms", &server_options::heartbeat_ms, "server ping interval"},
    {"typing_throttle_ms", &server_options::typing_throttle_ms, "typing(on) at most this often"},
    {"typing_expiry_ms", &server_options::typing_expiry_ms, "receivers drop typing after this"},
    {"presence_grace_ms", &server_options::presence_grace_ms, "offline announced after this"},
    {"rate_per_sec", &server_options::rate_per_sec, "client messages per second per connection"},
    {"rate_burst", &server_options::rate_burst, "token bucket size"},
    {"max_frame", &server_options::max_frame, "largest client frame in bytes (else close 1009)"},
    {"max_text", &server_options::max_text, "largest message text in bytes"},
    {"max_rooms", &server_options::max_rooms, "rooms joined per session"},
    {"history_limit", &server_options::history_limit, "largest history page"},
    {"send_queue_bytes", &server_options::send_queue_bytes, "outbound queue bound (else 4008)"},
    {"dedup_window_s", &server_options::dedup_window_s, "how long a client id is remembered"},
    {"hello_timeout_ms", &server_options::hello_timeout_ms, "hello due after the upgrade"},
    {"request_timeout_ms", &server_options::request_timeout_ms,
     "an HTTP request must arrive whole within this; idle keep-alive limit"},
    {"max_connections_per_ip", &server_options::max_connections_per_ip,
     "open connections per client address, IPv6 per /64 (else HTTP 429); 0 = no limit"},
    {"max_connections_per_user", &server_options::max_connections_per_user,
     "sessions per user (else close 4006); 0 = no limit"},
    {"io_uring", &server_options::io_uring,
     "batch fan-out sends through io_uring (send(2) per frame where the kernel refuses it)"},
    {"log_level", &server_options::log_level, "debug, info, warn or error"},
};

std::string flag_name(std::string_view name) {
  std::string flag = "--";
  for (char c : name) flag += c == '_' ? '-' : c;
  return flag;
}

std::string env_name(std::string_view name) {
  std::string env = "PARLEY_";
  for (char c : name) env += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return env;
}

const option_spec* find_by_name(std::string_view name) {
  for (const auto& spec : specs) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

const option_spec* find_by_flag(std::string_view flag) {
  for (const auto& spec : specs) {
    if (flag_name(spec.name) == flag) return &spec;
  }
  return nullptr;
}

template <class Number>
Number checked_number(std::uint64_t value, std::string_view where) {
  if (value > std::numeric_limits<Number>::max()) {
    throw config_error(std::string(where) + ": " + std::to_string(value) + " is out of range");
  }
  return static_cast<Number>(value);
}

std::uint64_t parse_unsigned(std::string_view text, std::string_view where) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw config_error(std::string(where) + ": '" + std::string(text) + "' is not a number");
  }
  return value;
}

bool parse_bool(std::string_view text, std::string_view where) {
  if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
  if (text == "0" || text == "false" || text == "no" || text == "off") return false;
  throw config_error(std::string(where) + ": '" + std::string(text) + "' is not a boolean");
}

/// Sets one option from its textual form (flags and environment).
void set_from_text(server_options& options, const option_spec& spec, std::string_view text,
                   std::string_view where) {
  std::visit(
      [&](auto member) {
        using value_type = std::remove_reference_t<decltype(options.*member)>;
        if constexpr (std::is_same_v<value_type, std::string>) {
          options.*member = std::string(text);
        } else if constexpr (std::is_same_v<value_type, bool>) {
          options.*member = parse_bool(text, where);
        } else {
          options.*member = checked_number<value_type>(parse_unsigned(text, where), where);
        }
      },
      spec.member);
}

/// Loads the value under the archive's current key into the option.
void set_from_json(server_options& options, const option_spec& spec,
                   cereal::JSONInputArchive& archive, const std::string& where) {
  std::visit(
      [&](auto member) {
        using value_type = std::remove_reference_t<decltype(options.*member)>;
        try {
          if constexpr (std::is_same_v<value_type, std::string> ||
                        std::is_same_v<value_type, bool>) {
            archive(options.*member);
          } else {
            std::uint64_t value = 0;
            archive(value);
            options.*member = checked_number<value_type>(value, where);
          }
        } catch (const cereal::RapidJSONException&) {
          // cereal reports a JSON type mismatch as a failed rapidjson assertion.
          constexpr const char* expected = std::is_same_v<value_type, std::string> ? "a string"
                                           : std::is_same_v<value_type, bool>      ? "true/false"
                                                                                   : "a number";
          throw config_error(where + ": expected " + expected);
        }
      },
      spec.member);
}

void apply_file(server_options& options, const std::string& path) {
  std::ifstream in(path);
  if (!in) throw config_error("config file " + path + ": cannot open");
  try {
    cereal::JSONInputArchive archive(in);
    // Walk the top-level keys in file order so that unknown keys (typos) are reported.
    for (const char* key = archive.getNodeName(); key != nullptr; key = archive.getNodeName()) {
      const std::string where = "config file " + path + ": " + key;
      const option_spec* spec = find_by_name(key);
      if (spec == nullptr || spec->name == "config") throw config_error(where + ": unknown key");
      set_from_json(options, *spec, archive, where);
    }
  } catch (const cereal::Exception& e) {
    throw config_error("config file " + path + ": not a JSON object (" + e.what() + ")");
  }
}

void apply_env(server_options& options, const env_lookup& env) {
  for (const auto& spec : specs) {
    const std::string name = env_name(spec.name);
    if (auto value = env(name)) set_from_text(options, spec, *value, name);
  }
}

/// Flag/value pairs in command-line order; "--dev" alone means "--dev=true".
std::vector<std::pair<const option_spec*, std::string>> parse_flags(
    const std::vector<std::string>& args) {
  std::vector<std::pair<const option_spec*, std::string>> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const auto eq = arg.find('=');
    const std::string flag = arg.substr(0, eq);
    const option_spec* spec = find_by_flag(flag);
    if (spec == nullptr) throw config_error("unknown option " + flag + " (see --help)");
    if (eq != std::string::npos) {
      flags.emplace_back(spec, arg.substr(eq + 1));
    } else if (std::holds_alternative<bool server_options::*>(spec->member)) {
      flags.emplace_back(spec, "true");
    } else if (i + 1 < args.size()) {
      flags.emplace_back(spec, args[++i]);
    } else {
      throw config_error(flag + " needs a value");
    }
  }
  return flags;
}

void validate(const server_options& options) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw config_error(what);
  };
  require(options.heartbeat_ms > 0, "heartbeat_ms must be positive");
  require(options.rate_per_sec > 0 && options.rate_burst > 0, "rate limits must be positive");
  require(options.max_frame >= 1024, "max_frame must be at least 1024");
  require(options.max_text > 0 && options.max_text < options.max_frame,
          "max_text must be positive and below max_frame");
  require(options.max_rooms > 0, "max_rooms must be positive");
  require(options.history_limit > 0, "history_limit must be positive");
  require(options.send_queue_bytes >= options.max_frame,
          "send_queue_bytes must hold at least one max_frame");
  require(!options.data.empty(), "data must name a directory");
  require(options.tls_cert.empty() == options.tls_key.empty(),
          "tls_cert and tls_key must be given together");
  require(options.hello_timeout_ms > 0, "hello_timeout_ms must be positive");
  require(options.request_timeout_ms > 0, "request_timeout_ms must be positive");
  require(parse_log_level(options.log_level).has_value(),
          "log_level must be debug, info, warn or error");
}

std::string default_text(const option_spec& spec) {
  static const server_options defaults;
  return std::visit(
      [](auto member) -> std::string {
        const auto& value = defaults.*member;
        using value_type = std::remove_cvref_t<decltype(value)>;
        if constexpr (std::is_same_v<value_type, std::string>) {
          return value.empty() ? "(none)" : value;
        } else if constexpr (std::is_same_v<value_type, bool>) {
          return value ? "true" : "false";
        } else {
          return std::to_string(value);
        }
      },
      spec.member);
}

}  // namespace

proto::server_params server_options::params() const {
  proto::server_params p;
  p.heartbeat_ms = heartbeat_ms;
  p.typing_throttle_ms = typing_throttle_ms;
  p.typing_expiry_ms = typing_expiry_ms;
  p.presence_grace_ms = presence_grace_ms;
  p.max_frame = max_frame;
  p.max_text = max_text;
  p.max_rooms = max_rooms;
  p.history_limit = history_limit;
  p.rate_per_sec = rate_per_sec;
  p.rate_burst = rate_burst;
  return p;
}

std::optional<std::string> process_env(const std::string& name) {
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

server_options load_options(const std::vector<std::string>& args, const env_lookup& env) {
  const auto flags = parse_flags(args);
  server_options options;
  // The config path itself follows flags > env; the file is then the lowest explicit layer.
  std::string config_path = env("PARLEY_CONFIG").value_or("");
  for (const auto& [spec, value] : flags) {
    if (spec->name == "config") config_path = value;
  }
  if (!config_path.empty()) apply_file(options, config_path);
  apply_env(options, env);
  for (const auto& [spec, value] : flags) set_from_text(options, *spec, value, flag_name(spec->name));
  options.config = config_path;
  validate(options);
  return options;
}

std::string usage() {
  std::string text =
      "usage: parley-server [options]\n"
      "Each option is also read from PARLEY_<NAME> and from the config file (snake_case key).\n"
      "Precedence: flags > environment > config file > default.\n\n";
  for (const auto& spec : specs) {
    text += "  " + flag_name(spec.name) + " (" + env_name(spec.name) + ", default " +
            default_text(spec) + "): " + std::string(spec.help) + "\n";
  }
  return text;
}

}  // namespace parley::server
