#include "http_session.hpp"

#include "handshake.hpp"
#include "log.hpp"
#include "websocket_session.hpp"

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>

namespace parley::server {
namespace {

namespace http = beast::http;

/// No route takes a large body (the dev token is in the query string).
constexpr std::uint64_t body_limit = 64 * 1024;
/// Room for a long Authorization header and cookies a browser adds.
constexpr std::uint32_t header_limit = 16 * 1024;

/// After its last answer, a closing connection reads and drops what the client still sends for
/// at most this long (bounded further by request_timeout_ms).
constexpr std::chrono::milliseconds close_linger{2000};

std::string_view view(beast::string_view text) { return {text.data(), text.size()}; }

/// The answer owed to a request the parser refused (RFC 9112 §3, §6.3; RFC 6585 §5), or
/// `unknown` when there is nobody to answer (the peer left mid-request).
http::status refusal_for(const error_code& ec) {
  if (ec.category() != make_error_code(http::error::bad_method).category()) {
    return http::status::unknown;
  }
  switch (static_cast<http::error>(ec.value())) {
    case http::error::header_limit:
      return http::status::request_header_fields_too_large;
    case http::error::body_limit:
      return http::status::payload_too_large;
    case http::error::bad_line_ending:
    case http::error::bad_method:
    case http::error::bad_target:
    case http::error::bad_version:
    case http::error::bad_field:
    case http::error::bad_value:
    case http::error::bad_content_length:
    case http::error::bad_transfer_encoding:
    case http::error::bad_chunk:
    case http::error::bad_chunk_extension:
    case http::error::bad_obs_fold:
      return http::status::bad_request;
    default:
      return http::status::unknown;
  }
}

}  // namespace

template <class Stream>
http_session<Stream>::http_session(Stream&& stream, connection_slot slot, shared_state& hub,
                                   http_routes& routes, cork& corks)
    : stream_(std::move(stream)),
      slot_(std::move(slot)),
      hub_(hub),
      routes_(routes),
      corks_(corks),
      request_timeout_(hub.options().request_timeout_ms) {}

template <class Stream>
void http_session<Stream>::run() {
  if constexpr (tls) {
    // A client that connects and never finishes its handshake costs a slot for this long.
    beast::get_lowest_layer(stream_).expires_after(request_timeout_);
    stream_.async_handshake(
        ssl::stream_base::server,
        beast::bind_front_handler(&http_session::on_handshake, this->shared_from_this()));
  } else {
    do_read();
  }
}

template <class Stream>
void http_session<Stream>::on_handshake(error_code ec) {
  // A plain-HTTP client, a scanner or an old TLS version ends here; the socket closes.
  if (ec) return fail(ec, "tls handshake");
  do_read();
}

template <class Stream>
void http_session<Stream>::do_read() {
  parser_.emplace();
  parser_->body_limit(body_limit);
  parser_->header_limit(header_limit);
  // One deadline for the whole request, not per read: trickling a byte at a time (slowloris)
  // does not extend it. Between requests it is the keep-alive idle limit.
  beast::get_lowest_layer(stream_).expires_after(request_timeout_);
  http::async_read(stream_, buffer_, *parser_,
                   beast::bind_front_handler(&http_session::on_read, this->shared_from_this()));
}

template <class Stream>
void http_session<Stream>::on_read(error_code ec, std::size_t) {
  if (ec == http::error::end_of_stream) return do_close();
  if (ec == beast::error::timeout) {
    // The stream has closed the socket already. An idle keep-alive connection ending is
    // routine; a request that started and never finished is what the limit is for.
    if (parser_->got_some()) {
      log_line(log_level::info, "http: request incomplete after request_timeout_ms (" +
                                    std::to_string(request_timeout_.count()) + " ms); dropped");
    }
    return;
  }
  // TLS peers that close without close_notify: nothing left to say to them.
  if (ec == ssl::error::stream_truncated) return;
  if (ec) {
    fail(ec, "http read");
    if (const auto status = refusal_for(ec); status != http::status::unknown) do_refuse(status);
    return;
  }
  const auto& request = parser_->get();
  const std::string_view target = view(request.target());
  if (beast::websocket::is_upgrade(request)) {
    if (target.substr(0, target.find('?')) == "/ws") return do_upgrade(request);
    return do_write(request, {404, "text/plain", "WebSocket endpoint is /ws\n", {}});
  }
  const auto authorization = request.find(http::field::authorization);
  const http_call call{
      view(request.method_string()), target,
      authorization == request.end() ? std::string_view{} : view(authorization->value())};
  do_write(request, routes_.handle(call, read_clocks()));
}

template <class Stream>
void http_session<Stream>::do_write(const http::request<http::string_body>& request,
                                    http_reply reply) {
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
  // A reader too slow to take the answer within the same bound is dropped (slow-read attack).
  beast::get_lowest_layer(stream_).expires_after(request_timeout_);
  http::async_write(
      stream_, response_,
      beast::bind_front_handler(&http_session::on_write, this->shared_from_this(), close));
}

template <class Stream>
void http_session<Stream>::do_upgrade(const http::request<http::string_body>& request) {
  const auto answer = answer_upgrade({view(request[http::field::sec_websocket_key]),
                                      view(request[http::field::sec_websocket_version])});
  switch (answer.result) {
    case upgrade_answer::kind::bad_version:
      return do_write(request, {426, "text/plain", "WebSocket version 13 only\n",
                                {{"Sec-WebSocket-Version", "13"}}});
    case upgrade_answer::kind::bad_key:
      return do_write(request,
                      {400, "text/plain", "Sec-WebSocket-Key must be 16 bytes in base64\n", {}});
    case upgrade_answer::kind::accept:
      break;
  }
  response_ = {};
  response_.version(11);
  response_.result(http::status::switching_protocols);
  response_.set(http::field::server, "parley-server");
  response_.set(http::field::upgrade, "websocket");
  response_.set(http::field::connection, "Upgrade");
  response_.set(http::field::sec_websocket_accept, answer.accept_key);
  // Writing the 101 is still part of the upgrade: same bound as the request itself.
  beast::get_lowest_layer(stream_).expires_after(request_timeout_);
  http::async_write(stream_, response_, beast::bind_front_handler(&http_session::on_upgraded,
                                                                  this->shared_from_this()));
}

template <class Stream>
void http_session<Stream>::on_upgraded(error_code ec, std::size_t) {
  if (ec) return fail(ec, "websocket upgrade");
  // Bytes the client sent after its request (its first frames) go with the stream.
  std::string early(static_cast<const char*>(buffer_.data().data()), buffer_.size());
  // The WebSocket takes the stream (and TLS state) over; the HTTP session ends here.
  beast::get_lowest_layer(stream_).expires_never();
  std::make_shared<websocket_session<Stream>>(std::move(stream_), std::move(slot_), hub_, corks_)
      ->run(std::move(early));
}

template <class Stream>
void http_session<Stream>::do_refuse(http::status status) {
  // The request never parsed, so nothing of it is echoed; the connection cannot be trusted to
  // frame another request and closes after the answer.
  response_ = {};
  response_.version(11);
  response_.result(status);
  response_.set(http::field::server, "parley-server");
  response_.set(http::field::content_type, "text/plain");
  response_.keep_alive(false);
  response_.body() = std::string(http::obsolete_reason(status)) + "\n";
  response_.prepare_payload();
  beast::get_lowest_layer(stream_).expires_after(request_timeout_);
  http::async_write(
      stream_, response_,
      beast::bind_front_handler(&http_session::on_write, this->shared_from_this(), true));
}

template <class Stream>
void http_session<Stream>::on_write(bool close, error_code ec, std::size_t) {
  if (ec) return fail(ec, "http write");
  if (close) return do_close();
  do_read();
}

template <class Stream>
void http_session<Stream>::do_close() {
  if constexpr (tls) {
    // close_notify, so the client can tell the end from a truncation; bounded, and the
    // socket closes with the session whatever the peer does.
    beast::get_lowest_layer(stream_).expires_after(request_timeout_);
    stream_.async_shutdown([self = this->shared_from_this()](error_code) {});
  } else {
    // Lingering close (RFC 9112 §9.6): half-close, then drain until the client closes. Closing
    // at once with its bytes unread (the rest of a refused body or header) would make the
    // kernel send a reset, which can destroy the answer before the client reads it.
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream_.expires_after(std::min<std::chrono::milliseconds>(close_linger, request_timeout_));
    do_discard();
  }
}

template <class Stream>
void http_session<Stream>::do_discard() {
  // The same scratch space every time: nothing read here is kept.
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = this->shared_from_this()](error_code ec, std::size_t) {
                            if (!ec) self->do_discard();
                          });
}

template class http_session<plain_stream>;
template class http_session<tls_stream>;

}  // namespace parley::server
