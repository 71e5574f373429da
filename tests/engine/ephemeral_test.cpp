// Ephemeral state: the typing throttle and its receiver expiry, presence.
#include "engine_test_support.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

using client::typing_changed;

std::vector<bool> typing_sent(const scripted_server& server) {
  std::vector<bool> out;
  for (const auto& t : server.received_of<proto::typing>()) out.push_back(t.on);
  return out;
}

void type(bench& b, bool typing) {
  b.engine.set_typing("lobby", typing, b.now);
  b.drive();
}

void bob_types(bench& b, bool on) {
  b.server.push(proto::typing_update{"lobby", "bob", on});
  b.drive();
}

std::vector<bool> bob_typing_changes(const bench& b) {
  std::vector<bool> out;
  for (const auto& t : b.events_of<typing_changed>()) {
    EXPECT_EQ(t.room, "lobby");
    EXPECT_EQ(t.user, "bob");
    out.push_back(t.typing);
  }
  return out;
}

TEST(Typing, KeystrokesWithinTheThrottleSendOneNotice) {
  bench b;
  join_lobby(b);
  const millis throttle{b.engine.params().typing_throttle_ms};
  type(b, true);
  b.advance(100ms);
  type(b, true);
  b.advance(throttle - 200ms);
  type(b, true);
  EXPECT_EQ(typing_sent(b.server), (std::vector<bool>{true}));
  b.advance(100ms);  // a full throttle interval after the first notice
  type(b, true);
  EXPECT_EQ(typing_sent(b.server), (std::vector<bool>{true, true}));
  type(b, false);
  type(b, false);
  EXPECT_EQ(typing_sent(b.server), (std::vector<bool>{true, true, false}));
}

TEST(Typing, SendingAMessageStopsTypingWithoutAnOff) {
  bench b;
  join_lobby(b);
  type(b, true);
  b.engine.send_message("lobby", "done typing", b.now);
  b.drive();
  type(b, false);
  EXPECT_EQ(typing_sent(b.server), (std::vector<bool>{true}));
  type(b, true);  // typing again right away is a new burst
  EXPECT_EQ(typing_sent(b.server), (std::vector<bool>{true, true}));
}

TEST(Typing, NoticesWhileDisconnectedAreDropped) {
  bench b;
  b.engine.join("lobby", b.now);
  type(b, true);
  b.connect();
  EXPECT_TRUE(typing_sent(b.server).empty());
}

TEST(Typing, IndicatorExpiresWithoutRefresh) {
  bench b;
  join_lobby(b);
  const millis expiry{b.engine.params().typing_expiry_ms};
  bob_types(b, true);
  EXPECT_EQ(b.engine.typing_users("lobby"), (std::vector<std::string>{"bob"}));
  b.advance(expiry - 1ms);
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true}));
  b.advance(1ms);
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true, false}));
  EXPECT_TRUE(b.engine.typing_users("lobby").empty());
}

TEST(Typing, RefreshKeepsTheIndicator) {
  bench b;
  join_lobby(b);
  const millis expiry{b.engine.params().typing_expiry_ms};
  bob_types(b, true);
  b.advance(expiry - 2s);
  bob_types(b, true);
  b.advance(expiry - 1ms);
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true}));
  b.advance(1ms);
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true, false}));
}

TEST(Typing, OffClearsTheIndicator) {
  bench b;
  join_lobby(b);
  bob_types(b, true);
  bob_types(b, false);
  b.advance(1min);
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true, false}));
}

TEST(Typing, MessageFromTheTypistClearsTheIndicator) {
  bench b;
  join_lobby(b);
  bob_types(b, true);
  b.server.post("lobby", "bob", "here it is");
  b.drive();
  ASSERT_EQ(b.events.size() >= 2, true);
  EXPECT_TRUE(std::holds_alternative<client::message_received>(b.events[b.events.size() - 2]));
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true, false}));
  b.advance(1min);
  EXPECT_EQ(bob_typing_changes(b), (std::vector<bool>{true, false}));  // no second "false"
}

TEST(Presence, UpdatesReachTheApp) {
  bench b;
  join_lobby(b);
  b.server.push(proto::presence{{"bob", proto::presence_status::away, 0}});
  b.server.push(proto::presence{{"bob", proto::presence_status::offline, 1700000001000}});
  b.drive();
  const auto changes = b.events_of<client::presence_changed>();
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].entry.status, proto::presence_status::away);
  EXPECT_EQ(changes[1].entry.status, proto::presence_status::offline);
  EXPECT_EQ(changes[1].entry.last_seen, 1700000001000u);
}

TEST(Presence, OwnStatusIsSentWhenReadyAndAfterEveryReconnect) {
  bench b;
  b.engine.set_presence(proto::presence_status::away, b.now);
  b.connect();
  ASSERT_EQ(b.server.received_of<proto::set_presence>().size(), 1u);
  b.engine.set_presence(proto::presence_status::online, b.now);
  b.drive();
  b.drop();
  reconnect(b);
  const auto sent = b.server.received_of<proto::set_presence>();
  ASSERT_EQ(sent.size(), 3u);
  EXPECT_EQ(sent[0].status, proto::presence_status::away);
  EXPECT_EQ(sent[1].status, proto::presence_status::online);
  EXPECT_EQ(sent[2].status, proto::presence_status::online);
}

}  // namespace
}  // namespace parley::test
