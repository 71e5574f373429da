#include "listener.hpp"

#include "http_session.hpp"
#include "log.hpp"

#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <algorithm>
#include <array>
#include <chrono>

namespace parley::server {
namespace {

/// The body of the answer to a connection over max_connections_per_ip.
constexpr std::string_view refusal_body = "too many connections from this address\n";
/// The whole answer, sent without reading the request; Connection: close because the
/// connection ends right after it.
constexpr std::string_view too_many_connections =
    "HTTP/1.1 429 Too Many Requests\r\n"
    "Server: parley-server\r\n"
    "Content-Type: text/plain\r\n"
    "Content-Length: 39\r\n"
    "Connection: close\r\n"
    "\r\n"
    "too many connections from this address\n";
static_assert(too_many_connections.ends_with(refusal_body) && refusal_body.size() == 39,
              "Content-Length must match the body");

/// How long a refused connection may take to read its 429. Short: it holds a descriptor that
/// the per-address count does not see.
constexpr std::chrono::milliseconds refusal_linger{2000};

/// Reads and drops whatever the refused client sends until it closes or the stream's deadline
/// passes. Closing with its request unread would make the kernel answer with a reset, which
/// can destroy the 429 before the client reads it ("lingering close", as in Apache and nginx).
void discard_until_closed(std::shared_ptr<plain_stream> stream,
                          std::shared_ptr<std::array<char, 1024>> scratch) {
  auto& target = *scratch;
  stream->async_read_some(net::buffer(target),
                          [stream, scratch = std::move(scratch)](error_code ec, std::size_t) {
                            if (!ec) discard_until_closed(stream, scratch);
                          });
}

}  // namespace

listener::listener(net::io_context& ioc, const tcp::endpoint& endpoint, shared_state& hub,
                   http_routes& routes, address_limits& connections, cork& corks,
                   ssl::context* tls)
    : ioc_(ioc),
      acceptor_(ioc),
      retry_(ioc),
      hub_(hub),
      routes_(routes),
      connections_(connections),
      corks_(corks),
      tls_(tls) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(net::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen(net::socket_base::max_listen_connections);
}

void listener::stop() {
  error_code ec;
  acceptor_.close(ec);
  retry_.cancel();
}

void listener::do_accept() {
  acceptor_.async_accept(ioc_, beast::bind_front_handler(&listener::on_accept, shared_from_this()));
}

void listener::on_accept(error_code ec, tcp::socket socket) {
  if (!acceptor_.is_open()) return;  // stopped
  if (ec) {
    fail(ec, "accept");
    // Accepting again at once would spin while the error lasts (EMFILE): pause briefly.
    retry_.expires_after(std::chrono::milliseconds(100));
    retry_.async_wait([self = shared_from_this()](error_code wait_ec) {
      if (!wait_ec && self->acceptor_.is_open()) self->do_accept();
    });
    return;
  }
  do_accept();
  error_code peer_ec;
  const auto peer = socket.remote_endpoint(peer_ec);
  if (peer_ec) return fail(peer_ec, "accept: peer address");  // already gone; the socket closes
  auto slot = connections_.open(peer.address());
  if (!slot) return refuse(std::move(socket), peer.address());
  // Chat traffic is many small frames: Nagle's algorithm would hold each for a delayed ACK.
  error_code option_ec;
  socket.set_option(tcp::no_delay(true), option_ec);
  if (tls_ != nullptr) {
    std::make_shared<http_session<tls_stream>>(tls_stream(std::move(socket), *tls_),
                                               std::move(*slot), hub_, routes_, corks_)
        ->run();
  } else {
    std::make_shared<http_session<plain_stream>>(plain_stream(std::move(socket)),
                                                 std::move(*slot), hub_, routes_, corks_)
        ->run();
  }
}

void listener::refuse(tcp::socket socket, const net::ip::address& peer) {
  hub_.stats().error("connection_limit");
  // Debug only: the metric shows the limit biting, and a host hammering the server would
  // otherwise fill the log with one line per attempt.
  if (log_enabled(log_level::debug)) {
    log_line(log_level::debug,
             "refused connection from " + peer.to_string() + ": max_connections_per_ip reached");
  }
  // A TLS port cannot answer in HTTP before a handshake, and a handshake is exactly the work
  // being refused: the socket just closes.
  if (tls_ != nullptr) return;
  auto stream = std::make_shared<plain_stream>(std::move(socket));
  stream->expires_after(std::min<std::chrono::milliseconds>(
      refusal_linger, std::chrono::milliseconds(hub_.options().request_timeout_ms)));
  net::async_write(*stream, net::buffer(too_many_connections),
                   [stream](error_code ec, std::size_t) {
                     if (ec) return;
                     error_code shutdown_ec;
                     stream->socket().shutdown(tcp::socket::shutdown_send, shutdown_ec);
                     discard_until_closed(stream, std::make_shared<std::array<char, 1024>>());
                   });
}

}  // namespace parley::server
