#include "log.hpp"

#include <boost/asio/error.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace parley::server {
namespace {

log_level threshold = log_level::info;

constexpr std::array<std::string_view, 4> level_names{"debug", "info", "warn", "error"};

}  // namespace

std::optional<log_level> parse_log_level(std::string_view name) {
  for (std::size_t i = 0; i < level_names.size(); ++i) {
    if (level_names[i] == name) return static_cast<log_level>(i);
  }
  return std::nullopt;
}

void set_log_level(log_level level) { threshold = level; }

bool log_enabled(log_level level) { return level >= threshold; }

void log_line(log_level level, std::string_view text) {
  if (!log_enabled(level)) return;
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  const auto name = level_names[static_cast<std::size_t>(level)];
  // One fprintf per line keeps concurrent writers (tests reading stderr) from seeing torn lines.
  std::fprintf(stderr, "%s.%03dZ %-5.*s %.*s\n", stamp, static_cast<int>(millis),
               static_cast<int>(name.size()), name.data(), static_cast<int>(text.size()),
               text.data());
}

void fail(const boost::system::error_code& ec, std::string_view what) {
  namespace error = boost::asio::error;
  const bool routine = ec == error::operation_aborted || ec == error::eof ||
                       ec == error::connection_reset || ec == error::broken_pipe ||
                       ec == error::not_connected;
  log_line(routine ? log_level::debug : log_level::warn,
           std::string(what) + ": " + ec.message());
}

}  // namespace parley::server
