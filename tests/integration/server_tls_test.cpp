// The server's own TLS (--tls-cert / --tls-key): one port speaking only https:// and wss://,
// TLS 1.2+ with AEAD suites, handshakes bounded by the request timeout, and a clear exit 2 for
// a certificate or key it cannot use. Certificates are made by the openssl tool at test time.
#include "client_recorder.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <openssl/ssl.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

namespace parley::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

/// How long one handshake or request may take before the test calls it hung.
constexpr auto answer_wait = 10s;

/// A fresh directory of throwaway certificates, removed afterwards.
class certificate_dir {
 public:
  certificate_dir() {
    char dir[] = "/tmp/parley-server-tls-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
  }
  ~certificate_dir() { std::filesystem::remove_all(dir_); }

  /// Makes <name>.pem and <name>-key.pem: a self-signed P-256 certificate for localhost and
  /// 127.0.0.1, valid for a day.
  void make(const std::string& name) {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout '" +
        key(name) + "' -out '" + chain(name) + "' 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl req failed");
  }
  std::string chain(const std::string& name) const { return dir_ / (name + ".pem"); }
  std::string key(const std::string& name) const { return dir_ / (name + "-key.pem"); }
  std::string path(const std::string& file) const { return dir_ / file; }

 private:
  std::filesystem::path dir_;
};

/// A client context trusting `ca_file` and checking the peer against it. With versions set,
/// only that range is offered, at OpenSSL security level 0 so that this client really sends an
/// old-version hello (the default level would refuse locally and prove nothing about the
/// server); `tls12_ciphers` likewise replaces the TLS 1.2 suites offered.
ssl::context client_context(const std::string& ca_file, int min_version = 0, int max_version = 0,
                            const char* tls12_ciphers = nullptr) {
  ssl::context tls(ssl::context::tls_client);
  tls.load_verify_file(ca_file);
  tls.set_verify_mode(ssl::verify_peer);
  SSL_CTX* native = tls.native_handle();
  if (min_version != 0) {
    SSL_CTX_set_security_level(native, 0);
    SSL_CTX_set_min_proto_version(native, min_version);
    SSL_CTX_set_max_proto_version(native, max_version);
    SSL_CTX_set_cipher_list(native, tls12_ciphers ? tls12_ciphers : "ALL:@SECLEVEL=0");
  }
  return tls;
}

/// What one TLS connection attempt got.
struct tls_attempt {
  error_code handshake;  // empty when the handshake succeeded
  std::string version;   // negotiated, e.g. "TLSv1.3"
  std::string cipher;    // negotiated suite
  unsigned status = 0;   // of the GET, when one was sent and answered
  std::string body;
};

/// Handshakes with 127.0.0.1:<port> as "localhost" and, if `target` is set, GETs it. Throws if
/// anything hangs past answer_wait: a refusal must be prompt, never a timeout.
tls_attempt connect_tls(std::uint16_t port, ssl::context& tls, const std::string& target = {}) {
  net::io_context ioc;
  beast::ssl_stream<beast::tcp_stream> stream(ioc, tls);
  SSL_set_tlsext_host_name(stream.native_handle(), "localhost");
  stream.set_verify_callback(ssl::host_name_verification("localhost"));
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "localhost");
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  tls_attempt result;
  error_code failure;  // of the connect or the request, not the handshake

  beast::get_lowest_layer(stream).expires_after(answer_wait);
  beast::get_lowest_layer(stream).async_connect(
      tcp::endpoint{net::ip::make_address("127.0.0.1"), port}, [&](error_code ec) {
        if (ec) return void(failure = ec);
        stream.async_handshake(ssl::stream_base::client, [&](error_code handshake_ec) {
          result.handshake = handshake_ec;
          if (handshake_ec) return;
          result.version = SSL_get_version(stream.native_handle());
          result.cipher = SSL_get_cipher_name(stream.native_handle());
          if (target.empty()) return;
          http::async_write(stream, request, [&](error_code write_ec, std::size_t) {
            if (write_ec) return void(failure = write_ec);
            http::async_read(stream, buffer, response, [&](error_code read_ec, std::size_t) {
              failure = read_ec;
              if (!read_ec) result.status = response.result_int();
              result.body = response.body();
            });
          });
        });
      });
  ioc.run();
  if (result.handshake == beast::error::timeout || failure == beast::error::timeout) {
    throw std::runtime_error("TLS attempt hung for " + std::to_string(answer_wait.count()) + " s");
  }
  if (failure) {
    throw std::runtime_error("TLS attempt failed: " + failure.message());
  }
  return result;
}

/// Plain TCP to the port: sends `bytes`, then returns whatever arrives until the server closes
/// (or `wait` passes; `closed` says which).
struct plain_answer {
  std::string bytes;
  bool closed = false;
};
plain_answer plain_exchange(std::uint16_t port, std::string bytes,
                            std::chrono::milliseconds wait = answer_wait) {
  net::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  if (!bytes.empty()) net::write(socket, net::buffer(bytes));
  plain_answer answer;
  std::array<char, 4096> chunk{};
  std::function<void()> read_more = [&] {
    socket.async_read_some(net::buffer(chunk), [&](error_code ec, std::size_t n) {
      answer.bytes.append(chunk.data(), n);
      if (ec == net::error::operation_aborted) return;
      if (ec) return void(answer.closed = true);
      read_more();
    });
  };
  read_more();
  ioc.run_for(wait);
  return answer;
}

/// The first transport error a client reports (it keeps retrying, so only the first counts).
std::string first_transport_error(recorded_client& c) {
  if (!c.wait_until([](const client_log& l) { return !l.transport_errors.empty(); })) return {};
  return c.log().transport_errors.front();
}

class ServerTls : public testing::Test {
 protected:
  ServerTls() { certificates_.make("server"); }

  /// Server arguments serving the "server" certificate, plus `extra`.
  std::vector<std::string> tls_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{"--tls-cert", certificates_.chain("server"), "--tls-key",
                                  certificates_.key("server")};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  ssl::context trusting() const { return client_context(certificates_.chain("server")); }

  certificate_dir certificates_;
};

TEST_F(ServerTls, NativeClientChatsOverWss) {
  server_process server(tls_args());
  EXPECT_NE(server.log_text().find("listening on https://127.0.0.1:"), std::string::npos);
  EXPECT_NE(server.log_text().find("(WebSocket wss://127.0.0.1:"), std::string::npos);
  auto options = fast_options(server.wss_url("localhost"), token_for("alice"));
  options.tls.ca_file = certificates_.chain("server");
  recorded_client alice(options);
  ASSERT_TRUE(alice.start_in("secure")) << server.log_text();
  alice.chat().send("secure", "over the server's own tls");
  ASSERT_TRUE(alice.wait_until(acked_at_least(1)));
  // A second client sees the message arrive: the whole protocol runs over wss://.
  auto bob_options = fast_options(server.wss_url("127.0.0.1"), token_for("bob"));
  bob_options.tls.ca_file = certificates_.chain("server");
  recorded_client bob(bob_options);
  ASSERT_TRUE(bob.start_in("secure"));
  alice.chat().send("secure", "second");
  EXPECT_TRUE(bob.wait_until(delivered_at_least("secure", 1)));
}

/// Runs what `start` begins on `ioc` until its handler has run; throws if answer_wait passes
/// first, so a hang fails the test instead of stalling it.
error_code run_op(net::io_context& ioc,
                  const std::function<void(std::function<void(error_code)>)>& start) {
  std::optional<error_code> result;
  start([&result](error_code ec) { result = ec; });
  ioc.restart();
  const auto until = std::chrono::steady_clock::now() + answer_wait;
  while (!result && std::chrono::steady_clock::now() < until) ioc.run_one_for(100ms);
  if (!result) throw std::runtime_error("operation hung");
  return *result;
}

/// A Beast WebSocket client over TLS, upgraded on /ws of `port` (as "localhost").
using wss_stream = beast::websocket::stream<beast::ssl_stream<beast::tcp_stream>>;
std::unique_ptr<wss_stream> open_wss(net::io_context& ioc, ssl::context& tls, std::uint16_t port) {
  auto ws = std::make_unique<wss_stream>(ioc, tls);
  SSL_set_tlsext_host_name(ws->next_layer().native_handle(), "localhost");
  auto& tcp_layer = beast::get_lowest_layer(*ws);
  const tcp::endpoint server(net::ip::make_address("127.0.0.1"), port);
  if (run_op(ioc, [&](auto done) { tcp_layer.async_connect(server, done); })) return nullptr;
  if (run_op(ioc, [&](auto done) {
        ws->next_layer().async_handshake(ssl::stream_base::client, done);
      })) {
    return nullptr;
  }
  if (run_op(ioc, [&](auto done) { ws->async_handshake("localhost", "/ws", done); })) {
    return nullptr;
  }
  ws->binary(true);
  return ws;
}

TEST_F(ServerTls, WebSocketControlFramesAndBothClosesWorkOverTls) {
  server_process server(tls_args({"--hello-timeout-ms", "500"}));
  net::io_context ioc;
  auto tls = trusting();

  // A ping is answered with its payload, ahead of the answer to the hello sent after it.
  auto ws = open_wss(ioc, tls, server.port());
  ASSERT_TRUE(ws);
  std::string pong;
  ws->control_callback([&pong](beast::websocket::frame_type kind, beast::string_view payload) {
    if (kind == beast::websocket::frame_type::pong) pong.assign(payload.data(), payload.size());
  });
  ASSERT_FALSE(run_op(ioc, [&](auto done) { ws->async_ping("over tls", done); }));
  const std::string hello = proto::encode(proto::hello{1, 1, token_for("tia"), "raw"});
  ASSERT_FALSE(run_op(ioc, [&](auto done) {
    ws->async_write(net::buffer(hello), [done](error_code ec, std::size_t) { done(ec); });
  }));
  beast::flat_buffer welcome;
  ASSERT_FALSE(run_op(ioc, [&](auto done) {
    ws->async_read(welcome, [done](error_code ec, std::size_t) { done(ec); });
  }));
  EXPECT_EQ(pong, "over tls");
  EXPECT_GT(welcome.size(), 0u);

  // The client's close: echoed with its code, then close_notify both ways, without error.
  EXPECT_FALSE(run_op(ioc, [&](auto done) {
    ws->async_close(beast::websocket::close_code::normal, done);
  }));
  EXPECT_EQ(ws->reason().code, 1000);

  // The server's close (no hello in time): its code reaches the client.
  auto mute = open_wss(ioc, tls, server.port());
  ASSERT_TRUE(mute);
  beast::flat_buffer nothing;
  const auto ended = run_op(ioc, [&](auto done) {
    mute->async_read(nothing, [done](error_code ec, std::size_t) { done(ec); });
  });
  EXPECT_EQ(ended, beast::websocket::error::closed) << ended.message();
  EXPECT_EQ(mute->reason().code, static_cast<std::uint16_t>(proto::close_code::protocol_violation));
}

TEST_F(ServerTls, HttpsServesTheHttpRoutes) {
  server_process server(tls_args());
  auto tls = trusting();
  const auto health = connect_tls(server.port(), tls, "/healthz");
  ASSERT_FALSE(health.handshake) << health.handshake.message();
  EXPECT_EQ(health.status, 200u);
  EXPECT_NE(health.body.find("\"status\":\"ok\""), std::string::npos) << health.body;
  const auto missing = connect_tls(server.port(), tls, "/no/such/route");
  EXPECT_EQ(missing.status, 404u);
}

TEST_F(ServerTls, OnlyTls12AndNewerWithForwardSecretAeadSuites) {
  server_process server(tls_args());
  const auto ca = certificates_.chain("server");

  auto tls13 = client_context(ca, TLS1_3_VERSION, TLS1_3_VERSION);
  const auto modern = connect_tls(server.port(), tls13);
  ASSERT_FALSE(modern.handshake) << modern.handshake.message();
  EXPECT_EQ(modern.version, "TLSv1.3");

  // The same permissive client is served at 1.2, with an ECDHE + AEAD suite...
  auto tls12 = client_context(ca, TLS1_2_VERSION, TLS1_2_VERSION);
  const auto older = connect_tls(server.port(), tls12);
  ASSERT_FALSE(older.handshake) << older.handshake.message();
  EXPECT_EQ(older.version, "TLSv1.2");
  EXPECT_TRUE(older.cipher.starts_with("ECDHE-")) << older.cipher;
  EXPECT_TRUE(older.cipher.find("GCM") != std::string::npos ||
              older.cipher.find("CHACHA20") != std::string::npos)
      << older.cipher;

  // ...but refused below 1.2, and at 1.2 with only CBC suites (no AEAD) to offer.
  auto tls11 = client_context(ca, TLS1_VERSION, TLS1_1_VERSION);
  EXPECT_TRUE(connect_tls(server.port(), tls11).handshake);
  auto cbc_only = client_context(ca, TLS1_2_VERSION, TLS1_2_VERSION,
                                 "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384");
  EXPECT_TRUE(connect_tls(server.port(), cbc_only).handshake);

  // The refusals cost nothing to others.
  auto tls = trusting();
  EXPECT_EQ(connect_tls(server.port(), tls, "/healthz").status, 200u);
}

TEST_F(ServerTls, PlainClientsAreRefused) {
  server_process server(tls_args());
  // ws:// to the TLS port: the WebSocket never opens.
  recorded_client plain(fast_options(server.ws_url(), token_for("alice")));
  plain.chat().start();
  EXPECT_FALSE(first_transport_error(plain).empty());
  EXPECT_FALSE(plain.log().ready());
  // Plain HTTP gets no HTTP answer, and the connection ends.
  const auto answer =
      plain_exchange(server.port(), "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  EXPECT_TRUE(answer.closed);
  EXPECT_FALSE(answer.bytes.starts_with("HTTP/")) << answer.bytes;
}

TEST_F(ServerTls, StalledHandshakeIsCutAfterTheRequestTimeout) {
  server_process server(tls_args({"--request-timeout-ms", "1000"}));
  const auto started = std::chrono::steady_clock::now();
  // Connected, but no ClientHello ever comes.
  const auto silent = plain_exchange(server.port(), {}, 6s);
  EXPECT_TRUE(silent.closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 6s);
  // Half a ClientHello (a TLS record header announcing more than is sent) is cut as well.
  const auto partial = plain_exchange(server.port(), std::string("\x16\x03\x01\x02\x00", 5), 6s);
  EXPECT_TRUE(partial.closed);
  auto tls = trusting();
  EXPECT_EQ(connect_tls(server.port(), tls, "/healthz").status, 200u);
}

TEST_F(ServerTls, OverTheAddressLimitTheConnectionClosesWithoutAHandshake) {
  server_process server(
      tls_args({"--max-connections-per-ip", "1", "--request-timeout-ms", "60000"}));
  auto tls = trusting();
  {
    net::io_context ioc;
    tcp::socket holder(ioc);  // takes the one place, silently
    holder.connect({net::ip::make_address("127.0.0.1"), server.port()});
    const auto refused = plain_exchange(server.port(), {}, answer_wait);
    EXPECT_TRUE(refused.closed);
    EXPECT_EQ(refused.bytes, "");  // no 429 on a TLS port: nothing before a handshake
    EXPECT_TRUE(connect_tls(server.port(), tls).handshake);
  }
  // The holder is gone: its place comes back once the server has seen the close.
  const auto deadline = std::chrono::steady_clock::now() + answer_wait;
  unsigned status = 0;
  while (status != 200 && std::chrono::steady_clock::now() < deadline) {
    status = connect_tls(server.port(), tls, "/healthz").status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200u);
}

TEST_F(ServerTls, UnusableCertificateOrKeyStopsTheServerWithExit2) {
  certificates_.make("other");
  const auto server_cert = certificates_.chain("server");

  const auto missing_key = certificates_.path("missing-key.pem");
  auto run = expect_startup_failure({"--tls-cert", server_cert, "--tls-key", missing_key});
  EXPECT_EQ(run.exit_status, 2) << run.log;
  EXPECT_NE(run.log.find("tls_key " + missing_key), std::string::npos) << run.log;

  const auto missing_cert = certificates_.path("missing-cert.pem");
  run = expect_startup_failure(
      {"--tls-cert", missing_cert, "--tls-key", certificates_.key("server")});
  EXPECT_EQ(run.exit_status, 2) << run.log;
  EXPECT_NE(run.log.find("tls_cert " + missing_cert), std::string::npos) << run.log;

  // A key that is not the certificate's (another certificate's key).
  const auto other_key = certificates_.key("other");
  run = expect_startup_failure({"--tls-cert", server_cert, "--tls-key", other_key});
  EXPECT_EQ(run.exit_status, 2) << run.log;
  EXPECT_NE(run.log.find("tls_key " + other_key + " does not match"), std::string::npos)
      << run.log;

  // A file that is not PEM at all.
  const auto garbage = certificates_.path("garbage.pem");
  std::ofstream(garbage) << "not a certificate\n";
  run = expect_startup_failure({"--tls-cert", garbage, "--tls-key", certificates_.key("server")});
  EXPECT_EQ(run.exit_status, 2) << run.log;
  EXPECT_NE(run.log.find("tls_cert " + garbage), std::string::npos) << run.log;
}

}  // namespace
}  // namespace parley::test
