// What survives the process: kill -9 and restart on the same port keeps history, seqs and
// dedup; SIGTERM closes sessions with 1001 and exits 0.
#include "server_fixture.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

TEST(ServerDurability, KillNineAndRestartKeepHistorySeqsAndDedup) {
  server_process server;
  proto::joined before;
  std::vector<proto::ack> acks;
  {
    auto alice = signed_in(server, "alice");
    before = join_room(*alice, "lobby");
    for (int i = 1; i <= 3; ++i) {
      acks.push_back(post(*alice, "lobby", "cid-" + std::to_string(i), "msg " + std::to_string(i)));
    }
    server.kill_hard();
  }
  EXPECT_EQ(server.exit_status(), 128 + 9);
  const auto port = server.port();
  server.restart();
  EXPECT_EQ(server.port(), port);

  auto alice = signed_in(server, "alice");
  const auto after = join_room(*alice, "lobby", proto::resume_point{before.epoch, 1});
  EXPECT_EQ(after.epoch, before.epoch);
  EXPECT_EQ(after.head, 3u);
  EXPECT_TRUE(after.resumed);
  EXPECT_EQ(next_event(*alice).text, "msg 2");
  EXPECT_EQ(next_event(*alice).text, "msg 3");

  // The outbox resend after a crash: same cid, original seq and ts, nothing new stored.
  const auto resent = post(*alice, "lobby", "cid-2", "msg 2");
  EXPECT_TRUE(resent.duplicate);
  EXPECT_EQ(resent.seq, acks[1].seq);
  EXPECT_EQ(resent.ts, acks[1].ts);
  EXPECT_EQ(post(*alice, "lobby", "cid-4", "msg 4").seq, 4u);
  alice->send(proto::history{2, "lobby", std::nullopt, std::nullopt, 10});
  const auto page = alice->expect<proto::history_page>();
  ASSERT_EQ(page.events.size(), 4u);
  for (std::size_t i = 0; i < page.events.size(); ++i) EXPECT_EQ(page.events[i].seq, i + 1);
}

TEST(ServerDurability, SigtermClosesSessionsWith1001AndExitsZero) {
  server_process server;
  auto alice = signed_in(server, "alice");
  auto bob = signed_in(server, "bob");
  join_room(*alice, "lobby");
  server.terminate();
  EXPECT_EQ(server.exit_status(), 0) << server.log_text();
  for (auto* client : {alice.get(), bob.get()}) {
    const auto closed = client->wait_closed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::going_away));
  }
}

}  // namespace
}  // namespace parley::test
