// Bounds: bad frames, oversize frames, rate limits and slow consumers, each hitting one client
// while the server keeps serving the others.
#include "server_fixture.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

using namespace std::chrono_literals;

TEST(ServerLimits, BadFramesGetTypedErrorsAndTheServerKeepsServing) {
  server_process server;
  auto alice = signed_in(server, "alice");
  auto bob = signed_in(server, "bob");
  join_room(*alice, "lobby");
  join_room(*bob, "lobby");

  alice->send_raw("\xc1 this is not msgpack");
  EXPECT_EQ(alice->expect<proto::error>().code, proto::error_code::malformed);

  alice->send_raw("\x92\x63\x80");  // [99, {}]: well-formed, unknown type
  auto error = alice->expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::unsupported);
  EXPECT_EQ(error.type, 99u);

  alice->send(proto::ack{"lobby", "x", 1, 1, 1, false});  // a server-only type
  error = alice->expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::unsupported);
  EXPECT_EQ(error.type, static_cast<std::uint32_t>(proto::msg_type::ack));

  alice->send(proto::send{"lobby", "bad-utf8", "caf\xc3"});
  EXPECT_EQ(alice->expect<proto::error>().code, proto::error_code::invalid_utf8);

  // Still connected and working, and bob never saw any of it.
  const auto ack = post(*alice, "lobby", "good", "fine");
  EXPECT_EQ(ack.seq, 1u);
  EXPECT_EQ(next_event(*bob).text, "fine");
  expect_nothing_pending(*bob);
}

TEST(ServerLimits, OversizeFrameIsClosedWith1009) {
  server_process server({"--max-frame", "2048", "--max-text", "1000"});
  auto alice = signed_in(server, "alice");
  auto bob = signed_in(server, "bob");
  alice->send_raw(std::string(4096, 'x'));
  const auto closed = alice->wait_closed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1009);
  expect_nothing_pending(*bob);
}

TEST(ServerLimits, FlooderIsRateLimitedWhileOthersAreNot) {
  // One token per second: the burst below is over long before a second token could refill.
  server_process server({"--rate-per-sec", "1", "--rate-burst", "5"});
  auto flooder = signed_in(server, "flooder");  // hello took one token
  auto calm = signed_in(server, "calm");
  std::vector<proto::message> burst;
  for (std::uint64_t i = 0; i < 20; ++i) burst.push_back(proto::ping{i});
  flooder->send_batch(burst);
  int pongs = 0, limited = 0;
  for (int i = 0; i < 20; ++i) {
    const auto reply = flooder->next();
    ASSERT_TRUE(reply.has_value());
    if (std::holds_alternative<proto::pong>(*reply)) ++pongs;
    if (const auto* e = std::get_if<proto::error>(&*reply)) {
      EXPECT_EQ(e->code, proto::error_code::rate_limited);
      EXPECT_GT(e->retry_ms, 0u);
      ++limited;
    }
  }
  // Four tokens were left after hello (five if a second passed since).
  EXPECT_GE(pongs, 4);
  EXPECT_LE(pongs, 5);
  EXPECT_EQ(pongs + limited, 20);
  join_room(*calm, "lobby");
  EXPECT_EQ(post(*calm, "lobby", "c1", "unaffected").seq, 1u);
  EXPECT_EQ(metric(server, "parley_errors_total{code=\"rate_limited\"}").value_or(-1), limited);
}

TEST(ServerLimits, SlowReaderIsClosedAtItsBoundWhileOthersKeepReceiving) {
  server_process server({"--send-queue-bytes", "131072", "--rate-per-sec", "100000",
                         "--rate-burst", "100000"});
  // A stalled consumer: tiny receive window and no reads at all.
  wire_client stalled(server.port(), {.receive_buffer = 4096, .read = false});
  stalled.send(proto::hello{proto::version_min, proto::version_max, token_for("stalled"), ""});
  stalled.send(proto::join{1, "firehose", std::nullopt});
  auto reader = signed_in(server, "reader");
  auto writer = signed_in(server, "writer");
  join_room(*reader, "firehose");
  join_room(*writer, "firehose");
  ASSERT_TRUE(wait_until([&] { return metric(server, "parley_rooms") == 1.0; }));

  // Enough 8000-byte messages to fill the kernel buffers (a few MB on loopback) and then the
  // 128 KiB queue. Stop as soon as the server reports the slow consumer.
  const std::uint64_t sent = flood_until_cut(server, *writer, "firehose", 1);
  ASSERT_GE(metric(server, "parley_errors_total{code=\"slow_consumer\"}").value_or(0), 1)
      << "sent " << sent << " messages without a slow-consumer close";

  // The reader got every event in order, including ones after the stalled client was cut.
  const auto last = post(*writer, "firehose", "after", "still flowing");
  std::uint64_t expected = 1;
  while (expected <= last.seq) {
    const auto ev = next_event(*reader);
    ASSERT_EQ(ev.seq, expected);
    ++expected;
  }
  // The stalled client's connection is gone (closed 4008, or dropped after the close timeout).
  stalled.resume_reading();
  const auto closed = stalled.wait_closed(10s);
  ASSERT_TRUE(closed.has_value());
  if (closed->code != 0) {
    EXPECT_EQ(closed->code, 4008);
  }
  EXPECT_TRUE(wait_until([&] { return metric(server, "parley_connections") == 2.0; }));
}

}  // namespace
}  // namespace parley::test
