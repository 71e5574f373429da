// The outbox: acks, exactly-once retries with the same client id, rate limits, refusals,
// batching, capacity and the export/import format.
#include "engine_test_support.hpp"

#include <gtest/gtest.h>
#include <msgpack.hpp>

namespace parley::test {
namespace {

using client::message_acked;
using client::message_failed;
using client::message_received;

std::vector<std::string> texts_of(const std::vector<message_received>& received) {
  std::vector<std::string> out;
  for (const auto& r : received) out.push_back(r.event.text);
  return out;
}

std::vector<std::string> cids_sent(const scripted_server& server) {
  std::vector<std::string> out;
  for (const auto& s : server.received_of<proto::send>()) out.push_back(s.cid);
  return out;
}

// An engine that joined "lobby" but never connected, holding three queued messages.
client::engine offline_engine_with_three_sends() {
  client::engine e(default_config());
  e.join("lobby", millis{0});
  for (const char* text : {"one", "two", "three"}) e.send_message("lobby", text, millis{0});
  return e;
}

TEST(Outbox, SendIsAckedAndReceivedOnce) {
  bench b;
  join_lobby(b, 0);
  const auto cid = b.engine.send_message("lobby", "hello", b.now);
  ASSERT_EQ(cid.size(), 32u);
  EXPECT_EQ(cid.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(b.engine.pending().size(), 1u);
  b.drive();
  const auto acks = b.events_of<message_acked>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].cid, cid);
  EXPECT_EQ(acks[0].seq, 1u);
  const auto received = b.events_of<message_received>();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].event.cid, cid);
  EXPECT_EQ(received[0].event.from, "alice");
  EXPECT_TRUE(b.engine.pending().empty());
}

TEST(Outbox, ClientIdsAreDistinctAndDeterministic) {
  auto first = offline_engine_with_three_sends();
  auto second = offline_engine_with_three_sends();
  const auto& a = first.pending().entries();
  ASSERT_EQ(a.size(), 3u);
  EXPECT_NE(a[0].cid, a[1].cid);
  EXPECT_NE(a[1].cid, a[2].cid);
  for (std::size_t i = 0; i < a.size(); ++i)
    EXPECT_EQ(a[i].cid, second.pending().entries()[i].cid);
}

TEST(Outbox, SendsWhileDisconnectedAreDeliveredInOrderAfterReconnect) {
  bench b;
  join_lobby(b, 0);
  b.drop();
  for (const char* text : {"a", "b", "c"}) b.engine.send_message("lobby", text, b.now);
  EXPECT_TRUE(b.server.received_of<proto::send>().empty());
  const auto frames_before = b.server.frame_sizes.size();
  reconnect(b);
  EXPECT_EQ(texts_of(b.events_of<message_received>()), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(b.events_of<message_acked>().size(), 3u);
  // After the hello, the rejoin and the three sends went out as one frame.
  ASSERT_GT(b.server.frame_sizes.size(), frames_before + 1);
  EXPECT_EQ(b.server.frame_sizes[frames_before + 1], 4u);
}

TEST(Outbox, RetryAfterReconnectKeepsTheClientIdAndTakesEffectOnce) {
  bench b;
  join_lobby(b, 0);
  b.server.lose_output = true;  // the server stores the message; its ack never arrives
  const auto cid = b.engine.send_message("lobby", "exactly once", b.now);
  b.drive();
  b.drop();
  b.server.lose_output = false;
  reconnect(b);

  EXPECT_EQ(cids_sent(b.server), (std::vector<std::string>{cid, cid}));
  EXPECT_EQ(b.server.rooms["lobby"].head(), 1u);
  const auto acks = b.events_of<message_acked>();
  ASSERT_EQ(acks.size(), 1u);
  EXPECT_EQ(acks[0].cid, cid);
  EXPECT_EQ(acks[0].seq, 1u);
  const auto received = b.events_of<message_received>();
  ASSERT_EQ(received.size(), 1u);  // from the resume replay; the dup ack adds nothing
  EXPECT_EQ(received[0].event.cid, cid);
  EXPECT_TRUE(b.engine.pending().empty());
}

TEST(Outbox, RateLimitedSendIsRetriedAfterRetryMsWithTheSameClientId) {
  bench b;
  join_lobby(b, 0);
  b.server.rate_limit_sends = 1;
  b.server.retry_ms = 300;
  const auto cid = b.engine.send_message("lobby", "patience", b.now);
  b.drive();
  EXPECT_TRUE(b.events_of<message_acked>().empty());
  EXPECT_EQ(b.engine.pending().size(), 1u);
  b.advance(299ms);
  EXPECT_EQ(cids_sent(b.server).size(), 1u);
  b.advance(1ms);
  EXPECT_EQ(cids_sent(b.server), (std::vector<std::string>{cid, cid}));
  ASSERT_EQ(b.events_of<message_acked>().size(), 1u);
  EXPECT_TRUE(b.engine.pending().empty());
}

TEST(Outbox, SendsMadeDuringARateLimitHoldKeepTheirOrder) {
  bench b;
  join_lobby(b, 0);
  b.server.rate_limit_sends = 1;
  b.engine.send_message("lobby", "first", b.now);
  b.drive();
  b.engine.send_message("lobby", "second", b.now);
  b.drive();
  EXPECT_EQ(cids_sent(b.server).size(), 1u);  // held until the retry time
  b.advance(1s);
  EXPECT_EQ(texts_of(b.events_of<message_received>()),
            (std::vector<std::string>{"first", "second"}));
}

TEST(Outbox, HopelessSendsFailWithoutBeingSent) {
  bench b;
  join_lobby(b, 0);
  const std::string too_long(b.engine.params().max_text + 1, 'x');
  b.engine.send_message("lobby", too_long, b.now);
  b.engine.send_message("lobby", "\xff\xfe", b.now);
  b.engine.send_message("elsewhere", "hi", b.now);
  b.drive();
  const auto failed = b.events_of<message_failed>();
  ASSERT_EQ(failed.size(), 3u);
  EXPECT_EQ(failed[0].code, proto::error_code::too_large);
  EXPECT_EQ(failed[1].code, proto::error_code::invalid_utf8);
  EXPECT_EQ(failed[2].code, proto::error_code::not_joined);
  EXPECT_TRUE(b.engine.pending().empty());
  EXPECT_TRUE(b.server.received_of<proto::send>().empty());
}

TEST(Outbox, ServerRefusalFailsTheMessage) {
  bench b;
  join_lobby(b, 0);
  b.server.refuse_sends = proto::error_code::too_large;
  const auto cid = b.engine.send_message("lobby", "refused", b.now);
  b.drive();
  const auto failed = b.events_of<message_failed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].cid, cid);
  EXPECT_EQ(failed[0].room, "lobby");
  EXPECT_EQ(failed[0].code, proto::error_code::too_large);
  EXPECT_TRUE(b.engine.pending().empty());
}

TEST(Outbox, AckForAnUnknownClientIdIsAProtocolViolation) {
  bench b;
  join_lobby(b, 0);
  b.server.push(proto::ack{"lobby", "0123456789abcdef0123456789abcdef", 7, 1, 1, false});
  b.drive();
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4004}));
}

TEST(Outbox, CapacityIsBounded) {
  auto cfg = default_config();
  cfg.max_outbox = 2;
  client::engine e(cfg);
  e.join("lobby", millis{0});
  EXPECT_FALSE(e.send_message("lobby", "1", millis{0}).empty());
  EXPECT_FALSE(e.send_message("lobby", "2", millis{0}).empty());
  EXPECT_TRUE(e.send_message("lobby", "3", millis{0}).empty());
  EXPECT_EQ(e.pending().size(), 2u);
  EXPECT_EQ(e.pending().capacity(), 2u);
}

TEST(Outbox, FramesRespectMaxBatchAndMaxFrame) {
  bench b;
  b.server.params.max_batch = 4;
  b.server.params.max_frame = 300;
  join_lobby(b, 0);
  b.drop();
  for (int i = 0; i < 10; ++i) b.engine.send_message("lobby", std::string(60, 'a' + i), b.now);
  const auto before = b.server.frame_sizes.size();
  reconnect(b);
  ASSERT_GT(b.server.frame_sizes.size(), before + 3);  // hello, then at least three frames
  for (auto i = before; i < b.server.frame_sizes.size(); ++i) {
    EXPECT_LE(b.server.frame_sizes[i], 4u);
    EXPECT_LE(b.server.frame_bytes[i], 300u);
  }
  EXPECT_EQ(b.server.received_of<proto::send>().size(), 10u);
  EXPECT_EQ(b.events_of<message_acked>().size(), 10u);
}

TEST(Outbox, ExportUsesTheDocumentedFormat) {
  const auto e = offline_engine_with_three_sends();
  const auto bytes = e.pending().export_bytes();
  const auto handle = msgpack::unpack(bytes.data(), bytes.size());
  const auto& root = handle.get();
  ASSERT_EQ(root.type, msgpack::type::ARRAY);
  ASSERT_EQ(root.via.array.size, 3u);
  const auto entry = root.via.array.ptr[1].as<std::vector<std::string>>();
  ASSERT_EQ(entry.size(), 3u);
  EXPECT_EQ(entry[0], "lobby");
  EXPECT_EQ(entry[1], e.pending().entries()[1].cid);
  EXPECT_EQ(entry[2], "two");
}

TEST(Outbox, ExportImportRoundTrip) {
  const auto source = offline_engine_with_three_sends();
  const auto bytes = source.pending().export_bytes();
  client::engine target(default_config(99));
  ASSERT_TRUE(target.import_outbox(bytes, millis{0}));
  ASSERT_EQ(target.pending().size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(target.pending().entries()[i].cid, source.pending().entries()[i].cid);
    EXPECT_EQ(target.pending().entries()[i].text, source.pending().entries()[i].text);
  }
  EXPECT_TRUE(target.import_outbox(bytes, millis{0}));  // known cids are skipped
  EXPECT_EQ(target.pending().size(), 3u);
}

TEST(Outbox, ImportOfGarbageChangesNothing) {
  auto e = offline_engine_with_three_sends();
  const auto before = e.pending().export_bytes();
  for (std::string garbage : {std::string(), std::string("\xc1"), std::string("\x93\x01\x02\x03"),
                              std::string("\x91\x93\xa1" "r" "\xa1" "c"), before + "x"})
    EXPECT_FALSE(e.import_outbox(garbage, millis{0}));
  EXPECT_EQ(e.pending().export_bytes(), before);
}

TEST(Outbox, ImportThatDoesNotFitChangesNothing) {
  auto cfg = default_config(5);
  cfg.max_outbox = 2;
  client::engine small(cfg);
  EXPECT_FALSE(small.import_outbox(offline_engine_with_three_sends().pending().export_bytes(),
                                   millis{0}));
  EXPECT_TRUE(small.pending().empty());
}

TEST(Outbox, ImportedOutboxIsSentAfterConnectWithItsClientIds) {
  const auto source = offline_engine_with_three_sends();
  bench b(default_config(1234));
  b.engine.join("lobby", b.now);
  ASSERT_TRUE(b.engine.import_outbox(source.pending().export_bytes(), b.now));
  b.connect();
  std::vector<std::string> expected;
  for (const auto& entry : source.pending().entries()) expected.push_back(entry.cid);
  EXPECT_EQ(cids_sent(b.server), expected);
  EXPECT_EQ(b.events_of<message_acked>().size(), 3u);
  EXPECT_TRUE(b.engine.pending().empty());
}

}  // namespace
}  // namespace parley::test
