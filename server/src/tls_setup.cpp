#include "tls_setup.hpp"

#include "config.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace parley::server {
namespace {

namespace ssl = boost::asio::ssl;

/// TLS 1.2 suites: forward secrecy (ECDHE) and authenticated encryption only; no CBC, RSA key
/// exchange or SHA-1 MACs. TLS 1.3 suites are all AEAD and OpenSSL's defaults are kept.
constexpr const char* tls12_ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

/// The oldest OpenSSL error on this thread as text (and the queue cleared), for messages.
std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

/// Refuses a file that cannot be opened with the system's reason, before OpenSSL reports the
/// same thing as an opaque "system library" error.
void require_readable(const char* option, const std::string& file) {
  if (std::ifstream in{file}; !in) {
    throw config_error(std::string(option) + " " + file + ": cannot read (" +
                       std::strerror(errno) + ")");
  }
}

}  // namespace

ssl::context tls_context_for(const std::string& cert_file, const std::string& key_file) {
  ssl::context context(ssl::context::tls_server);
  SSL_CTX* native = context.native_handle();
  // no_sslv*/no_tlsv1* are belt and braces next to the minimum version below.
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                      ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                      ssl::context::no_tlsv1_1 | ssl::context::no_compression |
                      ssl::context::single_dh_use);
  // Client-initiated renegotiation is a CPU-exhaustion lever and buys nothing here.
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1) {
    throw config_error("TLS setup: " + openssl_reason());
  }
  // A passphrase-protected key would make OpenSSL prompt on the terminal and hang a service at
  // startup: answer every prompt with nothing, so such a key fails to load instead.
  context.set_password_callback(
      [](std::size_t, ssl::context::password_purpose) { return std::string(); });

  require_readable("tls_cert", cert_file);
  boost::system::error_code ec;
  context.use_certificate_chain_file(cert_file, ec);
  if (ec) {
    throw config_error("tls_cert " + cert_file + ": not a PEM certificate chain (" +
                       ec.message() + ")");
  }
  require_readable("tls_key", key_file);
  context.use_private_key_file(key_file, ssl::context::pem, ec);
  // OpenSSL already compares the key with the certificate as it loads it;
  // SSL_CTX_check_private_key confirms a key that loaded. Either way the operator is told which
  // two files disagree rather than OpenSSL's "key values mismatch".
  const bool mismatch =
      ec && ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
  if (mismatch || (!ec && SSL_CTX_check_private_key(native) != 1)) {
    ERR_clear_error();
    throw config_error("tls_key " + key_file + " does not match the certificate in tls_cert " +
                       cert_file);
  }
  if (ec) {
    throw config_error("tls_key " + key_file +
                       ": not an unencrypted PEM private key (" + ec.message() + ")");
  }
  return context;
}

}  // namespace parley::server
