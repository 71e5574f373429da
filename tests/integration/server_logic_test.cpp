// The server's protocol logic in-process, with no sockets and no clocks: two session_logic
// objects over an in-memory store, driven with explicit times. This is the seam fuzzers use.
#include "jwt.hpp"
#include "room_index.hpp"
#include "server_process.hpp"
#include "session_logic.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using server::instant;

/// The hello deadline of the default options.
constexpr proto::millis hello_timeout{server::server_options{}.hello_timeout_ms};

/// Everything a session would have written, decoded; `frames` counts the frames.
struct drained {
  std::vector<proto::message> messages;
  std::size_t frames = 0;
};

drained drain(server::session_logic& session) {
  drained out;
  for (auto frame = session.poll_transmit(); !frame.empty(); frame = session.poll_transmit()) {
    ++out.frames;
    auto decoded = proto::decode_frame(frame.joined());
    session.transmitted(frame);
    EXPECT_TRUE(decoded) << "server frame does not decode";
    for (auto& m : decoded.messages) out.messages.push_back(std::move(m));
  }
  return out;
}

/// Default options, with the key test tokens are signed with (the hub reads keys once).
server::server_options with_test_secret() {
  server::server_options options;
  options.jwt_secret = test_secret;
  return options;
}

class ServerLogic : public ::testing::Test {
 protected:
  /// Monotonic `mono`, with the wall clock moving in step from the real time at the start
  /// (tokens are signed against the real clock).
  instant at(proto::millis mono) const {
    return {mono, wall_start_ + static_cast<std::uint64_t>(mono.count())};
  }

  void hello(server::session_logic& session, const std::string& user) {
    proto::hello h;
    h.token = token_for(user);
    session.handle_frame(proto::encode(h), at(0ms));
    const auto out = drain(session);
    ASSERT_EQ(out.messages.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<proto::welcome>(out.messages[0]));
  }

  const std::uint64_t wall_start_ = server::read_clocks().wall_ms;
  server::server_options options_ = with_test_secret();
  server::metrics stats_;
  server::store db_{":memory:", stats_};
  server::shared_state hub_{options_, db_, stats_, 42};
};

TEST_F(ServerLogic, SendCoalescesAckAndEventIntoOneFrameAndWakesOthers) {
  server::session_logic alice(hub_, at(0ms));
  server::session_logic bob(hub_, at(0ms));
  int bob_wakes = 0;
  bob.on_output([&] { ++bob_wakes; });
  hello(alice, "alice");
  hello(bob, "bob");
  alice.handle_frame(proto::encode(proto::join{1, "lobby", std::nullopt}), at(1ms));
  bob.handle_frame(proto::encode(proto::join{1, "lobby", std::nullopt}), at(1ms));
  drain(alice);
  drain(bob);

  alice.handle_frame(proto::encode(proto::send{"lobby", "c1", "hi"}), at(2ms));
  const auto mine = drain(alice);
  EXPECT_EQ(mine.frames, 1u);  // ack + own event batched in one frame
  ASSERT_EQ(mine.messages.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<proto::ack>(mine.messages[0]));
  EXPECT_EQ(std::get<proto::event>(mine.messages[1]).ev.seq, 1u);
  EXPECT_EQ(bob_wakes, 1);  // the broadcast came from outside bob's own input
  const auto theirs = drain(bob);
  ASSERT_EQ(theirs.messages.size(), 1u);
  EXPECT_EQ(std::get<proto::event>(theirs.messages[0]).ev.text, "hi");
  EXPECT_EQ(hub_.room_count(), 1u);
}

TEST_F(ServerLogic, HeartbeatAndDeadPeerFollowTheVirtualClock) {
  options_.heartbeat_ms = 1000;
  server::session_logic session(hub_, at(0ms));
  EXPECT_EQ(session.poll_timeout(), hello_timeout);
  hello(session, "alice");
  EXPECT_EQ(session.poll_timeout(), 1000ms);
  session.handle_timeout(at(999ms));  // early: nothing
  EXPECT_TRUE(drain(session).messages.empty());
  session.handle_timeout(at(1000ms));
  const auto out = drain(session);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<proto::ping>(out.messages[0]));
  EXPECT_FALSE(session.poll_close().has_value());
  session.handle_timeout(at(proto::dead_peer_after(1000ms)));
  EXPECT_EQ(session.poll_close(), proto::close_code::heartbeat_timeout);
}

TEST_F(ServerLogic, NoHelloWithinTheHandshakeTimeoutIsAProtocolViolation) {
  server::session_logic session(hub_, at(0ms));
  session.handle_timeout(at(hello_timeout - 1ms));
  EXPECT_FALSE(session.poll_close().has_value());
  session.handle_timeout(at(hello_timeout));
  EXPECT_EQ(session.poll_close(), proto::close_code::protocol_violation);
}

TEST_F(ServerLogic, ATokenExpiringMidSessionClosesWith4002) {
  server::session_logic session(hub_, at(0ms));
  proto::hello h;
  h.token = token_for("alice", "default", std::chrono::seconds(30));
  session.handle_frame(proto::encode(h), at(0ms));
  drain(session);
  EXPECT_LE(session.poll_timeout(), 30000ms);
  session.handle_timeout(at(31000ms));
  const auto out = drain(session);
  ASSERT_EQ(out.messages.size(), 1u);
  EXPECT_EQ(std::get<proto::error>(out.messages[0]).code, proto::error_code::token_expired);
  EXPECT_EQ(session.poll_close(), proto::close_code::token_expired);
}

TEST(ServerRoomIndex, MembersAreAddedOnceAndEmptyRoomsDropped) {
  server::room_index<int> index;
  int a = 0, b = 0;
  const server::room_key lobby{"t1", "lobby"};
  EXPECT_TRUE(index.add(lobby, &a));
  EXPECT_FALSE(index.add(lobby, &a));
  EXPECT_TRUE(index.add(lobby, &b));
  EXPECT_TRUE(index.members({"t2", "lobby"}).empty());  // another tenant's room of that name
  EXPECT_EQ(index.members(lobby).size(), 2u);
  EXPECT_TRUE(index.remove(lobby, &a));
  EXPECT_FALSE(index.remove(lobby, &a));
  EXPECT_EQ(index.room_count(), 1u);
  EXPECT_TRUE(index.remove(lobby, &b));
  EXPECT_EQ(index.room_count(), 0u);
}

// Found by fuzz_jwt: the signature's last base64url character has unused bits, so three other
// spellings of a valid token decoded to the same signature and verified too.
TEST(ServerJwt, OnlyTheExactSignedTokenVerifies) {
  const std::string secret = "s3cret";
  const std::string token = server::jwt_sign_hs256({"alice", "acme", 2'000'000'000, 0, 0}, secret);
  ASSERT_TRUE(server::jwt_verify_hs256(token, secret, 1'700'000'000).claims);
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (char c : alphabet) {
    if (c == token.back()) continue;
    std::string respelled = token;
    respelled.back() = c;
    EXPECT_FALSE(server::jwt_verify_hs256(respelled, secret, 1'700'000'000).claims) << respelled;
  }
}

}  // namespace
}  // namespace parley::test
