// Connection lifecycle: handshake, backoff, timeouts, heartbeats, auth failure, violations.
#include "engine_test_support.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

using client::connection_state;

// Delay chosen for every backing_off the app saw (retry_at minus the time of the drop).
std::vector<millis> backoff_delays(const bench& b) {
  std::vector<millis> out;
  for (const auto& [at, s] : b.states)
    if (s.state == connection_state::backing_off) out.push_back(s.retry_at - at);
  return out;
}

std::vector<connection_state> state_sequence(const bench& b) {
  std::vector<connection_state> out;
  for (const auto& [at, s] : b.states) out.push_back(s.state);
  return out;
}

// A server that refuses every connection for `d`, seen from an engine seeded with `seed`.
std::vector<millis> delays_while_unreachable(std::uint64_t seed, millis d) {
  bench b(default_config(seed));
  b.server.accept_connections = false;
  b.engine.start(b.now);
  b.advance(d);
  return backoff_delays(b);
}

TEST(Connection, HandshakeReachesReady) {
  bench b;
  b.server.params.heartbeat_ms = 20000;
  b.connect();
  EXPECT_EQ(state_sequence(b), (std::vector{connection_state::connecting,
                                             connection_state::handshaking,
                                             connection_state::ready}));
  const auto hellos = b.server.received_of<proto::hello>();
  ASSERT_EQ(hellos.size(), 1u);
  EXPECT_EQ(hellos[0].token, "alice");
  EXPECT_EQ(hellos[0].min_version, proto::version_min);
  EXPECT_EQ(b.engine.user(), "alice");
  EXPECT_EQ(b.engine.params().heartbeat_ms, 20000u);
}

TEST(Connection, BackoffDelaysStayUnderTheGrowingCeiling) {
  const auto cfg = default_config(7);
  const auto delays = delays_while_unreachable(7, 5min);
  ASSERT_GE(delays.size(), 10u);
  // The engine draws exactly policy.delay(attempt++, rng) from a source seeded by the config.
  proto::random_source replica(cfg.seed);
  for (std::uint32_t attempt = 0; attempt < delays.size(); ++attempt) {
    EXPECT_GE(delays[attempt].count(), 0);
    EXPECT_LE(delays[attempt], cfg.backoff.ceiling(attempt)) << "attempt " << attempt;
    EXPECT_EQ(delays[attempt], cfg.backoff.delay(attempt, replica)) << "attempt " << attempt;
  }
}

TEST(Connection, BackoffIsDeterministicForTheSeed) {
  EXPECT_EQ(delays_while_unreachable(11, 2min), delays_while_unreachable(11, 2min));
  EXPECT_NE(delays_while_unreachable(11, 2min), delays_while_unreachable(12, 2min));
}

TEST(Connection, ReconnectsAtRetryTimeAndResetsBackoffAfterReady) {
  bench b;
  b.server.accept_connections = false;
  b.engine.start(b.now);
  b.advance(20s);
  const auto failures = backoff_delays(b).size();
  ASSERT_GE(failures, 4u);
  EXPECT_EQ(b.server.opens, static_cast<int>(failures));

  b.server.accept_connections = true;
  b.advance(60s);
  ASSERT_EQ(b.engine.state(), connection_state::ready);
  b.states.clear();
  b.drop();
  const auto after_ready = backoff_delays(b);
  ASSERT_EQ(after_ready.size(), 1u);
  EXPECT_LE(after_ready[0], default_config().backoff.ceiling(0));
  const auto retry_at = b.states.back().second.retry_at;
  b.advance(retry_at - b.now);
  EXPECT_EQ(b.engine.state(), connection_state::ready);
}

TEST(Connection, ConnectTimeoutClosesAndBacksOff) {
  bench b;
  b.server.answer_hello = false;
  b.engine.start(b.now);
  b.drive();
  EXPECT_EQ(b.engine.state(), connection_state::handshaking);
  b.advance(default_config().connect_timeout - 1ms);
  EXPECT_EQ(b.engine.state(), connection_state::handshaking);
  b.advance(1ms);
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4005}));
  EXPECT_EQ(b.engine.state(), connection_state::backing_off);
}

TEST(Connection, SilentServerIsDeclaredDead) {
  bench b;
  b.connect();
  b.server.silent = true;
  const auto dead_after = proto::dead_peer_after(millis{b.engine.params().heartbeat_ms});
  b.advance(dead_after - 1ms);
  EXPECT_EQ(b.engine.state(), connection_state::ready);
  b.advance(1ms);
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4005}));
  EXPECT_EQ(b.engine.state(), connection_state::backing_off);
}

TEST(Connection, ServerPingsKeepTheSessionAliveAndAreAnswered) {
  bench b;
  b.connect();
  b.advance(10min);
  EXPECT_EQ(b.engine.state(), connection_state::ready);
  EXPECT_TRUE(b.server.closes.empty());
  const auto pongs = b.server.received_of<proto::pong>();
  ASSERT_EQ(pongs.size(), 40u);  // one per 15 s heartbeat
  EXPECT_EQ(pongs.back().nonce, 40u);
}

TEST(Connection, PingIsAnsweredImmediately) {
  bench b;
  b.server.pings = false;
  b.connect();
  b.server.push(proto::ping{99});
  b.drive();
  const auto pongs = b.server.received_of<proto::pong>();
  ASSERT_EQ(pongs.size(), 1u);
  EXPECT_EQ(pongs[0].nonce, 99u);
}

TEST(Connection, AuthFailureFailsWithoutReconnecting) {
  bench b;
  b.server.refuse_hello = proto::error_code::unauthenticated;
  b.engine.start(b.now);
  b.advance(10min);
  EXPECT_EQ(b.engine.state(), connection_state::failed);
  EXPECT_EQ(b.server.opens, 1);
  EXPECT_EQ(b.states.back().second.reason, proto::error_code::unauthenticated);
  EXPECT_EQ(b.engine.poll_timeout(), std::nullopt);

  // A new token and an explicit start recover.
  b.server.refuse_hello.reset();
  b.engine.set_token("alice", b.now);
  b.connect();
}

TEST(Connection, ExpiredTokenOnALiveSessionFails) {
  bench b;
  b.connect();
  b.server.push(proto::error{0, proto::error_code::token_expired, "expired", {}, {}, 0, 0});
  b.advance(5min);
  EXPECT_EQ(b.engine.state(), connection_state::failed);
  EXPECT_EQ(b.server.opens, 1);
}

TEST(Connection, VersionOutsideOurRangeFails) {
  bench b;
  b.server.welcome_version = proto::version_max + 1;
  b.engine.start(b.now);
  b.advance(1min);
  EXPECT_EQ(b.engine.state(), connection_state::failed);
  EXPECT_EQ(b.states.back().second.reason, proto::error_code::version_mismatch);
}

TEST(Connection, TransientHandshakeErrorRetries) {
  bench b;
  b.server.refuse_hello = proto::error_code::internal;
  b.engine.start(b.now);
  b.drive();
  EXPECT_EQ(b.engine.state(), connection_state::backing_off);
  b.server.refuse_hello.reset();
  b.advance(1s);
  EXPECT_EQ(b.engine.state(), connection_state::ready);
}

TEST(Connection, MessageBeforeWelcomeIsAProtocolViolation) {
  bench b;
  b.server.answer_hello = false;
  b.engine.start(b.now);
  b.drive();
  b.server.push(proto::ping{1});
  b.drive();
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4004}));
  EXPECT_EQ(b.engine.state(), connection_state::backing_off);
}

TEST(Connection, JoinedForARoomNeverJoinedIsAProtocolViolation) {
  bench b;
  b.connect();
  b.server.push(proto::joined{1, "nowhere", 1, 0, false, {}});
  b.drive();
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4004}));
  EXPECT_EQ(b.engine.state(), connection_state::backing_off);
  b.advance(1s);
  EXPECT_EQ(b.engine.state(), connection_state::ready);  // and it comes back
}

TEST(Connection, UndecodableFrameIsAProtocolViolation) {
  bench b;
  b.connect();
  b.server.to_client().push_back(std::string("\xc1\xc1", 2));
  b.drive();
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4004}));
}

TEST(Connection, StopClosesAndStaysIdle) {
  bench b;
  b.connect();
  b.engine.stop(b.now);
  b.advance(5min);
  EXPECT_EQ(b.engine.state(), connection_state::idle);
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{1000}));
  EXPECT_EQ(b.server.opens, 1);
}

TEST(Connection, TokenRefreshedInProtocolWhenReady) {
  bench b;
  b.connect();
  b.engine.set_token("alice-2", b.now);
  b.drive();
  const auto refreshes = b.server.received_of<proto::refresh>();
  ASSERT_EQ(refreshes.size(), 1u);
  EXPECT_EQ(refreshes[0].token, "alice-2");
  EXPECT_EQ(b.events_of<client::request_done>().size(), 1u);
}

}  // namespace
}  // namespace parley::test
