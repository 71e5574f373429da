// One WebSocket connection: the Asio driver of a session_logic. It reads frames (bounded by
// max_frame: Beast closes 1009 above it), keeps one write in flight with the logic's coalesced
// frames, runs the logic's one timer, and closes with the code the logic asks for, dropping
// the socket if the peer does not finish the close handshake within close_timeout. Plain or TLS
// (`Stream`, as in http_session): the session body is the same.
#pragma once

#include "address_limits.hpp"
#include "net.hpp"
#include "outbound_queue.hpp"
#include "session_logic.hpp"
#include "shared_state.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <memory>

namespace parley::server {

/// How long a close may wait for the peer (or for a write it stopped reading) before the
/// socket is simply closed.
inline constexpr std::chrono::seconds close_timeout{5};

/// The I/O side of one client connection.
template <class Stream>
class websocket_session : public std::enable_shared_from_this<websocket_session<Stream>> {
 public:
  /// Takes over an upgraded HTTP connection's stream and its place in the per-address count.
  websocket_session(Stream&& stream, connection_slot slot, shared_state& hub);
  ~websocket_session();

  /// Completes the WebSocket handshake for the upgrade `request` and starts the session.
  void run(beast::http::request<beast::http::string_body> request);

 private:
  void on_accept(error_code ec);
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  /// Writes the next frame if none is in flight, starts the close the logic asks for, and
  /// re-arms the timer. Runs after every input and whenever the logic reports new output.
  void pump();
  void do_write(shared_buffer frame);
  void on_write(error_code ec, std::size_t bytes);
  void do_close(proto::close_code code);
  void on_close(error_code ec);
  void arm_timer();
  void on_timer(error_code ec);
  /// The transport is over: stop the timer and drop the socket (pending operations end).
  void finish();

  // Declared first: given back only after the socket below has been closed.
  connection_slot slot_;
  shared_state& hub_;
  beast::websocket::stream<Stream> ws_;
  beast::flat_buffer buffer_;
  net::steady_timer timer_;
  shared_buffer writing_;  // the frame in flight, kept alive until its write completes
  proto::millis armed_ = proto::millis::max();
  bool accepted_ = false;
  bool closing_ = false;
  bool finished_ = false;
  // Declared last: destroyed first, while the socket still exists, so leaving rooms and
  // presence run before the connection object goes.
  session_logic logic_;
};

extern template class websocket_session<plain_stream>;
extern template class websocket_session<tls_stream>;

}  // namespace parley::server
