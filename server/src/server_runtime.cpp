#include "server_runtime.hpp"

#include "log.hpp"
#include "tls_setup.hpp"

#include <boost/asio/ip/address.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>

namespace parley::server {
namespace {

/// After SIGTERM, sessions get this long to finish their close handshakes (one close_timeout
/// plus slack) before the loop is stopped regardless.
constexpr std::chrono::seconds shutdown_deadline{6};

std::string database_path(const server_options& options) {
  std::filesystem::create_directories(options.data);
  return (std::filesystem::path(options.data) / "parley.db").string();
}

std::uint64_t random_seed() {
  std::random_device device;
  return (std::uint64_t{device()} << 32) ^ device();
}

tcp::endpoint resolve(net::io_context& ioc, const server_options& options) {
  tcp::resolver resolver(ioc);
  const auto results = resolver.resolve(options.host, std::to_string(options.port),
                                        tcp::resolver::passive);
  return results.begin()->endpoint();
}

std::optional<ssl::context> tls_context(const server_options& options) {
  if (options.tls_cert.empty()) return std::nullopt;  // load_options requires both or neither
  return tls_context_for(options.tls_cert, options.tls_key);
}

}  // namespace

server_runtime::server_runtime(server_options options)
    : options_(std::move(options)),
      tls_(tls_context(options_)),
      started_(read_clocks()),
      db_(database_path(options_), stats_),
      hub_(options_, db_, stats_, random_seed()),
      routes_(hub_, started_),
      connections_(options_.max_connections_per_ip),
      signals_(ioc_, SIGTERM, SIGINT),
      hub_timer_(ioc_),
      stop_timer_(ioc_),
      listener_(std::make_shared<listener>(ioc_, resolve(ioc_, options_), hub_, routes_,
                                           connections_, corks_, tls_ ? &*tls_ : nullptr)) {
  hub_.on_deadline_change([this] { arm_hub_timer(); });
}

int server_runtime::run() {
  const std::uint16_t port = listener_->port();
  if (!options_.port_file.empty()) write_port_file(port);
  // An IPv6 host needs brackets in a URL ([::1]:8080).
  const bool ipv6 = options_.host.find(':') != std::string::npos;
  const std::string authority =
      (ipv6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port);
  const std::string base = (tls_ ? "https://" : "http://") + authority;
  log_line(log_level::info, "parley-server listening on " + base + " (WebSocket " +
                                (tls_ ? "wss://" : "ws://") + authority + "/ws), data in " +
                                options_.data);
  log_line(log_level::info, sends_.available()
                                ? "fan-out sends batched through io_uring"
                                : "fan-out sends one send(2) each: io_uring " + sends_.refusal());
  if (options_.dev) {
    log_line(log_level::warn,
             "DEV MODE: anyone can mint tokens. Get one with: curl -X POST '" + base +
                 "/api/v1/dev/token?user=alice&tenant=default'");
  }
  signals_.async_wait([this](error_code ec, int signal) { on_signal(ec, signal); });
  listener_->run();
  arm_hub_timer();
  ioc_.run();
  corks_.drop();
  stopped_ = true;
  log_line(log_level::info, "parley-server stopped");
  return 0;
}

void server_runtime::write_port_file(std::uint16_t port) const {
  // Written to a temporary name and renamed, so a reader never sees a partial number.
  const std::string temporary = options_.port_file + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << '\n';
    if (!out) throw std::runtime_error("cannot write port file " + temporary);
  }
  std::filesystem::rename(temporary, options_.port_file);
}

void server_runtime::on_signal(error_code ec, int signal) {
  if (ec) return;
  if (stopping_) {
    log_line(log_level::warn, "second signal: stopping now");
    ioc_.stop();
    return;
  }
  stopping_ = true;
  log_line(log_level::info, "signal " + std::to_string(signal) +
                                ": closing sessions with 1001 and shutting down");
  listener_->stop();
  hub_timer_.cancel();
  stop_timer_.expires_after(shutdown_deadline);
  stop_timer_.async_wait([this](error_code wait_ec) {
    if (wait_ec) return;
    log_line(log_level::warn, "shutdown deadline passed; stopping with sessions still open");
    ioc_.stop();
  });
  signals_.async_wait([this](error_code next_ec, int next) { on_signal(next_ec, next); });
  try {
    hub_.close_all(proto::close_code::going_away, read_clocks(), [this] {
      if (!stopped_) ioc_.stop();
    });
  } catch (const store_error& e) {
    log_line(log_level::error, std::string("shutdown: store failed: ") + e.what());
  }
}

void server_runtime::arm_hub_timer() {
  const auto deadline = hub_.next_deadline();
  if (stopping_ || deadline == hub_armed_) return;
  hub_armed_ = deadline;
  if (deadline == proto::millis::max()) {
    hub_timer_.cancel();
    return;
  }
  hub_timer_.expires_at(std::chrono::steady_clock::time_point(deadline));
  hub_timer_.async_wait([this](error_code ec) { on_hub_timer(ec); });
}

void server_runtime::on_hub_timer(error_code ec) {
  if (ec || stopping_) return;
  hub_armed_ = proto::millis::max();
  try {
    hub_.handle_timeout(read_clocks());
  } catch (const store_error& e) {
    log_line(log_level::error, std::string("presence/dedup maintenance: store failed: ") + e.what());
  }
  arm_hub_timer();
}

}  // namespace parley::server
