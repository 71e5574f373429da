#include "server_wire_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

namespace parley::test {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;

tcp::endpoint loopback(std::uint16_t port) {
  return {net::ip::make_address("127.0.0.1"), port};
}

/// Server frames may batch many messages and carry whole history pages.
proto::decode_limits server_frame_limits() {
  proto::decode_limits limits;
  limits.max_frame = 64 << 20;
  limits.max_batch = 1 << 16;
  limits.max_array = 1 << 20;
  return limits;
}

}  // namespace

struct wire_client::state {
  net::io_context ioc;
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  wire_options options;
  std::thread thread;

  // Shared with the test thread.
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<proto::message> inbox;
  std::optional<close_info> closed;
  std::string bad_frame;  // why a server frame failed to decode, if one did

  // Touched only on the I/O thread.
  std::deque<std::string> outbox;
  bool writing = false;

  ~state() {
    ioc.stop();
    if (thread.joinable()) thread.join();
  }

  void do_read() {
    ws.async_read(buffer, [this](error_code ec, std::size_t) { on_read(ec); });
  }

  void on_read(error_code ec) {
    if (ec) {
      std::lock_guard lock(mutex);
      closed = close_info{static_cast<std::uint16_t>(ws.reason().code), ec.message()};
      changed.notify_all();
      return;
    }
    const auto data = buffer.data();
    auto decoded = proto::decode_frame(
        std::string_view(static_cast<const char*>(data.data()), data.size()), server_frame_limits());
    buffer.consume(buffer.size());
    {
      std::lock_guard lock(mutex);
      if (!decoded) {
        bad_frame = decoded.error->detail;
      }
      for (auto& message : decoded.messages) {
        if (!options.keep_pings && std::holds_alternative<proto::ping>(message)) continue;
        inbox.push_back(std::move(message));
      }
      changed.notify_all();
    }
    do_read();
  }

  void queue(std::string bytes) {
    net::post(ioc, [this, bytes = std::move(bytes)]() mutable {
      outbox.push_back(std::move(bytes));
      if (!writing) do_write();
    });
  }

  void do_write() {
    writing = true;
    ws.async_write(net::buffer(outbox.front()), [this](error_code ec, std::size_t) {
      outbox.pop_front();
      writing = false;
      if (!ec && !outbox.empty()) do_write();
    });
  }
};

wire_client::wire_client(std::uint16_t port, wire_options options)
    : state_(std::make_unique<state>()) {
  auto& s = *state_;
  s.options = options;
  auto& socket = beast::get_lowest_layer(s.ws).socket();
  socket.open(tcp::v4());
  socket.set_option(tcp::no_delay(true));
  // Set before connecting so the advertised TCP window is small from the start.
  if (options.receive_buffer > 0) {
    socket.set_option(net::socket_base::receive_buffer_size(options.receive_buffer));
  }
  auto ready = std::make_shared<std::promise<error_code>>();
  auto outcome = ready->get_future();
  beast::get_lowest_layer(s.ws).async_connect(loopback(port), [&s, ready, port](error_code ec) {
    if (ec) return ready->set_value(ec);
    s.ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    s.ws.async_handshake("127.0.0.1:" + std::to_string(port), "/ws",
                         [ready](error_code handshake_ec) { ready->set_value(handshake_ec); });
  });
  s.thread = std::thread([&s] { s.ioc.run(); });
  if (outcome.wait_for(reply_wait) != std::future_status::ready) {
    throw std::runtime_error("WebSocket handshake timed out");
  }
  if (const auto ec = outcome.get()) throw std::runtime_error("WebSocket connect: " + ec.message());
  s.ws.binary(true);
  s.ws.read_message_max(64 << 20);
  if (options.read) net::post(s.ioc, [&s] { s.do_read(); });
}

wire_client::~wire_client() = default;

void wire_client::send(const proto::message& message) { state_->queue(proto::encode(message)); }

void wire_client::send_batch(const std::vector<proto::message>& messages) {
  std::string frame;
  for (const auto& message : messages) proto::encode(message, frame);
  state_->queue(std::move(frame));
}

void wire_client::send_raw(std::string bytes) { state_->queue(std::move(bytes)); }

proto::welcome wire_client::hello(const std::string& token) {
  proto::hello h;
  h.token = token;
  h.client = "server_test/1";
  send(h);
  return expect<proto::welcome>();
}

std::optional<proto::message> wire_client::next(std::chrono::milliseconds timeout) {
  auto& s = *state_;
  std::unique_lock lock(s.mutex);
  s.changed.wait_for(lock, timeout,
                     [&] { return !s.inbox.empty() || s.closed || !s.bad_frame.empty(); });
  if (!s.bad_frame.empty()) throw std::runtime_error("server sent a bad frame: " + s.bad_frame);
  if (s.inbox.empty()) return std::nullopt;
  auto message = std::move(s.inbox.front());
  s.inbox.pop_front();
  return message;
}

std::optional<close_info> wire_client::wait_closed(std::chrono::milliseconds timeout) {
  auto& s = *state_;
  std::unique_lock lock(s.mutex);
  s.changed.wait_for(lock, timeout, [&] { return s.closed.has_value(); });
  return s.closed;
}

void wire_client::resume_reading() {
  auto& s = *state_;
  net::post(s.ioc, [&s] { s.do_read(); });
}

std::string wire_client::describe_unexpected(const std::optional<proto::message>& got,
                                             std::uint32_t wanted) {
  std::string text = "expected " + std::string(proto::type_name(wanted)) + ", got ";
  if (!got) return text + "nothing in time";
  text += proto::type_name(proto::type_of(*got));
  if (const auto* e = std::get_if<proto::error>(&*got)) {
    text += " " + std::string(proto::error_name(e->code)) + " (" + e->message + ")";
  }
  return text;
}

http_result http_request(std::uint16_t port, const std::string& method, const std::string& target,
                         const std::string& bearer) {
  net::io_context ioc;
  beast::tcp_stream stream(ioc);
  beast::flat_buffer buffer;
  http::request<http::empty_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  if (!bearer.empty()) request.set(http::field::authorization, "Bearer " + bearer);
  http::response_parser<http::string_body> parser;
  parser.skip(method == "HEAD");  // a HEAD answer announces a body it does not carry
  error_code outcome = net::error::timed_out;
  stream.expires_after(reply_wait);
  stream.async_connect(loopback(port), [&](error_code ec) {
    if (ec) return void(outcome = ec);
    http::async_write(stream, request, [&](error_code write_ec, std::size_t) {
      if (write_ec) return void(outcome = write_ec);
      http::async_read(stream, buffer, parser,
                       [&](error_code read_ec, std::size_t) { outcome = read_ec; });
    });
  });
  ioc.run();
  if (outcome) throw std::runtime_error(method + " " + target + ": " + outcome.message());
  auto& response = parser.get();
  return {response.result_int(), std::string(response[http::field::content_type]),
          std::move(response.body())};
}

}  // namespace parley::test
