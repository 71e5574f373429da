// A TCP relay on 127.0.0.1 that a test puts between a client and the server and then cuts, the
// way a failing network would, while traffic is in flight. Given a TLS context it terminates
// TLS in front of the plain server, as a load balancer does, which is how wss:// is tested.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace parley::test {

/// Forwards every connection it accepts to 127.0.0.1:server_port, on its own thread.
class tcp_proxy {
 public:
  /// With `tls`, clients must speak TLS to the relay (it must outlive the relay).
  explicit tcp_proxy(std::uint16_t server_port, boost::asio::ssl::context* tls = nullptr);
  ~tcp_proxy();
  tcp_proxy(const tcp_proxy&) = delete;
  tcp_proxy& operator=(const tcp_proxy&) = delete;

  /// The port clients connect to.
  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  /// ws:// URL of the server through this relay.
  std::string ws_url() const;
  /// Reset (RST) both sides of every connection carried now; returns once done.
  void cut();
  /// Connections accepted so far (each reconnect of a client adds one).
  std::size_t accepted() const { return accepted_; }

  struct relay;  // one relayed connection (public for the implementation's templates)

 private:
  void accept();
  void reset_relays();  // on the relay thread

  std::uint16_t server_port_;
  boost::asio::ssl::context* tls_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::vector<std::weak_ptr<relay>> relays_;  // touched on the relay thread only
  std::atomic<std::size_t> accepted_{0};
  std::thread thread_;  // last: runs once everything above exists
};

}  // namespace parley::test
