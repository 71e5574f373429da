// One HTTP/1.1 connection: reads requests (keep-alive, with header and body limits and an idle
// timeout), answers them through http_routes, and hands /ws upgrades to a websocket_session.
#pragma once

#include "http_routes.hpp"
#include "net.hpp"
#include "shared_state.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <optional>

namespace parley::server {

/// An HTTP connection until it closes or becomes a WebSocket.
class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(tcp::socket&& socket, shared_state& hub, http_routes& routes);
  /// Starts reading requests.
  void run() { do_read(); }

 private:
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  void do_write(const beast::http::request<beast::http::string_body>& request, http_reply reply);
  void on_write(bool close, error_code ec, std::size_t bytes);
  void do_close();

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  shared_state& hub_;
  http_routes& routes_;
  // A fresh parser per request: its limits apply per request.
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  beast::http::response<beast::http::string_body> response_;
};

}  // namespace parley::server
