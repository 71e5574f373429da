// Namespace and stream aliases for the networking libraries, so server code reads like the Beast
// examples. Nothing else belongs here.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace parley::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using error_code = boost::beast::error_code;

/// A connection's transport: plain TCP (no TLS cost at all) or TLS over it (tls_cert set).
using plain_stream = beast::tcp_stream;
using tls_stream = beast::ssl_stream<beast::tcp_stream>;

}  // namespace parley::server
