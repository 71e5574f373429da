#include "websocket_session.hpp"

#include "frame_header.hpp"
#include "log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>

namespace parley::server {
namespace {

/// Where plain connections read: one buffer for the whole event loop, so a connection holds no
/// read buffer while it waits (and most of the time it waits). Whatever the reader has to keep
/// between reads (an unfinished frame) it copies out.
std::span<char> scratch() {
  thread_local std::array<char, 64 * 1024> space;
  return space;
}

/// Plain TCP: the wire, batching its lone frames in the loop's send ring. TLS: the stream.
template <class Transport, class Stream>
Transport open_transport(Stream&& stream, cork& corks) {
  if constexpr (std::is_same_v<Transport, wire>) {
    return wire(std::move(stream), corks.ring());
  } else {
    return Transport(std::move(stream));
  }
}

}  // namespace

template <class Stream>
websocket_session<Stream>::websocket_session(Stream&& stream, connection_slot slot,
                                             shared_state& hub, cork& corks)
    : corks_(corks),
      slot_(std::move(slot)),
      hub_(hub),
      transport_(open_transport<transport>(std::move(stream), corks)),
      reader_(hub.options().max_frame),
      timer_(transport_.get_executor()),
      logic_(hub, read_clocks()) {
  // Broadcasts from other sessions land in the logic's queue at any time; they are written
  // once the loop's current burst of input is over.
  logic_.on_output([this] { hold(); });
  if constexpr (!tls) {
    // A frame the send ring could not send whole waits in the wire again.
    transport_.on_backlog([this] {
      if (!writing_ && !finished_) start_write();
    });
  }
}

template <class Stream>
websocket_session<Stream>::~websocket_session() {
  logic_.handle_transport_closed(read_clocks());
  log_line(log_level::info, "session " + logic_.id() + " closed");
}

template <class Stream>
tcp::socket& websocket_session<Stream>::socket() {
  if constexpr (tls) {
    return beast::get_lowest_layer(transport_).socket();
  } else {
    return transport_.socket();
  }
}

template <class Stream>
void websocket_session<Stream>::run(std::string early) {
  log_line(log_level::info, "session " + logic_.id() + " opened");
  if constexpr (!tls) {
    // Reads are attempted only once the socket says it has bytes, and must never block.
    error_code ec;
    socket().non_blocking(true, ec);
    if (ec) {
      fail(ec, "websocket non-blocking");
      return finish();
    }
  }
  arm_timer();  // the hello deadline runs from the upgrade
  if (!early.empty()) handle_input(std::span<char>(early));
  if (finished_) return;
  // TLS reads no further once the peer's close is in (see on_read); plain reads to the end.
  if (tls && reader_.done()) return pump();
  do_read();
}

template <class Stream>
void websocket_session<Stream>::do_read() {
  if constexpr (tls) {
    transport_.async_read_some(
        net::buffer(tls_.read),
        beast::bind_front_handler(&websocket_session::on_read, this->shared_from_this()));
  } else {
    // Waiting holds no buffer; the read happens once there is something to read.
    socket().async_wait(net::socket_base::wait_read,
                        beast::bind_front_handler(&websocket_session::on_readable,
                                                  this->shared_from_this()));
  }
}

template <class Stream>
void websocket_session<Stream>::on_readable(error_code ec) {
  if (finished_) return;
  if (ec) {
    fail(ec, "websocket wait");
    return finish();
  }
  read_now();
}

template <class Stream>
void websocket_session<Stream>::read_now() {
  if (finished_) return;
  const auto space = scratch();
  error_code ec;
  const std::size_t bytes = socket().read_some(net::buffer(space.data(), space.size()), ec);
  if (ec == net::error::would_block || ec == net::error::try_again) return do_read();
  if (ec) {
    // The peer closed or reset the connection: routine, at any point of a session.
    if (ec != net::error::eof && ec != net::error::connection_reset) fail(ec, "websocket read");
    return finish();
  }
  handle_input(space.first(bytes));
  if (finished_) return;
  if (bytes == space.size()) {
    // Maybe more waiting: read it after the other connections' turn. (Waiting instead could
    // miss it: the reactor reports new bytes, not bytes still there.)
    net::post(transport_.get_executor(), [self = this->shared_from_this()] { self->read_now(); });
    return;
  }
  do_read();
}

template <class Stream>
void websocket_session<Stream>::on_read(error_code ec, std::size_t bytes) {
  if constexpr (tls) {
    if (finished_) return;
    if (ec) {
      if (ec == ssl::error::stream_truncated || ec == net::error::eof) {
        // A TLS peer gone (with or without close_notify): as routine as a reset on plain TCP.
        log_line(log_level::debug, "websocket read: " + ec.message());
      } else {
        fail(ec, "websocket read");
      }
      return finish();
    }
    handle_input(std::span<char>(tls_.read.data(), bytes));
    // TLS stops reading once the peer's close (or a failure) is in: close_notify follows.
    if (finished_) return;
    if (!reader_.done()) return do_read();
    pump();
  }
}

template <class Stream>
void websocket_session<Stream>::handle_input(std::span<char> bytes) {
  corks_.note_input();
  deadline_stale_ = true;
  reader_.handle_input(bytes);
  while (const auto event = reader_.poll_event()) {
    switch (event->type) {
      case frame_event::kind::message:
        // After our close frame, data is read and dropped (RFC 6455 §1.4).
        if (!closing_) logic_.handle_frame(event->payload, read_clocks());
        break;
      case frame_event::kind::ping:
        if (!closing_) answer_ping(event->payload);
        break;
      case frame_event::kind::pong:
        break;
      case frame_event::kind::close:
        // The peer's close: answered with its own code (none if it gave none), unless this
        // side's close is already on its way, in which case this was the answer.
        if (!closing_) {
          start_close(event->code == ws_close::no_status ? std::uint16_t{0} : event->code);
        }
        break;
      case frame_event::kind::fail:
        hub_.stats().error(event->code == ws_close::too_big ? "too_large" : "malformed");
        log_line(log_level::info, "session " + logic_.id() + " closed " +
                                      std::to_string(event->code) + ": " +
                                      std::string(event->payload));
        if (!closing_) start_close(event->code);
        break;
    }
  }
  hold();
}

template <class Stream>
void websocket_session<Stream>::hold() {
  if (held_ || finished_) return;
  held_ = true;
  corks_.hold(this->shared_from_this());
}

template <class Stream>
void websocket_session<Stream>::uncork() {
  held_ = false;
  pump();
}

template <class Stream>
void websocket_session<Stream>::pump() {
  if (finished_) return;
  if (!closing_) {
    if (!writing_) write_frames();
    // The close code arrives once every frame has been taken, so it follows them out.
    if (const auto code = logic_.poll_close()) {
      start_close(static_cast<std::uint16_t>(*code));
    } else {
      arm_timer();
      return;
    }
  }
  if (!writing_) end_output();
}

template <class Stream>
void websocket_session<Stream>::write_frames() {
  if constexpr (tls) {
    // One frame per write: the rest stays in the logic's queue, which bounds it.
    if (const auto frame = logic_.poll_transmit(); !frame.empty()) {
      std::array<unsigned char, 10> header;
      const std::size_t size = frame_header(ws_opcode::binary, frame.bytes, header);
      tls_.out.append(reinterpret_cast<const char*>(header.data()), size);
      for (const auto& part : frame.messages) tls_.out += *part;
      logic_.transmitted(frame);
    }
    if (!tls_.out.empty()) start_write();
  } else {
    for (auto frame = logic_.poll_transmit(); !frame.empty(); frame = logic_.poll_transmit()) {
      const bool drained = transport_.write_frame(frame);
      logic_.transmitted(frame);
      // The socket took part of it: the rest waits in the wire.
      if (!drained) return start_write();
    }
  }
}

template <class Stream>
void websocket_session<Stream>::send_control(unsigned opcode, std::string_view payload) {
  if constexpr (tls) {
    std::array<unsigned char, 10> header;
    const std::size_t size = frame_header(opcode, payload.size(), header);
    tls_.out.append(reinterpret_cast<const char*>(header.data()), size);
    tls_.out += payload;
    if (!writing_) start_write();
  } else {
    if (!transport_.write_control(opcode, payload) && !writing_) start_write();
  }
}

template <class Stream>
void websocket_session<Stream>::answer_ping(std::string_view payload) {
  // RFC 6455 §5.5.3 lets a pong answer only the latest ping. While the socket is full, a client
  // that pings without reading is owed one pong, not one per ping: its memory stays bounded.
  if (writing_) {
    owed_pong_.assign(payload);
    pong_owed_ = true;
    return;
  }
  send_control(ws_opcode::pong, payload);
}

template <class Stream>
void websocket_session<Stream>::start_write() {
  writing_ = true;
  if constexpr (tls) {
    // Everything framed so far, as one buffer so it leaves as one TLS record.
    tls_.in_flight.swap(tls_.out);
    tls_.out.clear();
    net::async_write(transport_, net::buffer(tls_.in_flight),
                     [self = this->shared_from_this()](error_code ec, std::size_t) {
                       self->on_write(ec);
                     });
  } else {
    transport_.async_drain(
        beast::bind_front_handler(&websocket_session::on_write, this->shared_from_this()));
  }
}

template <class Stream>
void websocket_session<Stream>::on_write(error_code ec) {
  writing_ = false;
  if (finished_) return;
  if (ec) {
    if (ec != net::error::broken_pipe && ec != net::error::connection_reset) {
      fail(ec, "websocket write");
    }
    return finish();
  }
  if constexpr (tls) {
    tls_.in_flight.clear();
    if (tls_.in_flight.capacity() > 64 * 1024) std::string().swap(tls_.in_flight);
    // Control frames framed while the write was in flight go next.
    if (closing_ && !tls_.out.empty()) return start_write();
  }
  if (pong_owed_) {
    pong_owed_ = false;
    if (!closing_) send_control(ws_opcode::pong, owed_pong_);
    std::string().swap(owed_pong_);
  }
  pump();
}

template <class Stream>
void websocket_session<Stream>::start_close(std::uint16_t code) {
  closing_ = true;
  // From here on the timer bounds the close: a peer that stopped reading never lets the
  // close frame through, and one that never answers it would hold the socket.
  armed_ = proto::millis::max();
  timer_.expires_after(close_timeout);
  timer_.async_wait(
      beast::bind_front_handler(&websocket_session::on_timer, this->shared_from_this()));
  const char payload[2] = {static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  send_control(ws_opcode::close, std::string_view(payload, code == 0 ? 0 : 2));
}

template <class Stream>
void websocket_session<Stream>::end_output() {
  if (output_ended_ || finished_) return;
  if constexpr (tls) {
    if (!tls_.out.empty()) return start_write();
    // close_notify needs the read side idle: it comes once the peer's close is in.
    if (!reader_.done()) return;
    output_ended_ = true;
    transport_.async_shutdown([self = this->shared_from_this()](error_code) { self->finish(); });
  } else {
    // Everything, the close frame last, is written: a FIN tells the peer nothing more comes.
    // The socket closes when the peer closes its side (read_now sees the end) or on timeout;
    // closing now with the peer's bytes unread could reset the connection and lose the close.
    output_ended_ = true;
    error_code ec;
    socket().shutdown(tcp::socket::shutdown_send, ec);
  }
}

template <class Stream>
void websocket_session<Stream>::arm_timer() {
  if (!deadline_stale_) return;
  deadline_stale_ = false;
  const auto deadline = logic_.poll_timeout();
  if (deadline == armed_ || finished_ || closing_) return;
  armed_ = deadline;
  if (deadline == proto::millis::max()) {
    timer_.cancel();
    return;
  }
  timer_.expires_at(std::chrono::steady_clock::time_point(deadline));
  timer_.async_wait(
      beast::bind_front_handler(&websocket_session::on_timer, this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::on_timer(error_code ec) {
  if (ec == net::error::operation_aborted || finished_) return;
  if (closing_) {
    // A logic deadline that fired just before the close started is not the close timeout.
    if (timer_.expiry() > std::chrono::steady_clock::now()) return;
    log_line(log_level::info, "session " + logic_.id() + " close timed out; dropping socket");
    return finish();
  }
  armed_ = proto::millis::max();
  deadline_stale_ = true;
  logic_.handle_timeout(read_clocks());
  pump();
}

template <class Stream>
void websocket_session<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  error_code ec;
  socket().close(ec);
}

template class websocket_session<plain_stream>;
template class websocket_session<tls_stream>;

}  // namespace parley::server
