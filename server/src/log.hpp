// One line per event on stderr: "<UTC time> <level> <text>". The level threshold is set once at
// start from --log-level; the server is single-threaded, so no lock is needed.
#pragma once

#include <boost/system/error_code.hpp>

#include <optional>
#include <string_view>

namespace parley::server {

/// Severity of a log line; lines below the configured threshold are dropped.
enum class log_level { debug = 0, info = 1, warn = 2, error = 3 };

/// Parses "debug" / "info" / "warn" / "error".
std::optional<log_level> parse_log_level(std::string_view name);

/// Sets the lowest level that is written.
void set_log_level(log_level level);

/// True if a line at `level` would be written (skip building expensive text otherwise).
bool log_enabled(log_level level);

/// Writes one line at `level`.
void log_line(log_level level, std::string_view text);

/// Reports a failed network operation: routine ends of connections (peer gone, cancelled) at
/// debug, anything else at warn.
void fail(const boost::system::error_code& ec, std::string_view what);

}  // namespace parley::server
