// The write side of a plain-TCP WebSocket connection: a session's pending messages leave as one
// gather sendmsg(2) made straight from the event loop. While the socket keeps up there is no
// composed operation, completion handler or allocation per recipient. A lone small frame (the
// usual fan-out delivery) is copied next to its header onto the stack and sent with send(2),
// which costs the kernel less than a two-piece gather; larger and batched frames are gathered
// from the shared encoded messages without a copy. Control frames (pong, close) join the same
// ordered byte queue, so they can never land inside a data frame.
//
// During a cork release a lone small frame is staged in the event loop's send_ring instead of
// sent at once: the ring sends the release's frames in batches, and reports each result here
// (ring_sent) before the release ends. Until then the wire counts the frame as written, and
// anything else written to it queues behind the staged frame; a frame the socket did not take
// whole has its rest queued, and the owner is told (on_backlog) so that it drains.
//
// Only when the kernel's send buffer is full does anything wait: the unwritten rest stays
// queued, and async_drain waits for the socket to become writable. The read side is the
// session's (frame_reader); TLS connections do not use this class: every byte there is
// encrypted per connection anyway.
#pragma once

#include "net.hpp"
#include "outbound_queue.hpp"
#include "send_ring.hpp"

#include <boost/asio/compose.hpp>
#include <boost/asio/post.hpp>

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

namespace parley::server {

/// A plain TCP stream whose writes go through one ordered queue (see the file comment).
class wire : public send_ring::sender {
 public:
  /// Takes over the socket of an upgraded HTTP connection. Beast's tcp_stream (and its two
  /// timers) is left behind: the session's one timer bounds everything from here on. `ring`
  /// (may be null) batches lone small frames while a cork release is under way.
  explicit wire(beast::tcp_stream&& stream, send_ring* ring = nullptr)
      : ring_(ring), socket_(stream.release_socket()) {}
  wire(const wire&) = delete;  // a staged send reports to this object
  wire& operator=(const wire&) = delete;

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
  /// Called when a staged frame turns out not to have been taken whole (or failed): bytes wait
  /// again, so the owner starts async_drain unless it is already draining.
  void on_backlog(std::function<void()> callback) { backlog_ = std::move(callback); }

  void ring_sent(std::span<const char> staged, long result) override;

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

  /// Writes a frame of `size` bytes: `header` then `parts`, as write_frame says. Only data
  /// frames `may_stage` in the ring: a control frame is sent (or queued) at once, because a
  /// close frame is followed by a half-close the staged send would come too late for.
  bool write(std::span<const unsigned char> header, std::span<const shared_buffer> parts,
             std::size_t size, bool may_stage);
  /// Writes from the front of the queue until it is empty, the socket would block or fails.
  void flush();
  /// Sends one frame that nothing is queued ahead of: flat when small and of one part (staged
  /// in the ring during a release, when `may_stage`), else gathered. Returns the bytes
  /// written (a staged frame counts as written): 0 when the socket would block or failed
  /// (then failed_ is set).
  std::size_t send(std::span<const unsigned char> header, std::span<const shared_buffer> parts,
                   bool may_stage);
  /// One gather sendmsg of the queue from offset_ bytes into its front; returns as above.
  std::size_t send_queue();
  /// The bytes a send(2) or sendmsg(2) result says went (0 on would-block or error; an error
  /// is kept in failed_).
  std::size_t finish_send(ssize_t written);

  // Read on every write, so next to each other and to the socket's descriptor.
  error_code failed_;       // set once a write fails; every later write reports it
  send_ring* ring_;
  bool in_ring_ = false;    // a frame is staged and its result not yet known
  // Usually empty: a frame only stays when the socket did not take all of it.
  std::vector<chunk> queue_;
  std::size_t offset_ = 0;  // bytes of queue_.front() already written
  tcp::socket socket_;
  std::function<void()> backlog_;
};

}  // namespace parley::server
