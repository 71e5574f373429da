#include "dev_token.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <rapidjson/document.h>

#include <cctype>
#include <chrono>
#include <stdexcept>

namespace parley::cli {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

// A dev server on loopback answers at once; this only stops a wrong address from hanging.
constexpr std::chrono::seconds request_timeout{10};

// RFC 3986 query component: everything but unreserved characters is percent-encoded.
std::string percent_encode(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

http::response<http::string_body> post(const client::endpoint& server, const std::string& target) {
  asio::io_context ioc;
  beast::tcp_stream stream(ioc);
  stream.expires_after(request_timeout);
  asio::ip::tcp::resolver resolver(ioc);
  stream.connect(resolver.resolve(server.host, std::to_string(server.port)));

  http::request<http::empty_body> request(http::verb::post, target, 11);
  request.set(http::field::host, server.host_header());
  request.set(http::field::user_agent, "parley-cli");
  http::write(stream, request);

  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return response;
}

}  // namespace

std::string fetch_dev_token(const client::endpoint& server, const std::string& user,
                            const std::string& tenant) {
  const std::string where = server.host_header();
  if (server.secure) {
    throw std::runtime_error("development tokens are served over plain http only; with a "
                             "wss:// URL pass --token");
  }
  http::response<http::string_body> response;
  try {
    response = post(server, "/api/v1/dev/token?user=" + percent_encode(user) +
                                "&tenant=" + percent_encode(tenant));
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot get a development token from " + where + ": " +
                             e.code().message());
  }
  if (response.result() == http::status::not_found) {
    throw std::runtime_error("the server at " + where + " is not in development mode (start "
                             "it with --dev) and hands out no tokens; pass --token");
  }
  if (response.result() != http::status::ok) {
    throw std::runtime_error("the server at " + where + " refused a development token: " +
                             std::to_string(response.result_int()) + " " + response.body());
  }
  rapidjson::Document json;
  json.Parse(response.body().data(), response.body().size());
  if (json.HasParseError() || !json.IsObject() || !json.HasMember("token") ||
      !json["token"].IsString()) {
    throw std::runtime_error("the server at " + where + " answered without a token: " +
                             response.body());
  }
  return json["token"].GetString();
}

}  // namespace parley::cli
