#include "http_session.hpp"

#include "log.hpp"
#include "websocket_session.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <chrono>

namespace parley::server {
namespace {

namespace http = beast::http;

/// Idle keep-alive connections and slow requests are dropped after this.
constexpr std::chrono::seconds request_timeout{30};
/// No route takes a large body (the dev token is in the query string).
constexpr std::uint64_t body_limit = 64 * 1024;
/// Room for a long Authorization header and cookies a browser adds.
constexpr std::uint32_t header_limit = 16 * 1024;

std::string_view view(beast::string_view text) { return {text.data(), text.size()}; }

}  // namespace

http_session::http_session(tcp::socket&& socket, shared_state& hub, http_routes& routes)
    : stream_(std::move(socket)), hub_(hub), routes_(routes) {}

void http_session::do_read() {
  parser_.emplace();
  parser_->body_limit(body_limit);
  parser_->header_limit(header_limit);
  stream_.expires_after(request_timeout);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, shared_from_this()));
}

void http_session::on_read(error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) return do_close();
  if (ec) return fail(ec, "http read");
  const auto& request = parser_->get();
  const std::string_view target = view(request.target());
  if (beast::websocket::is_upgrade(request)) {
    if (target.substr(0, target.find('?')) == "/ws") {
      // The WebSocket takes the socket over; the HTTP session ends here.
      stream_.expires_never();
      std::make_shared<websocket_session>(stream_.release_socket(), hub_)->run(parser_->release());
      return;
    }
    return do_write(request, {404, "text/plain", "WebSocket endpoint is /ws\n", {}});
  }
  const auto authorization = request.find(http::field::authorization);
  const http_call call{
      view(request.method_string()), target,
      authorization == request.end() ? std::string_view{} : view(authorization->value())};
  do_write(request, routes_.handle(call, read_clocks()));
}

void http_session::do_write(const http::request<http::string_body>& request, http_reply reply) {
  response_ = {};
  response_.version(request.version());
  response_.result(reply.status);
  response_.set(http::field::server, "parley-server");
  response_.set(http::field::content_type, reply.content_type);
  response_.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : reply.headers) response_.set(name, value);
  response_.keep_alive(request.keep_alive());
  if (request.method() == http::verb::head) {
    response_.content_length(reply.body.size());
  } else {
    response_.body() = std::move(reply.body);
    response_.prepare_payload();
  }
  const bool close = response_.need_eof();
  stream_.expires_after(request_timeout);
  http::async_write(stream_, response_,
                    beast::bind_front_handler(&http_session::on_write, shared_from_this(), close));
}

void http_session::on_write(bool close, error_code ec, std::size_t) {
  if (ec) return fail(ec, "http write");
  if (close) return do_close();
  do_read();
}

void http_session::do_close() {
  error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
}

}  // namespace parley::server
