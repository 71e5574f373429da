#include "server_wire_client.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
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

// ---- raw_socket ---------------------------------------------------------------------------

namespace {

using steady = std::chrono::steady_clock;

/// Milliseconds left until `until`, for poll (0 once passed).
int poll_wait_ms(steady::time_point until) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

raw_socket::raw_socket(std::uint16_t port, int receive_buffer) {
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  if (receive_buffer > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // Loopback connects complete (or are refused) at once; no need for a non-blocking connect.
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    const std::string why = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("connect: " + why);
  }
  const int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
}

raw_socket::~raw_socket() {
  if (fd_ >= 0) ::close(fd_);
}

bool raw_socket::write(std::string_view bytes, std::chrono::milliseconds timeout) {
  const auto until = steady::now() + timeout;
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) return false;
    pollfd p{fd_, POLLOUT, 0};
    if (::poll(&p, 1, poll_wait_ms(until)) <= 0) return false;  // timed out
    if ((p.revents & (POLLERR | POLLHUP)) != 0) return false;
  }
  return true;
}

bool raw_socket::fill(steady::time_point until) {
  if (closed_) return false;
  for (;;) {
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      pending_.append(chunk, static_cast<std::size_t>(n));
      return true;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      closed_ = true;  // orderly close, or reset
      return false;
    }
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, poll_wait_ms(until)) <= 0) return false;
  }
}

std::string raw_socket::read_until_closed(std::chrono::milliseconds timeout) {
  const auto until = steady::now() + timeout;
  while (fill(until)) {
  }
  return std::exchange(pending_, {});
}

std::string raw_socket::read_http_head(std::chrono::milliseconds timeout) {
  const auto until = steady::now() + timeout;
  for (;;) {
    if (const auto end = pending_.find("\r\n\r\n"); end != std::string::npos) {
      std::string head = pending_.substr(0, end + 4);
      pending_.erase(0, end + 4);
      return head;
    }
    if (!fill(until)) return std::exchange(pending_, {});
  }
}

bool raw_socket::upgrade(const std::string& path) {
  const std::string request =
      "GET " + path +
      " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  if (!write(request)) return false;
  return read_http_head().starts_with("HTTP/1.1 101");
}

bool raw_socket::send_frame_header(std::uint8_t opcode, std::uint64_t length, bool fin) {
  std::string header;
  header += static_cast<char>((fin ? 0x80 : 0x00) | (opcode & 0x0f));
  if (length < 126) {
    header += static_cast<char>(0x80 | length);
  } else if (length <= 0xffff) {
    header += static_cast<char>(0x80 | 126);
    for (int shift = 8; shift >= 0; shift -= 8)
      header += static_cast<char>((length >> shift) & 0xff);
  } else {
    header += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8)
      header += static_cast<char>((length >> shift) & 0xff);
  }
  header += std::string("\x00\x00\x00\x00", 4);  // masking key 0: the payload goes as is
  return write(header);
}

bool raw_socket::send_frame(std::uint8_t opcode, std::string_view payload, bool fin) {
  return send_frame_header(opcode, payload.size(), fin) && write(payload);
}

std::optional<ws_frame> raw_socket::read_frame(std::chrono::milliseconds timeout) {
  const auto until = steady::now() + timeout;
  const auto need = [&](std::size_t bytes) {
    while (pending_.size() < bytes) {
      if (!fill(until)) return false;
    }
    return true;
  };
  if (!need(2)) return std::nullopt;
  const auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(pending_[i]); };
  std::size_t header = 2;
  std::uint64_t length = byte(1) & 0x7f;
  if (length == 126) header += 2;
  if (length == 127) header += 8;
  if ((byte(1) & 0x80) != 0) header += 4;  // servers do not mask, but tolerate it
  if (!need(header)) return std::nullopt;
  if (length >= 126) {
    length = 0;
    const std::size_t width = (byte(1) & 0x7f) == 126 ? 2 : 8;
    for (std::size_t i = 0; i < width; ++i) length = (length << 8) | byte(2 + i);
  }
  if (length > (64u << 20) || !need(header + length)) return std::nullopt;
  ws_frame frame;
  frame.opcode = byte(0) & 0x0f;
  frame.payload = pending_.substr(header, length);
  pending_.erase(0, header + length);
  return frame;
}

std::optional<std::uint16_t> raw_socket::read_close_code(std::chrono::milliseconds timeout) {
  const auto until = steady::now() + timeout;
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now());
    auto frame = read_frame(std::max(left, std::chrono::milliseconds(0)));
    if (!frame) {
      if (closed_) return std::uint16_t{0};
      return std::nullopt;
    }
    if (frame->opcode != 8) continue;
    if (frame->payload.size() < 2) return std::uint16_t{1005};
    return static_cast<std::uint16_t>((static_cast<std::uint8_t>(frame->payload[0]) << 8) |
                                      static_cast<std::uint8_t>(frame->payload[1]));
  }
}

}  // namespace parley::test
