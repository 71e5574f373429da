// Namespace aliases for the networking libraries, so server code reads like the Beast examples.
// Nothing else belongs here.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>

namespace parley::server {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = boost::asio::ip::tcp;
using error_code = boost::beast::error_code;

}  // namespace parley::server
