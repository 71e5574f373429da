// One WebSocket connection: the Asio driver of a session_logic. It reads frames (bounded by
// max_frame: Beast closes 1009 above it), keeps one write in flight with the logic's coalesced
// frames, runs the logic's one timer, and closes with the code the logic asks for, dropping
// the socket if the peer does not finish the close handshake within close_timeout. Plain or TLS
// (`Stream`, as in http_session): the session body is the same. Output waits in the `cork`
// until the loop's burst of input is over; on plain TCP it is then written by `wire` in one
// sendmsg per frame, on TLS through Beast.
#pragma once

#include "address_limits.hpp"
#include "cork.hpp"
#include "net.hpp"
#include "outbound_queue.hpp"
#include "session_logic.hpp"
#include "shared_state.hpp"
#include "wire.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <type_traits>

namespace parley::server {

/// How long a close may wait for the peer (or for a write it stopped reading) before the
/// socket is simply closed.
inline constexpr std::chrono::seconds close_timeout{5};

/// The I/O side of one client connection.
template <class Stream>
class websocket_session : public std::enable_shared_from_this<websocket_session<Stream>>,
                          public corked {
 public:
  /// Takes over an upgraded HTTP connection's stream and its place in the per-address count.
  websocket_session(Stream&& stream, connection_slot slot, shared_state& hub, cork& corks);
  ~websocket_session();

  /// Completes the WebSocket handshake for the upgrade `request` and starts the session.
  void run(beast::http::request<beast::http::string_body> request);

 private:
  void on_accept(error_code ec);
  void do_read();
  void on_read(error_code ec, std::size_t bytes);
  static constexpr bool tls = std::is_same_v<Stream, tls_stream>;
  /// Beast's next layer: on plain TCP the `wire`, which owns the write side.
  using next_layer = std::conditional_t<tls, Stream, wire>;

  /// Holds this session's output until the loop's burst of input is over.
  void hold();
  void uncork() override;
  /// Writes pending frames unless a write is in flight, starts the close the logic asks for,
  /// and re-arms the timer. Runs once output is released and after every write and timeout.
  void pump();
  /// Writes frames until the logic has none or one has to wait for the socket.
  void write_frames();
  void on_write(error_code ec);
  void do_close(proto::close_code code);
  void on_close(error_code ec);
  void arm_timer();
  void on_timer(error_code ec);
  /// The transport is over: stop the timer and drop the socket (pending operations end).
  void finish();

  // Declared first: given back only after the socket below has been closed.
  connection_slot slot_;
  shared_state& hub_;
  cork& corks_;
  beast::websocket::stream<next_layer> ws_;
  // Where Beast puts what it reads. Small and inline: an idle connection always has a read
  // pending, and most client messages fit; longer ones are gathered in large_.
  std::array<char, 256> read_space_;
  beast::flat_buffer large_;
  net::steady_timer timer_;
  frame_parts frame_;       // the next frame's messages (its vector's capacity is reused)
  std::string tls_frame_;   // TLS: the frame in flight, one buffer so it is one TLS record
  proto::millis armed_ = proto::millis::max();
  bool writing_ = false;  // a write waits for the socket (plain) or Beast (TLS)
  bool held_ = false;     // in the cork
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
