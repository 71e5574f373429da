// Token lifetime through the native SDK against the real server: set_token() on a live
// connection refreshes it in-protocol, so the session outlives its first token; a session whose
// token runs out is closed, and the client reports why instead of reconnecting in a loop.
#include "client_recorder.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using client::connection_state;

/// Token lifetimes are whole seconds: a 3 s token minted now expires 2 to 3 s from now.
constexpr auto short_ttl = 3s;

bool failed_with(const client_log& log, proto::error_code reason) {
  return !log.states.empty() && log.states.back().state == connection_state::failed &&
         log.states.back().reason == reason;
}

TEST(ClientToken, RefreshOnALiveConnectionOutlivesTheFirstToken) {
  server_process server;
  const auto minted = std::chrono::steady_clock::now();
  recorded_client alice(fast_options(server.ws_url(), token_for("alice", "default", short_ttl)));
  ASSERT_TRUE(alice.start_in("general"));
  const auto states_when_joined = alice.log().states.size();

  alice.chat().set_token(token_for("alice", "default", 1h));
  ASSERT_TRUE(alice.wait_until([](const client_log& l) { return !l.done.empty(); }))
      << "the refresh was not confirmed";

  // Past the first token's expiry (with a second of slack for the server's timer).
  std::this_thread::sleep_until(minted + short_ttl + 1s);
  auto pending = alice.chat().send("general", "still here");
  ASSERT_EQ(pending.acked.wait_for(default_wait), std::future_status::ready);
  EXPECT_EQ(pending.acked.get().cid, pending.cid);
  const auto log = alice.log();
  // One connection throughout: no state change since the join, no dropped transport.
  EXPECT_EQ(log.states.size(), states_when_joined);
  EXPECT_TRUE(log.ready());
  EXPECT_TRUE(log.transport_errors.empty());
  EXPECT_EQ(log.joins_of("general"), 1u);
}

TEST(ClientToken, AnExpiredSessionIsClosedAndReportedAsTokenExpired) {
  server_process server;
  recorded_client bob(fast_options(server.ws_url(), token_for("bob", "default", short_ttl)));
  ASSERT_TRUE(bob.start_in("general"));

  ASSERT_TRUE(bob.wait_until(
      [](const client_log& l) { return failed_with(l, proto::error_code::token_expired); }))
      << "the session outlived its token";
  // Failed is final until the app brings a new token: no reconnect attempts meanwhile.
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(failed_with(bob.log(), proto::error_code::token_expired));

  // A sent message waits in the outbox and goes out once the app sets a token and restarts.
  auto pending = bob.chat().send("general", "after a new token");
  bob.chat().set_token(token_for("bob", "default", 1h));
  bob.chat().start();
  ASSERT_EQ(pending.acked.wait_for(default_wait), std::future_status::ready);
  EXPECT_EQ(pending.acked.get().cid, pending.cid);
}

}  // namespace
}  // namespace parley::test
