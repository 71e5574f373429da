// The server's TLS context, built once at startup from tls_cert / tls_key and shared by every
// TLS connection (OpenSSL reference-counts it, so sessions never copy certificates).
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <string>

namespace parley::server {

/// A server context speaking TLS 1.2 and 1.3 only (1.2 restricted to ECDHE key exchange with
/// AEAD ciphers; 1.3 with OpenSSL's defaults), without compression or renegotiation, serving the
/// PEM certificate chain `cert_file` with the PEM private key `key_file`. Throws config_error
/// naming the file when either cannot be read or parsed, or when the key is not the
/// certificate's.
boost::asio::ssl::context tls_context_for(const std::string& cert_file,
                                          const std::string& key_file);

}  // namespace parley::server
