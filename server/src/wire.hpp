// The write side of a plain-TCP WebSocket connection, held by Parley instead of Beast, so that
// a session's pending messages leave as one gather sendmsg(2) made straight from the event loop:
// while the socket keeps up there is no composed operation, completion handler or allocation
// per recipient, and a broadcast's bytes are never copied (the header is framed here, the
// payload parts are the shared encoded messages).
//
// Beast still does everything else: the upgrade, reading and unmasking frames, control frames
// and the close handshake. `wire` is the next layer of Beast's websocket::stream, so Beast's own
// writes (the 101 answer, pongs, the close frame) arrive through async_write_some and join the
// same ordered byte queue: they can never land inside one of Parley's frames, which a second
// writer on the socket could not promise.
//
// Only when the kernel's send buffer is full does anything wait: the unwritten rest stays
// queued, and async_drain (or Beast's pending write) waits for the socket to become writable.
// TLS connections do not use this: every byte there is encrypted per connection anyway.
#pragma once

#include "net.hpp"
#include "outbound_queue.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace parley::server {

/// A plain TCP stream whose writes go through one ordered queue (see the file comment).
class wire {
 public:
  using executor_type = tcp::socket::executor_type;
  using next_layer_type = tcp::socket;

  /// Takes over the socket of an upgraded HTTP connection. Beast's tcp_stream (and its two
  /// timers) is left behind: Beast's WebSocket timeouts and our session timer take over.
  explicit wire(beast::tcp_stream&& stream) : socket_(stream.release_socket()) {}

  executor_type get_executor() noexcept { return socket_.get_executor(); }
  next_layer_type& next_layer() noexcept { return socket_; }
  const next_layer_type& next_layer() const noexcept { return socket_; }

  // ---- what Beast uses ----
  /// Reads go straight to the socket.
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return socket_.async_read_some(buffers, std::forward<Token>(token));
  }

  /// Beast's own bytes (already framed by Beast): copied and queued behind everything pending,
  /// and written now if the socket takes them. Completes once the queue has drained.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    auto bytes = std::make_shared<std::string>(net::buffer_size(buffers), '\0');
    net::buffer_copy(net::buffer(*bytes), buffers);
    const std::size_t size = bytes->size();
    queue_raw(std::move(bytes));
    return net::async_compose<Token, void(error_code, std::size_t)>(drain_op<true>{*this, size},
                                                                    token, socket_);
  }

  // ---- what the session uses ----
  /// Queues `frame` as one binary WebSocket frame (its messages back to back as the payload)
  /// and writes as much of the queue as the socket takes now. True when nothing is left queued;
  /// otherwise keep the rest moving with async_drain. Leaves `frame` empty either way.
  bool write_frame(frame_parts& frame);
  /// Completes with an empty error_code once everything queued has been written, or with the
  /// socket's error.
  template <class Token>
  auto async_drain(Token&& token) {
    return net::async_compose<Token, void(error_code)>(drain_op<false>{*this, 0}, token,
                                                       socket_);
  }

 private:
  /// Bytes waiting for the socket: a frame header of up to 10 bytes and the payload parts.
  struct chunk {
    std::array<unsigned char, 10> header{};
    std::size_t header_size = 0;
    std::vector<shared_buffer> parts;
  };

  /// Waits for writability until the queue is empty (or the socket fails). `Report`: complete
  /// as AsyncWriteStream::async_write_some does, with a byte count.
  template <bool Report>
  struct drain_op {
    wire& self_;
    std::size_t bytes;
    bool waited = false;

    template <class Self>
    void operator()(Self& self, error_code ec = {}) {
      if (!ec) {
        self_.flush();
        ec = self_.failed_;
        if (!ec && !self_.queue_.empty()) {
          waited = true;
          return self_.socket_.async_wait(net::socket_base::wait_write, std::move(self));
        }
      }
      if (waited) return finish(self, ec, bytes);
      // Finished within the initiating call: a completion handler may not run inside it.
      net::post(self_.socket_.get_executor(), [self = std::move(self), ec, n = bytes]() mutable {
        finish(self, ec, n);
      });
    }

    template <class Self>
    static void finish(Self& self, error_code ec, std::size_t bytes) {
      if constexpr (Report) {
        self.complete(ec, ec ? 0 : bytes);
      } else {
        self.complete(ec);
      }
    }
  };

  void queue_raw(shared_buffer bytes);
  /// Writes from the front of the queue until it is empty, the socket would block or fails.
  void flush();
  /// One gather sendmsg of `chunks` from `offset` bytes into the first. Returns the bytes
  /// written: 0 when the socket would block or failed (then failed_ is set).
  std::size_t send(const chunk* chunks, std::size_t count, std::size_t offset);

  tcp::socket socket_;
  // Usually empty: a frame only stays when the socket did not take all of it.
  std::vector<chunk> queue_;
  std::size_t offset_ = 0;  // bytes of queue_.front() already written
  error_code failed_;       // set once a write fails; every later write reports it
};

/// Beast's close handshake ends with a teardown of the next layer: write what is queued (the
/// close frame among it), then tear the socket down as Beast does.
template <class Handler>
void async_teardown(beast::role_type role, wire& stream, Handler&& handler) {
  stream.async_drain([role, &stream, handler = std::forward<Handler>(handler)](
                         error_code ec) mutable {
    if (ec) return handler(ec);
    using beast::websocket::async_teardown;
    async_teardown(role, stream.next_layer(), std::move(handler));
  });
}

}  // namespace parley::server
