// One WebSocket connection after the upgrade: the Asio driver of a session_logic. Frames are
// parsed by frame_reader right where they were read; the logic's coalesced frames leave with
// one write in flight; the logic's one timer runs here; and the session closes with the code
// the logic (or the reader) asks for, dropping the socket if the peer does not finish the
// close within close_timeout. Plain or TLS (`Stream`, as in http_session), one body:
//   - plain TCP: an idle connection waits for readability with no buffer at all, reads into
//     the event loop's one scratch buffer, and writes through `wire` (one sendmsg per frame);
//   - TLS: reads into a small buffer of its own and writes one TLS record per frame.
// Output waits in the `cork` until the loop's burst of input is over.
#pragma once

#include "address_limits.hpp"
#include "cork.hpp"
#include "frame_reader.hpp"
#include "net.hpp"
#include "outbound_queue.hpp"
#include "session_logic.hpp"
#include "shared_state.hpp"
#include "wire.hpp"

#include <boost/asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
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
  /// Takes over an upgraded HTTP connection (its 101 answer written) and its place in the
  /// per-address count.
  websocket_session(Stream&& stream, connection_slot slot, shared_state& hub, cork& corks);
  ~websocket_session();

  /// Starts the session. `early`: bytes the client sent right after its upgrade request, read
  /// along with it.
  void run(std::string early);

 private:
  static constexpr bool tls = std::is_same_v<Stream, tls_stream>;
  /// Plain TCP: the wire (the socket and its write queue). TLS: the TLS stream.
  using transport = std::conditional_t<tls, Stream, wire>;
  /// TLS only: bytes framed but not yet written, the write in flight, and the read buffer.
  struct tls_buffers {
    std::string out;
    std::string in_flight;
    std::array<char, 1024> read;
  };
  struct no_buffers {};

  void do_read();
  void on_readable(error_code ec);  // plain
  void read_now();                  // plain: reads what the socket holds
  void on_read(error_code ec, std::size_t bytes);  // TLS
  /// Hands bytes read to the frame reader and acts on every event in them.
  void handle_input(std::span<char> bytes);

  /// Holds this session's output until the loop's burst of input is over.
  void hold();
  void uncork() override;
  /// Writes pending frames unless a write is in flight, starts the close the logic asks for,
  /// moves a close along, and re-arms the timer. Runs once output is released and after
  /// every write and timeout.
  void pump();
  /// Writes frames until the logic has none or one has to wait for the socket.
  void write_frames();
  void send_control(unsigned opcode, std::string_view payload);
  /// Pongs now, or owes the latest ping's pong until the write in flight is done.
  void answer_ping(std::string_view payload);
  /// Waits until the queued output is written (plain) or writes the TLS bytes framed so far.
  void start_write();
  void on_write(error_code ec);
  /// Sends a close frame with `code` after everything queued; data stops here.
  void start_close(std::uint16_t code);
  /// Once the close frame is out: half-close (plain) or close_notify (TLS, once the peer's
  /// close has come); the session ends when the peer closes too or close_timeout passes.
  void end_output();
  void arm_timer();
  void on_timer(error_code ec);
  /// The transport is over: stop the timer and drop the socket (pending operations end).
  void finish();
  tcp::socket& socket();

  // What every delivery checks (hold(), uncork()) comes first, on the cache line of the
  // object's start, which the reference counts and the cork's vtable pointer share.
  cork& corks_;
  bool writing_ = false;   // a write waits for the socket
  bool held_ = false;      // in the cork
  bool closing_ = false;   // our close frame is queued: no data frames from here on
  bool finished_ = false;
  // Input or a timeout reached the logic since the timer was armed, so its deadline may have
  // moved. Output alone (a broadcast) never moves it: a fan-out skips the re-arm check.
  bool deadline_stale_ = true;
  bool output_ended_ = false;
  bool pong_owed_ = false;
  // Declared before the socket: given back only after the socket below has been closed.
  connection_slot slot_;
  shared_state& hub_;
  transport transport_;
  frame_reader reader_;
  net::steady_timer timer_;
  [[no_unique_address]] std::conditional_t<tls, tls_buffers, no_buffers> tls_;
  std::string owed_pong_;  // the latest ping's payload while a write is in flight
  proto::millis armed_ = proto::millis::max();
  // Declared last: destroyed first, while the socket still exists, so leaving rooms and
  // presence run before the connection object goes.
  session_logic logic_;
};

extern template class websocket_session<plain_stream>;
extern template class websocket_session<tls_stream>;

}  // namespace parley::server
