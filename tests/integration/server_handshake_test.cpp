// Handshake, authentication and heartbeat against a real parley-server process.
#include "server_fixture.hpp"

#include "jwt.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

using namespace std::chrono_literals;

/// Sends hello with `token` and checks the refusal: error `code`, then close `close`.
void expect_refused(const server_process& server, const std::string& token,
                    proto::error_code code, proto::close_code close) {
  wire_client client(server.port());
  proto::hello h;
  h.token = token;
  client.send(h);
  const auto error = client.expect<proto::error>();
  EXPECT_EQ(error.code, code) << error.message;
  const auto closed = client.wait_closed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(close));
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

server::jwt_claims valid_claims() {
  server::jwt_claims claims;
  claims.sub = "alice";
  claims.tid = "default";
  claims.exp = now_s() + 3600;
  return claims;
}

TEST(ServerHandshake, ValidTokenGetsWelcomeWithParams) {
  server_process server({"--heartbeat-ms", "12000", "--max-text", "4000"});
  wire_client client(server.port());
  const auto welcome = client.hello(token_for("alice", "acme"));
  EXPECT_EQ(welcome.version, proto::version_max);
  EXPECT_EQ(welcome.user, "alice");
  EXPECT_EQ(welcome.tenant, "acme");
  EXPECT_FALSE(welcome.session.empty());
  EXPECT_GT(welcome.server_time, 0u);
  EXPECT_EQ(welcome.params.heartbeat_ms, 12000u);
  EXPECT_EQ(welcome.params.max_text, 4000u);
  EXPECT_EQ(welcome.params.history_limit, 200u);
}

TEST(ServerHandshake, ExpiredTokenIsClosedWith4002) {
  server_process server;
  expect_refused(server, token_for("alice", "default", -60s), proto::error_code::token_expired,
                 proto::close_code::token_expired);
}

TEST(ServerHandshake, BadSignatureIsClosedWith4001) {
  server_process server;
  expect_refused(server, server::jwt_sign_hs256(valid_claims(), "not-the-secret"),
                 proto::error_code::unauthenticated, proto::close_code::auth_failed);
}

TEST(ServerHandshake, MissingClaimsAreClosedWith4001) {
  server_process server;
  auto no_tenant = valid_claims();
  no_tenant.tid.clear();
  expect_refused(server, server::jwt_sign_hs256(no_tenant, test_secret),
                 proto::error_code::unauthenticated, proto::close_code::auth_failed);
  auto no_user = valid_claims();
  no_user.sub.clear();
  expect_refused(server, server::jwt_sign_hs256(no_user, test_secret),
                 proto::error_code::unauthenticated, proto::close_code::auth_failed);
  auto no_expiry = valid_claims();
  no_expiry.exp = 0;  // not written at all: exp is required
  expect_refused(server, server::jwt_sign_hs256(no_expiry, test_secret),
                 proto::error_code::unauthenticated, proto::close_code::auth_failed);
}

TEST(ServerHandshake, AlgNoneIsClosedWith4001) {
  server_process server;
  // {"alg":"none","typ":"JWT"} with a valid payload and no signature.
  const std::string real = token_for("alice");
  const auto payload_start = real.find('.') + 1;
  const std::string payload = real.substr(payload_start, real.rfind('.') - payload_start);
  expect_refused(server, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + payload + ".",
                 proto::error_code::unauthenticated, proto::close_code::auth_failed);
  expect_refused(server, "not a token", proto::error_code::unauthenticated,
                 proto::close_code::auth_failed);
}

TEST(ServerHandshake, MessageBeforeHelloIsUnauthenticated) {
  server_process server;
  wire_client client(server.port());
  client.send(proto::join{7, "lobby", std::nullopt});
  const auto error = client.expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::unauthenticated);
  EXPECT_EQ(error.id, 7u);
  const auto closed = client.wait_closed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::auth_failed));
}

TEST(ServerHandshake, NoCommonVersionIsClosedWith4003) {
  server_process server;
  wire_client client(server.port());
  proto::hello h;
  h.min_version = 7;
  h.max_version = 9;
  h.token = token_for("alice");
  client.send(h);
  EXPECT_EQ(client.expect<proto::error>().code, proto::error_code::version_mismatch);
  const auto closed = client.wait_closed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::version_mismatch));
}

TEST(ServerHandshake, HeartbeatPingsAndClosesASilentPeerWith4005) {
  server_process server({"--heartbeat-ms", "200"});
  wire_client client(server.port(), {.keep_pings = true});
  client.hello(token_for("alice"));
  const auto ping = client.expect<proto::ping>(2s);
  // Answering keeps the session alive across several dead-peer intervals (500 ms each).
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  client.send(proto::pong{ping.nonce});
  while (std::chrono::steady_clock::now() < until) {
    if (auto next = client.next(300ms)) {
      if (const auto* p = std::get_if<proto::ping>(&*next)) client.send(proto::pong{p->nonce});
    }
  }
  EXPECT_FALSE(client.wait_closed(0ms).has_value());
  // Then silence: the server closes with 4005 after dead_peer_after(200 ms).
  const auto closed = client.wait_closed(3s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::heartbeat_timeout));
}

TEST(ServerHandshake, RefreshAcceptsOnlyTheSameUsersToken) {
  server_process server;
  auto client = signed_in(server, "alice");
  client->send(proto::refresh{3, token_for("alice", "default", 2h)});
  EXPECT_EQ(client->expect<proto::ok>().id, 3u);
  client->send(proto::refresh{4, token_for("mallory")});
  const auto error = client->expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::forbidden);
  EXPECT_EQ(error.id, 4u);
}

}  // namespace
}  // namespace parley::test
