// wss:// with the native SDK: the real server behind a TLS-terminating relay (as behind a load
// balancer), with a throwaway self-signed certificate.
#include "client_recorder.hpp"
#include "client_tcp_proxy.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ssl/context.hpp>

#include <cstdlib>
#include <filesystem>

namespace parley::test {
namespace {

namespace ssl = boost::asio::ssl;

// A certificate for the name "localhost" only (no IP address in it), made by the openssl tool
// in a fresh directory that is removed afterwards.
class test_certificate {
 public:
  test_certificate() {
    char dir[] = "/tmp/parley-tls-XXXXXX";
    if (::mkdtemp(dir) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = dir;
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1"
        " -subj /CN=localhost -addext subjectAltName=DNS:localhost -keyout '" + key() +
        "' -out '" + chain() + "' 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("openssl req failed");
  }
  ~test_certificate() { std::filesystem::remove_all(dir_); }

  std::string chain() const { return dir_ / "cert.pem"; }
  std::string key() const { return dir_ / "key.pem"; }

 private:
  std::filesystem::path dir_;
};

ssl::context server_context(const test_certificate& certificate) {
  ssl::context tls(ssl::context::tls_server);
  tls.use_certificate_chain_file(certificate.chain());
  tls.use_private_key_file(certificate.key(), ssl::context::pem);
  return tls;
}

class ClientTls : public testing::Test {
 protected:

  // Options for a wss:// URL naming the relay by `host`.
  client::client_options options(const std::string& host) {
    return fast_options("wss://" + host + ":" + std::to_string(relay_.port()) + "/ws",
                        token_for("alice"));
  }

  // Bounded: the client keeps retrying a refused handshake, so wait for the first report.
  static std::string first_transport_error(recorded_client& c) {
    if (!c.wait_until([](const client_log& l) { return !l.transport_errors.empty(); })) return {};
    return c.log().transport_errors.front();
  }

  server_process server_;
  test_certificate certificate_;
  ssl::context tls_ = server_context(certificate_);
  tcp_proxy relay_{server_.port(), &tls_};
};

TEST_F(ClientTls, ConnectsWhenTheCertificateChainsToTheGivenCa) {
  auto trusting = options("localhost");
  trusting.tls.ca_file = certificate_.chain();
  recorded_client alice(trusting);
  ASSERT_TRUE(alice.start_in("secure"));
  alice.chat().send("secure", "over tls");
  ASSERT_TRUE(alice.wait_until(acked_at_least(1)));
}

TEST_F(ClientTls, RefusesACertificateItCannotVerify) {
  recorded_client alice(options("localhost"));  // the system store knows nothing of this one
  alice.chat().start();
  EXPECT_NE(first_transport_error(alice).find("certificate verify failed"), std::string::npos);
  EXPECT_FALSE(alice.log().ready());
}

TEST_F(ClientTls, RefusesACertificateForAnotherName) {
  auto wrong_name = options("127.0.0.1");  // the certificate names localhost, not the address
  wrong_name.tls.ca_file = certificate_.chain();
  recorded_client alice(wrong_name);
  alice.chat().start();
  EXPECT_NE(first_transport_error(alice).find("certificate verify failed"), std::string::npos);
  EXPECT_FALSE(alice.log().ready());
}

TEST_F(ClientTls, SkipsVerificationOnlyWhenToldTo) {
  auto reckless = options("127.0.0.1");
  reckless.tls.dangerously_skip_verification = true;
  recorded_client alice(reckless);
  alice.chat().start();
  ASSERT_TRUE(alice.wait_until([](const client_log& l) { return l.ready(); }));
}

}  // namespace
}  // namespace parley::test
