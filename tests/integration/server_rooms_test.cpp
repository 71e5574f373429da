// Rooms, ordering, dedup, resume, history, tenancy, privacy, typing and presence against a real
// parley-server process, spoken to in raw protocol messages.
#include "server_fixture.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <optional>
#include <thread>

namespace parley::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::uint64_t> seqs(const std::vector<proto::room_event>& events) {
  std::vector<std::uint64_t> out;
  for (const auto& ev : events) out.push_back(ev.seq);
  return out;
}

proto::history_page history(wire_client& client, const std::string& room,
                            std::optional<std::uint64_t> before,
                            std::optional<std::uint64_t> after, std::uint32_t limit) {
  client.send(proto::history{9, room, before, after, limit});
  return client.expect<proto::history_page>();
}

TEST(ServerRooms, SendsAreAckedThenBroadcastInOneGaplessOrder) {
  server_process server;
  auto alice = signed_in(server, "alice");
  auto bob = signed_in(server, "bob");
  const auto joined = join_room(*alice, "lobby");
  EXPECT_EQ(joined.head, 0u);
  EXPECT_FALSE(joined.resumed);
  EXPECT_GT(joined.epoch, 0u);
  EXPECT_LT(joined.epoch, std::uint64_t{1} << 53);
  EXPECT_EQ(join_room(*bob, "lobby").epoch, joined.epoch);

  // Interleaved senders: each gets its ack and then its own event (checked in post()), the
  // other gets the same event; together both see 1..10 in one order.
  std::vector<std::uint64_t> seen_by_alice, seen_by_bob;
  for (int i = 0; i < 5; ++i) {
    const auto a = post(*alice, "lobby", "a" + std::to_string(i), "from alice " + std::to_string(i));
    EXPECT_FALSE(a.duplicate);
    seen_by_alice.push_back(a.seq);
    const auto for_bob = next_event(*bob);
    EXPECT_EQ(for_bob.from, "alice");
    EXPECT_EQ(for_bob.text, "from alice " + std::to_string(i));
    EXPECT_EQ(for_bob.epoch, joined.epoch);
    seen_by_bob.push_back(for_bob.seq);
    const auto b = post(*bob, "lobby", "b" + std::to_string(i), "from bob " + std::to_string(i));
    seen_by_bob.push_back(b.seq);
    seen_by_alice.push_back(next_event(*alice).seq);
  }
  const std::vector<std::uint64_t> one_to_ten{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(seen_by_alice, one_to_ten);
  EXPECT_EQ(seen_by_bob, one_to_ten);
  expect_nothing_pending(*alice);
  expect_nothing_pending(*bob);
}

// The lone frames of a fan-out are batched through io_uring by default; with it off each is
// its own send(2). Either way every member gets every event, once, in seq order.
TEST(ServerRooms, AFanOutReachesEveryMemberInOrderWithAndWithoutIoUring) {
  for (const std::string batched : {"true", "false"}) {
    SCOPED_TRACE("io_uring " + batched);
    server_process server({"--io-uring=" + batched, "--max-connections-per-user", "0"});
    auto alice = signed_in(server, "alice");
    join_room(*alice, "lobby");
    std::vector<std::unique_ptr<wire_client>> members;
    for (int i = 0; i < 12; ++i) {
      members.push_back(signed_in(server, "member" + std::to_string(i)));
      join_room(*members.back(), "lobby");
    }
    // Presence of later joiners reaches earlier members first; only events are counted here.
    std::vector<std::uint64_t> sent;
    for (int i = 0; i < 20; ++i) sent.push_back(post(*alice, "lobby", "c" + std::to_string(i), "m").seq);
    for (auto& member : members) {
      std::vector<std::uint64_t> got;
      for (std::size_t i = 0; i < sent.size(); ++i) got.push_back(next_event(*member).seq);
      EXPECT_EQ(got, sent);
    }
    // The path taken is the one asked for (this machine's kernel allows io_uring).
    EXPECT_NE(server.log_text().find(batched == "true" ? "batched through io_uring"
                                                        : "one send(2) each"),
              std::string::npos)
        << server.log_text();
  }
}

TEST(ServerRooms, SameClientIdTwiceIsOneEventAndADuplicateAck) {
  server_process server;
  auto alice = signed_in(server, "alice");
  auto bob = signed_in(server, "bob");
  join_room(*alice, "lobby");
  join_room(*bob, "lobby");
  const auto first = post(*alice, "lobby", "cid-1", "hello");
  const auto again = post(*alice, "lobby", "cid-1", "hello");
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, first.seq);
  EXPECT_EQ(again.ts, first.ts);
  EXPECT_EQ(again.epoch, first.epoch);
  EXPECT_EQ(next_event(*bob).seq, first.seq);
  expect_nothing_pending(*bob);  // no second event
  expect_nothing_pending(*alice);
  EXPECT_EQ(post(*alice, "lobby", "cid-2", "next").seq, first.seq + 1);
}

TEST(ServerRooms, AClientIdIsRememberedForExactlyTheDedupWindow) {
  server_process server({"--dedup-window-s", "1"});
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  const auto first = post(*alice, "lobby", "cid-1", "hello");
  EXPECT_TRUE(post(*alice, "lobby", "cid-1", "hello").duplicate);  // within the window
  // Past it, a resend is a new message (README: "an older resend is stored again"), though the
  // old record is only pruned hourly. Polled, bounded at 10 s for a 1 s window.
  std::optional<proto::ack> stored_again;
  for (int i = 0; i < 40 && !stored_again; ++i) {
    std::this_thread::sleep_for(250ms);
    const auto ack = post(*alice, "lobby", "cid-1", "hello");
    if (!ack.duplicate) stored_again = ack;
  }
  ASSERT_TRUE(stored_again) << "still a duplicate 10 s into a 1 s window";
  EXPECT_GE(stored_again->ts, first.ts + 1000);
  EXPECT_EQ(stored_again->seq, first.seq + 1);
  // The new record is the one remembered now.
  const auto again = post(*alice, "lobby", "cid-1", "hello");
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.seq, stored_again->seq);
}

TEST(ServerRooms, ResumeReplaysExactlyTheMissedEventsThenLive) {
  server_process server;
  auto alice = signed_in(server, "alice");
  const auto joined = join_room(*alice, "lobby");
  for (int i = 1; i <= 4; ++i) {
    post(*alice, "lobby", "m" + std::to_string(i), "text " + std::to_string(i));
  }
  auto bob = signed_in(server, "bob");
  const auto resumed = join_room(*bob, "lobby", proto::resume_point{joined.epoch, 1});
  EXPECT_TRUE(resumed.resumed);
  EXPECT_EQ(resumed.head, 4u);
  EXPECT_EQ(next_event(*bob).seq, 2u);
  EXPECT_EQ(next_event(*bob).seq, 3u);
  const auto last = next_event(*bob);
  EXPECT_EQ(last.seq, 4u);
  EXPECT_EQ(last.text, "text 4");
  expect_nothing_pending(*bob);
  post(*alice, "lobby", "m5", "live");
  EXPECT_EQ(next_event(*bob).seq, 5u);

  // Resuming at the head replays nothing but still counts as resumed.
  auto carol = signed_in(server, "carol");
  const auto at_head = join_room(*carol, "lobby", proto::resume_point{joined.epoch, 5});
  EXPECT_TRUE(at_head.resumed);
  expect_nothing_pending(*carol);
}

TEST(ServerRooms, WrongEpochOrFutureSeqCannotResume) {
  server_process server;
  auto alice = signed_in(server, "alice");
  const auto joined = join_room(*alice, "lobby");
  post(*alice, "lobby", "m1", "one");
  post(*alice, "lobby", "m2", "two");
  auto bob = signed_in(server, "bob");
  const auto wrong_epoch = join_room(*bob, "lobby", proto::resume_point{joined.epoch + 1, 1});
  EXPECT_FALSE(wrong_epoch.resumed);
  EXPECT_EQ(wrong_epoch.head, 2u);
  expect_nothing_pending(*bob);  // no replay
  auto carol = signed_in(server, "carol");
  EXPECT_FALSE(join_room(*carol, "lobby", proto::resume_point{joined.epoch, 9}).resumed);
  expect_nothing_pending(*carol);
}

TEST(ServerRooms, HistoryPagesBeforeAndAfter) {
  server_process server({"--history-limit", "5"});
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  for (int i = 1; i <= 7; ++i) post(*alice, "lobby", "m" + std::to_string(i), std::to_string(i));
  auto bob = signed_in(server, "bob");  // public room: history without joining
  auto page = history(*bob, "lobby", std::nullopt, std::nullopt, 3);
  EXPECT_EQ(seqs(page.events), (std::vector<std::uint64_t>{5, 6, 7}));
  EXPECT_TRUE(page.more);
  EXPECT_EQ(page.events.front().text, "5");
  EXPECT_EQ(page.events.front().from, "alice");
  EXPECT_EQ(page.events.front().cid, "m5");
  page = history(*bob, "lobby", 5, std::nullopt, 3);
  EXPECT_EQ(seqs(page.events), (std::vector<std::uint64_t>{2, 3, 4}));
  EXPECT_TRUE(page.more);
  page = history(*bob, "lobby", 2, std::nullopt, 3);
  EXPECT_EQ(seqs(page.events), (std::vector<std::uint64_t>{1}));
  EXPECT_FALSE(page.more);
  page = history(*bob, "lobby", std::nullopt, 0, 3);
  EXPECT_EQ(seqs(page.events), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(page.more);
  page = history(*bob, "lobby", std::nullopt, 5, 3);
  EXPECT_EQ(seqs(page.events), (std::vector<std::uint64_t>{6, 7}));
  EXPECT_FALSE(page.more);
  page = history(*bob, "lobby", std::nullopt, std::nullopt, 0);  // default page, capped
  EXPECT_EQ(page.events.size(), 5u);

  bob->send(proto::history{10, "lobby", std::nullopt, std::nullopt, 6});
  const auto too_many = bob->expect<proto::error>();
  EXPECT_EQ(too_many.code, proto::error_code::invalid_argument);
  EXPECT_EQ(too_many.id, 10u);
  bob->send(proto::history{11, "nowhere", std::nullopt, std::nullopt, 3});
  EXPECT_EQ(bob->expect<proto::error>().code, proto::error_code::not_found);
}

TEST(ServerRooms, SameRoomNameInAnotherTenantIsAnotherRoom) {
  server_process server;
  auto alice = signed_in(server, "alice", "acme");
  const auto acme_room = join_room(*alice, "general");
  post(*alice, "general", "secret-1", "acme only");

  auto mallory = signed_in(server, "alice", "globex");  // even the same user name
  const auto globex_room = join_room(*mallory, "general");
  EXPECT_EQ(globex_room.head, 0u);
  EXPECT_NE(globex_room.epoch, acme_room.epoch);
  EXPECT_TRUE(history(*mallory, "general", std::nullopt, std::nullopt, 50).events.empty());
  // Resuming with acme's position does not leak acme's log either.
  auto other = signed_in(server, "eve", "globex");
  EXPECT_FALSE(join_room(*other, "general", proto::resume_point{acme_room.epoch, 0}).resumed);

  post(*alice, "general", "secret-2", "still acme only");
  expect_nothing_pending(*mallory);
  expect_nothing_pending(*other);

  // REST follows the token's tenant too.
  const auto rest = http_request(server.port(), "GET", "/api/v1/rooms/general/messages",
                                 token_for("alice", "globex"));
  ASSERT_EQ(rest.status, 200u) << rest.body;
  rapidjson::Document doc;
  doc.Parse(rest.body.c_str());
  EXPECT_EQ(doc["events"].Size(), 0u);
  const auto acme_rest = http_request(server.port(), "GET", "/api/v1/rooms/general/messages",
                                      token_for("bob", "acme"));
  doc.Parse(acme_rest.body.c_str());
  EXPECT_EQ(doc["events"].Size(), 2u);
}

TEST(ServerRooms, PrivateRoomsAreForMembersOnly) {
  server_process server;
  auto alice = signed_in(server, "alice");
  alice->send(proto::create_room{1, "secret", true});
  EXPECT_EQ(alice->expect<proto::ok>().id, 1u);
  alice->send(proto::create_room{2, "secret", false});
  EXPECT_EQ(alice->expect<proto::error>().code, proto::error_code::invalid_argument);
  join_room(*alice, "secret");
  post(*alice, "secret", "p1", "members only");

  auto bob = signed_in(server, "bob");
  bob->send(proto::join{3, "secret", std::nullopt});
  auto error = bob->expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::forbidden);
  EXPECT_EQ(error.id, 3u);
  EXPECT_EQ(error.room, "secret");
  bob->send(proto::history{4, "secret", std::nullopt, std::nullopt, 10});
  EXPECT_EQ(bob->expect<proto::error>().code, proto::error_code::forbidden);
  bob->send(proto::add_member{5, "secret", "bob"});
  EXPECT_EQ(bob->expect<proto::error>().code, proto::error_code::forbidden);
  EXPECT_EQ(http_request(server.port(), "GET", "/api/v1/rooms/secret/messages", token_for("bob"))
                .status,
            403u);
  bob->send(proto::list_rooms{6});
  for (const auto& room : bob->expect<proto::room_list>().rooms) EXPECT_NE(room.room, "secret");

  alice->send(proto::add_member{7, "secret", "bob"});
  EXPECT_EQ(alice->expect<proto::ok>().id, 7u);
  const auto joined = join_room(*bob, "secret");
  EXPECT_EQ(joined.head, 1u);
  EXPECT_EQ(joined.members.size(), 2u);
  bob->send(proto::list_rooms{8});
  const auto rooms = bob->expect<proto::room_list>().rooms;
  ASSERT_EQ(rooms.size(), 1u);
  EXPECT_TRUE(rooms[0].is_private);
  EXPECT_TRUE(rooms[0].joined);
}

TEST(ServerRooms, RequestsNeedAJoinedRoomAndValidIds) {
  server_process server({"--max-text", "100", "--max-rooms", "2"});
  auto alice = signed_in(server, "alice");
  alice->send(proto::send{"lobby", "c1", "not joined yet"});
  auto error = alice->expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::not_joined);
  EXPECT_EQ(error.cid, "c1");
  EXPECT_EQ(error.room, "lobby");
  alice->send(proto::join{2, "bad room!", std::nullopt});
  EXPECT_EQ(alice->expect<proto::error>().code, proto::error_code::invalid_argument);
  join_room(*alice, "one");
  join_room(*alice, "two");
  alice->send(proto::join{3, "three", std::nullopt});
  EXPECT_EQ(alice->expect<proto::error>().code, proto::error_code::limit_exceeded);
  alice->send(proto::send{"one", "c2", std::string(101, 'x')});
  error = alice->expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::too_large);
  EXPECT_EQ(error.cid, "c2");
  alice->send(proto::leave{4, "two"});
  EXPECT_EQ(alice->expect<proto::ok>().id, 4u);
  alice->send(proto::leave{5, "two"});
  EXPECT_EQ(alice->expect<proto::error>().code, proto::error_code::not_joined);
}

TEST(ServerRooms, TypingGoesToOthersOnly) {
  server_process server;
  auto alice = signed_in(server, "alice");
  auto bob = signed_in(server, "bob");
  join_room(*alice, "lobby");
  join_room(*bob, "lobby");
  alice->send(proto::typing{"lobby", true});
  const auto update = bob->expect<proto::typing_update>();
  EXPECT_EQ(update.user, "alice");
  EXPECT_EQ(update.room, "lobby");
  EXPECT_TRUE(update.on);
  expect_nothing_pending(*alice);
  alice->send(proto::typing{"lobby", false});
  EXPECT_FALSE(bob->expect<proto::typing_update>().on);
}

TEST(ServerRooms, PresenceGoesOnlineAndOfflineAfterGrace) {
  server_process server({"--presence-grace-ms", "300"});
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  {
    auto bob = signed_in(server, "bob");
    const auto joined = join_room(*bob, "lobby");
    ASSERT_EQ(joined.members.size(), 2u);
    for (const auto& member : joined.members) {
      EXPECT_EQ(member.status, proto::presence_status::online) << member.user;
    }
    // bob became a member just now: alice, already in the room, is introduced to him.
    const auto introduced = alice->expect<proto::presence>().entry;
    EXPECT_EQ(introduced.user, "bob");
    EXPECT_EQ(introduced.status, proto::presence_status::online);
    EXPECT_EQ(introduced.room, "lobby");  // so alice's client lists him among lobby's people
    bob->send(proto::set_presence{proto::presence_status::away});
    const auto away = alice->expect<proto::presence>().entry;
    EXPECT_EQ(away.user, "bob");
    EXPECT_EQ(away.status, proto::presence_status::away);
    EXPECT_EQ(away.room, "");  // a status change is about the user, not a room
  }
  // bob's connection is gone; after the grace alice hears he is offline, with a last-seen time.
  const auto offline = alice->expect<proto::presence>(3s).entry;
  EXPECT_EQ(offline.user, "bob");
  EXPECT_EQ(offline.status, proto::presence_status::offline);
  EXPECT_GT(offline.last_seen, 0u);
  auto bob = signed_in(server, "bob");
  const auto online = alice->expect<proto::presence>().entry;
  EXPECT_EQ(online.user, "bob");
  EXPECT_EQ(online.status, proto::presence_status::online);
}

}  // namespace
}  // namespace parley::test
