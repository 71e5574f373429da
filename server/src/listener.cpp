#include "listener.hpp"

#include "http_session.hpp"
#include "log.hpp"

#include <boost/asio/strand.hpp>
#include <boost/beast/core/bind_handler.hpp>

#include <chrono>

namespace parley::server {

listener::listener(net::io_context& ioc, const tcp::endpoint& endpoint, shared_state& hub,
                   http_routes& routes)
    : ioc_(ioc), acceptor_(ioc), retry_(ioc), hub_(hub), routes_(routes) {
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
  // Chat traffic is many small frames: Nagle's algorithm would hold each for a delayed ACK.
  error_code option_ec;
  socket.set_option(tcp::no_delay(true), option_ec);
  std::make_shared<http_session>(std::move(socket), hub_, routes_)->run();
  do_accept();
}

}  // namespace parley::server
