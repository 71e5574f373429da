// The composition root: opens the store, binds the port, wires listener, shared state and
// routes onto one io_context, and runs it until SIGTERM/SIGINT. One thread on purpose: it is
// what makes join + replay atomic and lets the hot path go without locks.
#pragma once

#include "address_limits.hpp"
#include "config.hpp"
#include "cork.hpp"
#include "http_routes.hpp"
#include "instant.hpp"
#include "listener.hpp"
#include "metrics.hpp"
#include "send_ring.hpp"
#include "net.hpp"
#include "shared_state.hpp"
#include "store.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <optional>

namespace parley::server {

/// The running server process.
class server_runtime {
 public:
  /// Loads the TLS certificate and key if set (config_error when they are missing, unreadable
  /// or do not match), opens the store under options.data and binds options.host:port; throws
  /// on failure.
  explicit server_runtime(server_options options);

  /// Serves until a signal, then closes every session with 1001, stops, and returns the exit
  /// status (0 after a graceful stop).
  int run();

 private:
  void write_port_file(std::uint16_t port) const;
  void on_signal(error_code ec, int signal);
  /// Re-arms the shared state's timer if its next deadline changed.
  void arm_hub_timer();
  void on_hub_timer(error_code ec);

  server_options options_;
  // Built first: a bad certificate or key stops the process before it touches the store.
  // Engaged when tls_cert is set; shared by every TLS connection.
  std::optional<ssl::context> tls_;
  instant started_;
  metrics stats_;
  store db_;
  shared_state hub_;
  http_routes routes_;
  address_limits connections_;  // per remote address, for max_connections_per_ip
  // The sends of each cork release leave through one ring (when the kernel allows io_uring).
  // Outlives the io_context: the sessions' wires point at it.
  send_ring sends_{options_.io_uring};
  // Declared after everything sessions refer to: destroying the io_context destroys the
  // sessions still queued in it, and they detach from hub_ as they go.
  net::io_context ioc_{1};
  // After the io_context: dropped (in run) and destroyed while the sessions it holds can still
  // close their sockets.
  cork corks_{ioc_.get_executor(), &sends_};
  net::signal_set signals_;
  net::steady_timer hub_timer_;
  net::steady_timer stop_timer_;
  std::shared_ptr<listener> listener_;
  proto::millis hub_armed_ = proto::millis::max();
  bool stopping_ = false;
  bool stopped_ = false;
};

}  // namespace parley::server
