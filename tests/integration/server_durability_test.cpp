// What survives the process: kill -9 and restart on the same port keeps history, seqs and
// dedup; SIGTERM closes sessions with 1001, stops accepting, keeps what it acked and exits 0.
#include "server_fixture.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <optional>

namespace parley::test {
namespace {

using namespace std::chrono_literals;

// A new TCP connection to 127.0.0.1:<port> is refused (nothing listens there any more).
testing::AssertionResult connection_refused(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return testing::AssertionFailure() << "socket: " << std::strerror(errno);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // On loopback a connect to a closed port fails at once with ECONNREFUSED; no timeout needed.
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address);
  const int error = errno;
  ::close(fd);
  if (rc == 0) return testing::AssertionFailure() << "the server accepted a new connection";
  if (error != ECONNREFUSED) {
    return testing::AssertionFailure() << "connect failed otherwise: " << std::strerror(error);
  }
  return testing::AssertionSuccess();
}

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

TEST(ServerDurability, SigtermStopsAcceptingAtOnceAndKeepsEveryAckedMessage) {
  server_process server({"--rate-per-sec", "5000", "--rate-burst", "5000"});
  // A peer that reads the server's close frame but holds back its answer keeps one session
  // closing (for up to the server's 5 s close timeout): the window in which to probe.
  std::optional<raw_socket> laggard(std::in_place, server.port());
  ASSERT_TRUE(laggard->upgrade());
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  std::map<std::string, proto::ack> acked;  // by cid
  for (int i = 1; i <= 3; ++i) {
    const auto cid = "before-" + std::to_string(i);
    acked[cid] = post(*alice, "lobby", cid, "text of " + cid);
  }
  const auto record = [&acked](const proto::message& message) {
    if (auto* ack = std::get_if<proto::ack>(&message)) acked[ack->cid] = *ack;
  };
  // More sends, one frame each, still arriving as the signal lands (the first is acked before
  // it): whichever of them the server acks must survive.
  for (int i = 1; i <= 50; ++i) {
    const auto cid = "burst-" + std::to_string(i);
    alice->send(proto::send{"lobby", cid, "text of " + cid});
  }
  while (!acked.contains("burst-1")) {
    const auto message = alice->next(10s);
    ASSERT_TRUE(message.has_value()) << "no ack for the first send of the burst";
    record(*message);
  }
  ASSERT_EQ(::kill(server.pid(), SIGTERM), 0);

  // Shutdown has begun once the laggard holds its close frame: no new connection gets in,
  // although the process is still running (waiting for the laggard).
  EXPECT_EQ(laggard->read_close_code(10s),
            std::optional<std::uint16_t>(static_cast<std::uint16_t>(proto::close_code::going_away)));
  EXPECT_TRUE(connection_refused(server.port()));
  EXPECT_FALSE(server.wait_exit(0ms)) << "the server exited before the refusal was probed";

  // Everything queued for alice before her close arrives, then the close itself.
  while (auto message = alice->next(10s)) record(*message);
  const auto closed = alice->wait_closed(10s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::going_away));

  // The laggard answers the close and, once the server has shut its side, closes its own; with
  // no session left the server exits by itself, and cleanly.
  ASSERT_TRUE(laggard->send_frame(8, std::string("\x03\xe8", 2)));
  laggard->read_until_closed(10s);
  EXPECT_TRUE(laggard->closed());
  laggard.reset();
  ASSERT_TRUE(server.wait_exit(15s)) << server.log_text();
  EXPECT_EQ(server.exit_status(), 0) << server.log_text();
  EXPECT_TRUE(connection_refused(server.port()));

  server.restart();
  auto bob = signed_in(server, "bob");
  const auto joined = join_room(*bob, "lobby");
  EXPECT_GE(joined.head, acked.size());
  bob->send(proto::history{2, "lobby", std::nullopt, std::nullopt, 100});
  const auto page = bob->expect<proto::history_page>();
  EXPECT_EQ(page.events.size(), joined.head);
  std::map<std::string, proto::room_event> stored;  // by cid
  for (std::size_t i = 0; i < page.events.size(); ++i) {
    EXPECT_EQ(page.events[i].seq, i + 1);
    stored[page.events[i].cid] = page.events[i];
  }
  for (const auto& [cid, ack] : acked) {
    const auto found = stored.find(cid);
    ASSERT_NE(found, stored.end()) << cid << " was acked (seq " << ack.seq << ") but is gone";
    EXPECT_EQ(found->second.seq, ack.seq) << cid;
    EXPECT_EQ(found->second.ts, ack.ts) << cid;
    EXPECT_EQ(found->second.text, "text of " + cid);
  }
}

}  // namespace
}  // namespace parley::test
