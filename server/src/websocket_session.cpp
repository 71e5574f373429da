#include "websocket_session.hpp"

#include "log.hpp"

#include <cstring>

#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/websocket.hpp>

namespace parley::server {
namespace {

namespace websocket = beast::websocket;

}  // namespace

template <class Stream>
websocket_session<Stream>::websocket_session(Stream&& stream, connection_slot slot,
                                             shared_state& hub, cork& corks)
    : slot_(std::move(slot)),
      hub_(hub),
      corks_(corks),
      ws_(std::move(stream)),
      timer_(ws_.get_executor()),
      logic_(hub, read_clocks()) {
  // Broadcasts from other sessions land in the logic's queue at any time; they are written
  // once the loop's current burst of input is over.
  logic_.on_output([this] { hold(); });
}

template <class Stream>
websocket_session<Stream>::~websocket_session() {
  logic_.handle_transport_closed(read_clocks());
  if (accepted_) log_line(log_level::info, "session " + logic_.id() + " closed");
}

template <class Stream>
void websocket_session<Stream>::run(beast::http::request<beast::http::string_body> request) {
  auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::server);
  // Writing the 101 answer is still part of the upgrade: same bound as the request itself.
  timeouts.handshake_timeout = std::chrono::milliseconds(hub_.options().request_timeout_ms);
  ws_.set_option(timeouts);
  ws_.set_option(websocket::stream_base::decorator([](websocket::response_type& response) {
    response.set(beast::http::field::server, "parley-server");
  }));
  ws_.read_message_max(hub_.options().max_frame);
  ws_.binary(true);
  ws_.async_accept(request, beast::bind_front_handler(&websocket_session::on_accept,
                                                     this->shared_from_this()));
  arm_timer();  // the hello deadline runs from the upgrade
}

template <class Stream>
void websocket_session<Stream>::on_accept(error_code ec) {
  if (ec) {
    fail(ec, "websocket accept");
    return finish();
  }
  accepted_ = true;
  log_line(log_level::info, "session " + logic_.id() + " opened");
  do_read();
  pump();
}

template <class Stream>
void websocket_session<Stream>::do_read() {
  ws_.async_read_some(net::buffer(read_space_), beast::bind_front_handler(
                                                   &websocket_session::on_read,
                                                   this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::on_read(error_code ec, std::size_t bytes) {
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      // Beast has already failed the connection with close code 1009.
      hub_.stats().error("too_large");
      log_line(log_level::info, "session " + logic_.id() + " closed 1009: frame over max_frame");
    } else if (ec == ssl::error::stream_truncated) {
      // A TLS peer gone without close_notify: as routine as a reset on plain TCP.
      log_line(log_level::debug, "websocket read: " + ec.message());
    } else if (ec != websocket::error::closed) {
      fail(ec, "websocket read");
    }
    return finish();
  }
  const std::string_view part(read_space_.data(), bytes);
  if (!ws_.is_message_done() || large_.size() > 0) {
    // A message longer than read_space_: gathered here (Beast bounds it by max_frame).
    const auto space = large_.prepare(part.size());
    std::memcpy(space.data(), part.data(), part.size());
    large_.commit(part.size());
    if (!ws_.is_message_done()) return do_read();
  }
  corks_.note_input();
  if (large_.size() > 0) {
    const auto data = large_.data();
    logic_.handle_frame(std::string_view(static_cast<const char*>(data.data()), data.size()),
                        read_clocks());
    large_.clear();
    large_.shrink_to_fit();  // given back: most connections are quiet most of the time
  } else {
    logic_.handle_frame(part, read_clocks());
  }
  hold();
  // Once closing, the close handshake reads the peer's answer itself.
  if (!closing_ && !finished_) do_read();
}

template <class Stream>
void websocket_session<Stream>::hold() {
  if (held_) return;
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
  if (!accepted_ || finished_) return;
  if (!writing_) write_frames();
  if (closing_) return;
  // The close code arrives once every frame has been taken; Beast sends the close frame after
  // the write in flight, so nothing queued before the close is lost.
  if (const auto code = logic_.poll_close()) return do_close(*code);
  arm_timer();
}

template <class Stream>
void websocket_session<Stream>::write_frames() {
  if constexpr (tls) {
    if (!logic_.poll_transmit(frame_)) return;
    tls_frame_ = frame_.joined();
    frame_.clear();
    writing_ = true;
    ws_.async_write(net::buffer(tls_frame_),
                    [self = this->shared_from_this()](error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  } else {
    auto& out = ws_.next_layer();
    while (logic_.poll_transmit(frame_)) {
      if (out.write_frame(frame_)) continue;
      // The socket took part of it: the rest (and Beast's control frames) wait in the wire.
      writing_ = true;
      return out.async_drain(
          beast::bind_front_handler(&websocket_session::on_write, this->shared_from_this()));
    }
    // A burst's big frame should not leave its slots allocated on a quiet connection.
    if (frame_.messages.capacity() > 8) frame_.messages = {};
  }
}

template <class Stream>
void websocket_session<Stream>::on_write(error_code ec) {
  writing_ = false;
  if (finished_) return;
  if (ec) {
    fail(ec, "websocket write");
    return finish();
  }
  pump();
}

template <class Stream>
void websocket_session<Stream>::do_close(proto::close_code code) {
  closing_ = true;
  // From here on the timer bounds the close: a peer that stopped reading never lets the
  // pending write (and so the close frame) through.
  armed_ = proto::millis::max();
  timer_.expires_after(close_timeout);
  timer_.async_wait(
      beast::bind_front_handler(&websocket_session::on_timer, this->shared_from_this()));
  ws_.async_close(
      websocket::close_reason(static_cast<std::uint16_t>(code)),
      beast::bind_front_handler(&websocket_session::on_close, this->shared_from_this()));
}

template <class Stream>
void websocket_session<Stream>::on_close(error_code ec) {
  if (ec) fail(ec, "websocket close");
  finish();
}

template <class Stream>
void websocket_session<Stream>::arm_timer() {
  const auto deadline = logic_.poll_timeout();
  if (deadline == armed_ || finished_) return;
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
  logic_.handle_timeout(read_clocks());
  pump();
}

template <class Stream>
void websocket_session<Stream>::finish() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  error_code ec;
  if constexpr (tls) {
    beast::get_lowest_layer(ws_).socket().close(ec);
  } else {
    ws_.next_layer().next_layer().close(ec);
  }
}

template class websocket_session<plain_stream>;
template class websocket_session<tls_stream>;

}  // namespace parley::server
