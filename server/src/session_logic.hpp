// The server side of the protocol for one connection, sans-I/O: decoded frames and the time go
// in, encoded frames, a close code and the next deadline come out. Every rule of a session
// lives here (handshake, auth, rooms, sends, history, typing, presence, heartbeat, rate limit),
// in the spirit of h11: one place for every transition, an illegal input is answered with a
// typed error, never ignored. It holds no socket and reads no clock, so tests and fuzzers drive
// it in-process with a shared_state over an in-memory store.
//
// Driver loop (websocket_session is the real one):
//   session_logic s(hub, now);               // attaches to the hub
//   s.on_output([&] { pump(); });            // broadcasts from other sessions arrive any time
//   on every frame:   s.handle_frame(bytes, now); pump();
//   on the timer:     s.handle_timeout(now); pump();
//   pump():  while (frame = s.poll_transmit(), !frame.empty()) {
//              write (or copy) frame as one WebSocket frame; s.transmitted(frame);
//            }  (one write in flight: stop while the socket is full)
//            if (auto code = s.poll_close()) close the WebSocket with code;
//            arm the timer for s.poll_timeout().
#pragma once

#include "instant.hpp"
#include "keys.hpp"
#include "outbound_queue.hpp"
#include "shared_state.hpp"

#include "parley/protocol/codec.hpp"
#include "parley/protocol/messages.hpp"
#include "parley/protocol/rules.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace parley::server {

/// One client connection's protocol state.
class session_logic {
 public:
  /// Attaches to `hub`; the hello deadline starts at `now`.
  session_logic(shared_state& hub, instant now);
  /// Leaves every room and detaches from the hub.
  ~session_logic();
  session_logic(const session_logic&) = delete;
  session_logic& operator=(const session_logic&) = delete;

  // ---- inputs ----
  /// One WebSocket message from the client (one or more protocol messages).
  void handle_frame(std::string_view frame, instant now);
  /// Deadlines: hello timeout, heartbeat ping, dead peer, token expiry. Early calls do nothing.
  void handle_timeout(instant now);
  /// The transport ended; the time is recorded for presence (see the destructor).
  void handle_transport_closed(instant now) { closed_at_ = now; }

  // ---- commands (from the hub) ----
  /// Queues an encoded broadcast. Overflowing the queue closes the session (slow consumer).
  void deliver(const shared_buffer& message, bool droppable);
  /// Closes the session with `code` once pending output is written (server shutdown).
  void shutdown(proto::close_code code);

  // ---- outputs ----
  /// The next frame's messages (pending messages coalesced, oldest first), viewed in place;
  /// empty when nothing is pending. Valid until the next call on this session.
  frame_view poll_transmit() const { return queue_.next_frame(); }
  /// The frame poll_transmit() returned has been written or copied: it leaves the queue.
  void transmitted(const frame_view& frame);
  /// The close code once the session must close and all output has been taken.
  std::optional<proto::close_code> poll_close() const;
  /// The next deadline for handle_timeout, or millis::max().
  proto::millis poll_timeout() const;
  /// Registers the callback run when output appears outside this session's own inputs
  /// (a broadcast from another session, a shutdown).
  void on_output(std::function<void()> wake) { wake_ = std::move(wake); }

  // ---- getters ----
  /// Server-chosen id, for welcome and logs.
  const std::string& id() const { return id_; }
  bool authenticated() const { return authenticated_; }
  /// Tenant and user; empty before hello.
  const user_key& user() const { return user_; }
  /// Rooms (of the session's tenant) the session has joined.
  const std::set<std::string>& rooms() const { return rooms_; }
  /// When the transport ended (or the session was created, if it never did).
  instant closed_at() const { return closed_at_; }

 private:
  /// Request id, room and client id of a message, for errors that answer it.
  struct request_context {
    std::uint32_t id = 0;
    std::string room;
    std::string cid;
  };

  void dispatch(const proto::message& message, instant now);
  /// Takes a rate-limit token; without one, answers rate_limited and returns false.
  bool admit(const request_context& context, instant now);
  void on(const proto::hello& m, instant now);
  void on(const proto::join& m, instant now);
  void on(const proto::leave& m, instant now);
  void on(const proto::list_rooms& m, instant now);
  void on(const proto::send& m, instant now);
  void on(const proto::history& m, instant now);
  void on(const proto::typing& m, instant now);
  void on(const proto::set_presence& m, instant now);
  void on(const proto::ping& m, instant now);
  void on(const proto::pong& m, instant now);
  void on(const proto::refresh& m, instant now);
  void on(const proto::create_room& m, instant now);
  void on(const proto::add_member& m, instant now);
  /// Messages only a server sends, and unknown types: `unsupported`.
  template <class Message>
  void on(const Message& m, instant now);

  /// Joins the room: membership, subscription, `joined`, then the replay if resumable.
  void enter_room(const proto::join& m, const room_key& key, const room_record& room);
  /// Events to replay for a resume request, or nullopt when the room cannot be resumed.
  std::optional<std::vector<proto::room_event>> replay_for(const proto::join& m,
                                                           const room_key& key,
                                                           const room_record& room);
  /// Sets the token's expiry deadline; false (and answers) if the token is refused.
  bool accept_token(std::string_view token, std::uint32_t id, instant now, bool on_hello);

  void reply(const proto::message& message);
  void reply_error(const request_context& to, proto::error_code code, std::string text,
                   std::uint32_t retry_ms = 0);
  void close(proto::close_code code, std::string_view reason);
  room_key key(const std::string& room) const { return {user_.tenant, room}; }

  shared_state& hub_;
  // What every delivery reads and writes (deliver, poll_transmit, transmitted) comes first and
  // together: a broadcast to 1,000 sessions touches a few adjacent cache lines of each, not
  // lines spread over the object.
  outbound_queue queue_;
  std::function<void()> wake_;
  std::optional<proto::close_code> closing_;
  bool in_input_ = false;  // inside handle_*: the driver pumps afterwards, no wake needed
  bool authenticated_ = false;
  proto::token_bucket bucket_;
  std::string id_;
  user_key user_;
  std::set<std::string> rooms_;
  proto::millis hello_deadline_;
  proto::millis last_heard_;
  proto::millis next_ping_ = proto::millis::max();
  proto::millis token_deadline_ = proto::millis::max();
  std::uint64_t ping_nonce_ = 0;
  instant closed_at_;
};

}  // namespace parley::server
