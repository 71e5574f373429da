// One HTTP/1.1 connection, plain or TLS: completes the TLS handshake if any, reads requests
// (keep-alive, with header and body limits, each bounded by request_timeout_ms), answers them
// through http_routes (or with 400/413/431 when they do not parse), and answers /ws upgrades
// itself (handshake.hpp) before handing the stream and slot to a websocket_session.
#pragma once

#include "address_limits.hpp"
#include "cork.hpp"
#include "http_routes.hpp"
#include "net.hpp"
#include "shared_state.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <type_traits>

namespace parley::server {

/// An HTTP connection until it closes or becomes a WebSocket. `Stream` is plain_stream or
/// tls_stream: the one place a template earns its keep, so both share one body and the plain
/// path pays nothing for TLS.
template <class Stream>
class http_session : public std::enable_shared_from_this<http_session<Stream>> {
 public:
  /// Takes over an accepted connection and its place in the per-address count.
  /// `corks` is handed on to the WebSocket session an upgrade starts.
  http_session(Stream&& stream, connection_slot slot, shared_state& hub, http_routes& routes,
               cork& corks);
  /// Starts the TLS handshake (TLS) or reading requests (plain).
  void run();

 private:
  static constexpr bool tls = std::is_same_v<Stream, tls_stream>;

  void on_handshake(error_code ec);
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  void do_write(const beast::http::request<beast::http::string_body>& request, http_reply reply);
  /// Answers an upgrade to /ws: 101 and a websocket_session, or 400/426 (RFC 6455 §4.2.2).
  void do_upgrade(const beast::http::request<beast::http::string_body>& request);
  void on_upgraded(error_code ec, std::size_t bytes);
  /// Answers a request the parser refused (400, 413 or 431) and closes.
  void do_refuse(beast::http::status status);
  void on_write(bool close, error_code ec, std::size_t bytes);
  /// Ends the connection: close_notify (TLS) or a lingering half-close (plain).
  void do_close();
  /// Reads and drops whatever the client still sends, until it closes or the deadline passes.
  void do_discard();

  Stream stream_;
  connection_slot slot_;
  beast::flat_buffer buffer_;
  shared_state& hub_;
  http_routes& routes_;
  cork& corks_;
  // request_timeout_ms: bounds the TLS handshake, each request and each idle keep-alive wait.
  std::chrono::milliseconds request_timeout_;
  // A fresh parser per request: its limits apply per request.
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  beast::http::response<beast::http::string_body> response_;
};

extern template class http_session<plain_stream>;
extern template class http_session<tls_stream>;

}  // namespace parley::server
