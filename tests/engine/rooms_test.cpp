// Rooms: join, resume after a reconnect, room_reset, the gap rule and its fill, history.
#include "engine_test_support.hpp"

#include "parley/client/room_stream.hpp"

#include <gtest/gtest.h>

namespace parley::test {
namespace {

using client::message_received;

TEST(Rooms, JoinWithoutResumeStartsAtHead) {
  bench b;
  join_lobby(b);
  const auto joined = b.events_of<client::room_joined>()[0];
  EXPECT_EQ(joined.room, "lobby");
  EXPECT_EQ(joined.epoch, 7u);
  EXPECT_EQ(joined.head, 5u);
  ASSERT_EQ(joined.members.size(), 1u);
  EXPECT_EQ(joined.members[0].user, "alice");
  EXPECT_TRUE(b.events_of<client::room_reset>().empty());
  EXPECT_TRUE(b.events_of<message_received>().empty());
  EXPECT_FALSE(b.server.received_of<proto::join>()[0].resume.has_value());
  const auto at = b.engine.resume_point("lobby");
  ASSERT_TRUE(at);
  EXPECT_EQ(at->epoch, 7u);
  EXPECT_EQ(at->seq, 5u);
}

TEST(Rooms, LiveEventsAreDeliveredInOrder) {
  bench b;
  join_lobby(b);
  for (int i = 0; i < 3; ++i) b.server.post("lobby", "bob", "hi");
  b.drive();
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{6, 7, 8}));
  EXPECT_EQ(b.engine.resume_point("lobby")->seq, 8u);
}

TEST(Rooms, ResumeReplaysMissedEventsInOrder) {
  bench b;
  join_lobby(b);
  b.server.post("lobby", "bob", "seen");
  b.drive();
  b.drop();
  for (int i = 0; i < 3; ++i) b.server.post("lobby", "bob", "missed");
  b.clear_events();
  reconnect(b);

  const auto joins = b.server.received_of<proto::join>();
  ASSERT_EQ(joins.size(), 2u);
  ASSERT_TRUE(joins[1].resume.has_value());
  EXPECT_EQ(joins[1].resume->epoch, 7u);
  EXPECT_EQ(joins[1].resume->seq, 6u);
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{7, 8, 9}));
  EXPECT_TRUE(b.events_of<client::room_reset>().empty());
  EXPECT_EQ(b.engine.resume_point("lobby")->seq, 9u);
}

TEST(Rooms, DuplicateEventsAreDropped) {
  bench b;
  join_lobby(b);
  const auto ev = b.server.post("lobby", "bob", "once", false);
  auto old = ev;
  old.seq = 3;
  b.server.push_batch({proto::event{ev}, proto::event{ev}, proto::event{old}});
  b.drive();
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{6}));
}

TEST(Rooms, LostLogEmitsRoomReset) {
  bench b;
  join_lobby(b);
  b.drop();
  // The server lost the room's log and rebuilt it: a new epoch with a new history.
  b.server.rooms["lobby"] = scripted_server::room_log{99, {}, 0};
  b.server.post("lobby", "carol", "fresh start");
  b.clear_events();
  reconnect(b);
  const auto resets = b.events_of<client::room_reset>();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].epoch, 99u);
  EXPECT_EQ(resets[0].head, 1u);
  EXPECT_TRUE(b.events_of<message_received>().empty());
  EXPECT_EQ(b.engine.resume_point("lobby")->epoch, 99u);

  b.server.post("lobby", "carol", "live again");
  b.drive();
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{2}));
}

TEST(Rooms, TrimmedHistoryEmitsRoomReset) {
  bench b;
  join_lobby(b);
  b.drop();
  for (int i = 0; i < 5; ++i) b.server.post("lobby", "bob", "missed");
  b.server.rooms["lobby"].trimmed_below = 9;
  reconnect(b);
  const auto resets = b.events_of<client::room_reset>();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].head, 10u);
}

TEST(Rooms, GapIsFilledFromHistoryAndDeliveredOnce) {
  bench b;
  join_lobby(b);
  b.server.post("lobby", "bob", "lost in transit", false);
  b.server.post("lobby", "bob", "arrives first");
  b.drive();
  const auto fills = b.server.received_of<proto::history>();
  ASSERT_EQ(fills.size(), 1u);
  EXPECT_EQ(fills[0].after, std::optional<std::uint64_t>{5});
  EXPECT_EQ(fills[0].before, std::nullopt);
  EXPECT_EQ(fills[0].limit, b.engine.params().history_limit);
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{6, 7}));
  EXPECT_TRUE(b.events_of<client::history_loaded>().empty());  // fills are not app pages
}

TEST(Rooms, OneFillOutstandingPerRoom) {
  bench b;
  join_lobby(b);
  const auto e6 = b.server.post("lobby", "bob", "6", false);
  const auto e7 = b.server.post("lobby", "bob", "7", false);
  const auto e8 = b.server.post("lobby", "bob", "8", false);
  b.server.push_batch({proto::event{e7}, proto::event{e8}});
  b.drive();
  EXPECT_EQ(b.server.received_of<proto::history>().size(), 1u);
  // The live copies arriving late are duplicates now.
  b.server.push_batch({proto::event{e6}, proto::event{e7}, proto::event{e8}});
  b.drive();
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{6, 7, 8}));
}

TEST(Rooms, LongGapIsFilledPageByPage) {
  bench b;
  b.server.params.history_limit = 3;
  join_lobby(b);
  for (int i = 0; i < 10; ++i) b.server.post("lobby", "bob", "lost", false);
  b.server.post("lobby", "bob", "arrives");
  b.drive();
  std::vector<std::uint64_t> expected;
  for (std::uint64_t seq = 6; seq <= 16; ++seq) expected.push_back(seq);
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), expected);
  EXPECT_EQ(b.server.received_of<proto::history>().size(), 4u);  // 3 + 3 + 3 + 1
}

TEST(Rooms, GapThatHistoryNoLongerHoldsResetsTheRoom) {
  bench b;
  join_lobby(b);
  for (int i = 0; i < 3; ++i) b.server.post("lobby", "bob", "lost", false);  // 6, 7, 8
  b.server.rooms["lobby"].trimmed_below = 8;
  b.server.post("lobby", "bob", "arrives");  // 9
  b.drive();
  const auto resets = b.events_of<client::room_reset>();
  ASSERT_EQ(resets.size(), 1u);
  EXPECT_EQ(resets[0].head, 7u);
  EXPECT_EQ(seqs_of(b.events_of<message_received>()), (std::vector<std::uint64_t>{8, 9}));
}

TEST(Rooms, EventFromAnotherEpochIsAProtocolViolation) {
  bench b;
  join_lobby(b);
  auto ev = b.server.post("lobby", "bob", "x", false);
  ev.epoch = 8;
  b.server.push(proto::event{ev});
  b.drive();
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4004}));
}

TEST(Rooms, GapBufferIsBounded) {
  client::room_stream stream;
  stream.restart({1, 0});
  std::vector<proto::room_event> ready;
  auto event = [](std::uint64_t seq) { return proto::room_event{"r", 1, seq, 1, "u", {}, 0, {}, 0}; };
  for (std::uint64_t seq = 2; seq < 2 + client::room_stream::max_buffered; ++seq)
    EXPECT_EQ(stream.admit(event(seq), ready), client::room_stream::outcome::buffered);
  EXPECT_EQ(stream.admit(event(5000), ready), client::room_stream::outcome::overflow);
  EXPECT_EQ(stream.admit(event(2), ready), client::room_stream::outcome::duplicate);
  EXPECT_TRUE(ready.empty());
  EXPECT_EQ(stream.admit(event(1), ready), client::room_stream::outcome::delivered);
  EXPECT_EQ(ready.size(), client::room_stream::max_buffered + 1);
  EXPECT_TRUE(stream.has_gap());  // 5000 was seen but dropped: the fill must still fetch it
}

TEST(Rooms, HistoryPageForTheApp) {
  bench b;
  join_lobby(b);
  const auto id = b.engine.fetch_history("lobby", 5, 2, b.now);
  b.drive();
  const auto pages = b.events_of<client::history_loaded>();
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].request, id);
  EXPECT_TRUE(pages[0].more);
  ASSERT_EQ(pages[0].events.size(), 2u);
  EXPECT_EQ(pages[0].events[0].seq, 3u);
  EXPECT_EQ(pages[0].events[1].seq, 4u);
}

TEST(Rooms, HistoryRequestedWhileDisconnectedIsSentWhenReady) {
  bench b;
  b.server.post("lobby", "bob", "old");
  const auto id = b.engine.fetch_history("lobby", 0, 0, b.now);
  b.connect();
  const auto pages = b.events_of<client::history_loaded>();
  ASSERT_EQ(pages.size(), 1u);
  EXPECT_EQ(pages[0].request, id);
  EXPECT_EQ(pages[0].events.size(), 1u);
}

TEST(Rooms, RefusedJoinFailsTheRequestAndForgetsTheRoom) {
  bench b;
  b.server.refuse_joins["secret"] = proto::error_code::forbidden;
  const auto id = b.engine.join("secret", b.now);
  b.connect();
  const auto failures = b.events_of<client::request_failed>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].request, id);
  EXPECT_EQ(failures[0].room, "secret");
  EXPECT_EQ(failures[0].code, proto::error_code::forbidden);
  EXPECT_FALSE(b.engine.resume_point("secret"));
  b.drop();
  reconnect(b);
  EXPECT_EQ(b.server.received_of<proto::join>().size(), 1u);
}

TEST(Rooms, LeaveForgetsTheRoom) {
  bench b;
  join_lobby(b);
  const auto id = b.engine.leave("lobby", b.now);
  b.drive();
  ASSERT_EQ(b.events_of<client::request_done>().size(), 1u);
  EXPECT_EQ(b.events_of<client::request_done>()[0].request, id);
  EXPECT_FALSE(b.engine.resume_point("lobby"));
  b.drop();
  reconnect(b);
  EXPECT_EQ(b.server.received_of<proto::join>().size(), 1u);
}

TEST(Rooms, EventsQueuedBeforeTheLeaveAreDroppedButUnknownRoomsBreakTheProtocol) {
  bench b;
  join_lobby(b);
  b.engine.leave("lobby", b.now);
  const auto late = b.server.post("lobby", "bob", "sent before the leave was processed", false);
  b.server.push(proto::event{late});
  b.drive();
  EXPECT_TRUE(b.events_of<message_received>().empty());
  EXPECT_TRUE(b.server.closes.empty());
  EXPECT_EQ(b.events_of<client::request_done>().size(), 1u);
  b.server.push(proto::event{late});  // the room is forgotten now
  b.drive();
  EXPECT_EQ(b.server.closes, (std::vector<std::uint16_t>{4004}));
}

TEST(Rooms, JoinAgainWhileLeavingRejoinsAfterTheLeave) {
  bench b;
  join_lobby(b);
  b.engine.leave("lobby", b.now);
  b.engine.join("lobby", b.now);
  b.drive();
  const auto joins = b.server.received_of<proto::join>();
  ASSERT_EQ(joins.size(), 2u);
  EXPECT_TRUE(joins[1].resume.has_value());
  EXPECT_EQ(b.events_of<client::room_joined>().size(), 2u);
}

TEST(Rooms, RoomIdsAndRoomCountAreChecked) {
  bench b;
  b.engine.join("not a room id", b.now);
  b.engine.join("", b.now);
  const auto limit = b.engine.params().max_rooms;
  for (std::uint32_t i = 0; i <= limit; ++i) b.engine.join("r" + std::to_string(i), b.now);
  b.drive();
  const auto failures = b.events_of<client::request_failed>();
  ASSERT_EQ(failures.size(), 3u);
  EXPECT_EQ(failures[0].code, proto::error_code::invalid_argument);
  EXPECT_EQ(failures[1].code, proto::error_code::invalid_argument);
  EXPECT_EQ(failures[2].code, proto::error_code::limit_exceeded);
}

TEST(Rooms, ListCreateAndAddMemberAreAnswered) {
  bench b;
  join_lobby(b);
  const auto list = b.engine.list_rooms(b.now);
  const auto create = b.engine.create_room("team", true, b.now);
  const auto add = b.engine.add_member("team", "bob", b.now);
  b.drive();
  const auto listed = b.events_of<client::rooms_listed>();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].request, list);
  ASSERT_EQ(listed[0].rooms.size(), 1u);
  EXPECT_TRUE(listed[0].rooms[0].joined);
  const auto done = b.events_of<client::request_done>();
  ASSERT_EQ(done.size(), 2u);
  EXPECT_EQ(done[0].request, create);
  EXPECT_EQ(done[1].request, add);
}

// Found by fuzz_engine: an add_member whose user is not UTF-8 made the server refuse every
// frame it was batched in, after every reconnect, so rooms never rejoined.
TEST(Rooms, AddMemberWithABadUserIdFailsAtOnceAndPoisonsNothing) {
  bench b;
  join_lobby(b);
  const auto add = b.engine.add_member("lobby", "b\xffob", b.now);
  b.engine.send_message("lobby", "still delivered", b.now);
  b.drive();
  const auto failures = b.events_of<client::request_failed>();
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_EQ(failures[0].request, add);
  EXPECT_EQ(failures[0].code, proto::error_code::invalid_argument);
  EXPECT_EQ(b.events_of<client::message_acked>().size(), 1u);
}

}  // namespace
}  // namespace parley::test
