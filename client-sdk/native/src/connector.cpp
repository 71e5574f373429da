// The only translation unit with Beast and OpenSSL in it (a TLS WebSocket TU costs ~100 s of
// compile time and gigabytes of RAM, so it is paid once).
#include "connector.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <chrono>
#include <deque>
#include <type_traits>

namespace parley::client {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
namespace websocket = boost::beast::websocket;
using tcp = asio::ip::tcp;
using beast::error_code;

using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

// Bounds the WebSocket close handshake so a silent peer cannot keep a dropped link (and its
// socket) alive. Opening is bounded by the engine's connect_timeout instead.
constexpr std::chrono::seconds close_timeout{5};

// One class for both transports (the one place a template earns its keep): they differ only
// in the TLS handshake between TCP connect and the WebSocket upgrade.
template <class NextLayer>
class websocket_link final : public link,
                             public std::enable_shared_from_this<websocket_link<NextLayer>> {
  static constexpr bool secure = std::is_same_v<NextLayer, tls_stream>;

 public:
  template <class... StreamArgs>
  websocket_link(const endpoint& where, link_events events, StreamArgs&&... stream_args)
      : ws_(std::forward<StreamArgs>(stream_args)...),
        resolver_(ws_.get_executor()),
        where_(where),
        events_(std::move(events)) {}

  // Posted so that no event fires before connect() has returned the link to its owner.
  void start(bool verify_peer) {
    asio::post(ws_.get_executor(), [self = self(), verify_peer] { self->begin(verify_peer); });
  }

  void send(std::string frame) override {
    if (closing_) return;
    write_queue_.push_back(std::move(frame));
    if (open_ && write_queue_.size() == 1) do_write();
  }

  void close(std::uint16_t code) override {
    if (closing_) return;
    closing_ = true;
    if (!open_) {
      // Still resolving, connecting or handshaking: abandon; pending operations end aborted.
      resolver_.cancel();
      beast::get_lowest_layer(ws_).close();
      return;
    }
    ws_.async_close(websocket::close_reason(code),
                    [self = self()](error_code) { beast::get_lowest_layer(self->ws_).close(); });
  }

 private:
  std::shared_ptr<websocket_link> self() { return this->shared_from_this(); }

  void begin(bool verify_peer) {
    if (closing_) return;
    if constexpr (secure) {
      if (!prepare_tls(verify_peer)) return;
    }
    resolver_.async_resolve(where_.host, std::to_string(where_.port),
                            beast::bind_front_handler(&websocket_link::on_resolve, self()));
  }

  // SNI and name checks are per connection; the trust store lives in the shared context.
  bool prepare_tls(bool verify_peer) {
    error_code ec;
    asio::ip::make_address(where_.host, ec);
    // RFC 6066 forbids IP literals in SNI; names need it for virtual hosting.
    if (ec && !SSL_set_tlsext_host_name(ws_.next_layer().native_handle(), where_.host.c_str())) {
      fail(error_code(static_cast<int>(::ERR_get_error()), asio::error::get_ssl_category()),
           "tls sni");
      return false;
    }
    if (verify_peer) ws_.next_layer().set_verify_callback(ssl::host_name_verification(where_.host));
    return true;
  }

  void on_resolve(error_code ec, tcp::resolver::results_type addresses) {
    if (ec) return fail(ec, "resolve");
    beast::get_lowest_layer(ws_).async_connect(
        addresses, beast::bind_front_handler(&websocket_link::on_connect, self()));
  }

  void on_connect(error_code ec, const tcp::endpoint&) {
    if (ec) return fail(ec, "connect");
    if constexpr (secure) {
      ws_.next_layer().async_handshake(
          ssl::stream_base::client,
          beast::bind_front_handler(&websocket_link::on_tls_handshake, self()));
    } else {
      upgrade();
    }
  }

  void on_tls_handshake(error_code ec) {
    if (ec) return fail(ec, "tls handshake");
    upgrade();
  }

  void upgrade() {
    websocket::stream_base::timeout limits = websocket::stream_base::timeout::suggested(
        beast::role_type::client);
    limits.handshake_timeout = close_timeout;
    ws_.set_option(limits);
    ws_.set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, "parley-client");
    }));
    ws_.binary(true);
    ws_.async_handshake(where_.host_header(), where_.target,
                        beast::bind_front_handler(&websocket_link::on_upgrade, self()));
  }

  void on_upgrade(error_code ec) {
    if (ec) return fail(ec, "websocket handshake");
    if (closing_) return;
    open_ = true;
    // Frames queued before the upgrade go first; those sent from opened() then queue behind.
    if (!write_queue_.empty()) do_write();
    do_read();
    events_.opened();
  }

  void do_read() {
    if (closing_) return;
    ws_.async_read(inbox_, beast::bind_front_handler(&websocket_link::on_read, self()));
  }

  void on_read(error_code ec, std::size_t) {
    if (ec == websocket::error::closed) {
      // The close code says why (4001 auth, 4008 slow consumer, ...): worth a log line.
      const auto& reason = ws_.reason();
      const std::string text(reason.reason.data(), reason.reason.size());
      return fail(ec, "closed by the server with code " + std::to_string(reason.code) +
                          (text.empty() ? "" : " (" + text + ")"));
    }
    if (ec) return fail(ec, "read");
    if (closing_) return;
    const auto data = inbox_.cdata();
    events_.received(std::string_view(static_cast<const char*>(data.data()), data.size()));
    inbox_.consume(inbox_.size());
    do_read();
  }

  void do_write() {
    ws_.async_write(asio::buffer(write_queue_.front()),
                    beast::bind_front_handler(&websocket_link::on_write, self()));
  }

  void on_write(error_code ec, std::size_t) {
    if (ec) return fail(ec, "write");
    write_queue_.pop_front();
    if (!closing_ && !write_queue_.empty()) do_write();
  }

  // Reports the first failure only; after close() failures are the expected aftermath.
  void fail(error_code ec, const std::string& what) {
    if (closing_) return;
    closing_ = true;
    beast::get_lowest_layer(ws_).close();
    events_.lost(what + ": " + ec.message());
  }

  websocket::stream<NextLayer> ws_;
  tcp::resolver resolver_;
  endpoint where_;
  link_events events_;
  beast::flat_buffer inbox_;
  std::deque<std::string> write_queue_;  // front() is the write in flight while open
  bool open_ = false;
  bool closing_ = false;
};

}  // namespace

connector::connector(asio::io_context& ioc, endpoint where, const tls_options& tls)
    : ioc_(ioc), where_(std::move(where)), verify_peer_(!tls.dangerously_skip_verification) {
  if (!where_.secure) return;
  tls_ = std::make_unique<ssl::context>(ssl::context::tls_client);
  if (verify_peer_) {
    tls_->set_default_verify_paths();
    if (!tls.ca_file.empty()) tls_->load_verify_file(tls.ca_file);
    tls_->set_verify_mode(ssl::verify_peer);
  } else {
    tls_->set_verify_mode(ssl::verify_none);
  }
}

connector::~connector() = default;

std::shared_ptr<link> connector::connect(link_events events) {
  if (where_.secure) {
    auto l = std::make_shared<websocket_link<tls_stream>>(where_, std::move(events), ioc_, *tls_);
    l->start(verify_peer_);
    return l;
  }
  auto l = std::make_shared<websocket_link<plain_stream>>(where_, std::move(events), ioc_);
  l->start(verify_peer_);
  return l;
}

}  // namespace parley::client
