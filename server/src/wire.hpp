// The write side of a plain-TCP WebSocket connection: a session's pending messages leave as one
// gather sendmsg(2) made straight from the event loop. While the socket keeps up there is no
// composed operation, completion handler or allocation per recipient. A lone small frame (the
// usual fan-out delivery) is copied next to its header onto the stack and sent with send(2),
// which costs the kernel less than a two-piece gather; larger and batched frames are gathered
// from the shared encoded messages without a copy. Control frames (pong, close) join the same
// ordered byte queue, so they can never land inside a data frame.
//
// Only when the kernel's send buffer is full does anything wait: the unwritten rest stays
// queued, and async_drain waits for the socket to become writable. The read side is the
// session's (frame_reader); TLS connections do not use this class: every byte there is
// encrypted per connection anyway.
#pragma once

#include "net.hpp"
#include "outbound_queue.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::server {

/// A plain TCP stream whose writes go through one ordered queue (see the file comment).
class wire {
 public:
  /// Takes over the socket of an upgraded HTTP connection. Beast's tcp_stream (and its two
  /// timers) is left behind: the session's one timer bounds everything from here on.
  explicit wire(beast::tcp_stream&& stream) : socket_(stream.release_socket()) {}

  tcp::socket& socket() noexcept { return socket_; }
  tcp::socket::executor_type get_executor() noexcept { return socket_.get_executor(); }

  /// Writes `frame` as one binary WebSocket frame (its messages back to back as the payload),
  /// straight from the caller's buffers when nothing is queued; whatever the socket does not
  /// take now is queued (the wire keeps its own references). True when nothing is left queued;
  /// otherwise keep the rest moving with async_drain. Either way the caller is done with `frame`.
  bool write_frame(const frame_view& frame);
  /// Queues a control frame (RFC 6455 §5.5: `opcode` 0x8 close, 0xA pong) behind everything
  /// pending, then writes as the above.
  bool write_control(unsigned opcode, std::string_view payload);
  /// Completes with an empty error_code once everything queued has been written, or with the
  /// socket's error.
  template <class Token>
  auto async_drain(Token&& token) {
    return net::async_compose<Token, void(error_code)>(drain_op{*this}, token, socket_);
  }

 private:
  /// Bytes waiting for the socket: a frame header of up to 10 bytes and the payload parts.
  struct chunk {
    std::array<unsigned char, 10> header{};
    std::size_t header_size = 0;
    std::vector<shared_buffer> parts;
  };

  /// Waits for writability until the queue is empty (or the socket fails).
  struct drain_op {
    wire& self_;
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
      if (waited) return self.complete(ec);
      // Finished within the initiating call: a completion handler may not run inside it.
      net::post(self_.socket_.get_executor(),
                [self = std::move(self), ec]() mutable { self.complete(ec); });
    }
  };

  /// Writes a frame of `size` bytes: `header` then `parts`, as write_frame says.
  bool write(std::span<const unsigned char> header, std::span<const shared_buffer> parts,
             std::size_t size);
  /// Writes from the front of the queue until it is empty, the socket would block or fails.
  void flush();
  /// Sends one frame that nothing is queued ahead of: flat when small and of one part, else
  /// gathered. Returns the bytes written: 0 when the socket would block or failed (then
  /// failed_ is set).
  std::size_t send(std::span<const unsigned char> header, std::span<const shared_buffer> parts);
  /// One gather sendmsg of the queue from offset_ bytes into its front; returns as above.
  std::size_t send_queue();
  /// The bytes a send(2) or sendmsg(2) result says went (0 on would-block or error; an error
  /// is kept in failed_).
  std::size_t finish_send(ssize_t written);

  // Read on every write, so next to each other and to the socket's descriptor.
  error_code failed_;       // set once a write fails; every later write reports it
  // Usually empty: a frame only stays when the socket did not take all of it.
  std::vector<chunk> queue_;
  std::size_t offset_ = 0;  // bytes of queue_.front() already written
  tcp::socket socket_;
};

}  // namespace parley::server
