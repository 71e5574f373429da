// Accepts TCP connections on the configured address, counts them per remote address, and hands
// each to an http_session (plain or TLS), or refuses it when its address is over the limit.
#pragma once

#include "address_limits.hpp"
#include "cork.hpp"
#include "http_routes.hpp"
#include "net.hpp"
#include "shared_state.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>

namespace parley::server {

/// The accept loop.
class listener : public std::enable_shared_from_this<listener> {
 public:
  /// Binds and listens (SO_REUSEADDR, so a restarted server rebinds its port at once). With
  /// `tls`, every connection speaks TLS; `tls` and `connections` must outlive the io_context's
  /// sessions. Throws boost::system::system_error when the address cannot be bound.
  listener(net::io_context& ioc, const tcp::endpoint& endpoint, shared_state& hub,
           http_routes& routes, address_limits& connections, cork& corks, ssl::context* tls);

  /// Starts accepting.
  void run() { do_accept(); }
  /// Stops accepting; open connections are not touched.
  void stop();
  /// The bound port (the ephemeral one for port 0).
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }

 private:
  void do_accept();
  void on_accept(error_code ec, tcp::socket socket);
  /// Answers a connection over max_connections_per_ip and closes it, without reading it.
  void refuse(tcp::socket socket, const net::ip::address& peer);

  net::io_context& ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_;  // pause after an accept error (e.g. out of file descriptors)
  shared_state& hub_;
  http_routes& routes_;
  address_limits& connections_;
  cork& corks_;  // handed on to WebSocket sessions
  ssl::context* tls_;  // null: plain HTTP and ws://
};

}  // namespace parley::server
