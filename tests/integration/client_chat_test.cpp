// The native SDK against the real parley-server: ordering, typing and presence as two users
// see them.
#include "client_recorder.hpp"
#include "client_tcp_proxy.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

namespace parley::test {
namespace {

using namespace std::chrono_literals;


std::vector<std::string> texts_from(const std::vector<proto::room_event>& events,
                                    const std::string& user) {
  std::vector<std::string> texts;
  for (const auto& e : events) {
    if (e.from == user) texts.push_back(e.text);
  }
  return texts;
}

// The latest presence reported for `user` is `status`.
std::function<bool(const client_log&)> presence_is(const std::string& user,
                                                   proto::presence_status status) {
  return [=](const client_log& l) {
    const auto latest = std::find_if(l.presence.rbegin(), l.presence.rend(),
                                     [&](const auto& p) { return p.user == user; });
    return latest != l.presence.rend() && latest->status == status;
  };
}

TEST(ClientChat, TwoUsersSeeEveryMessageOnceInTheSameOrder) {
  server_process server(generous_rate_limit);
  recorded_client alice(server.ws_url(), "alice");
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(alice.start_in("general"));
  ASSERT_TRUE(bob.start_in("general"));

  constexpr int per_user = 60;
  std::thread alice_types([&] {
    for (const auto& text : numbered_texts("alice", per_user)) alice.chat().send("general", text);
  });
  for (const auto& text : numbered_texts("bob", per_user)) bob.chat().send("general", text);
  alice_types.join();

  for (auto* user : {&alice, &bob}) {
    ASSERT_TRUE(user->wait_until(delivered_at_least("general", 2 * per_user)));
    ASSERT_TRUE(user->wait_until(acked_at_least(per_user)));
  }
  const auto seen_by_alice = alice.log().in_room("general");
  const auto seen_by_bob = bob.log().in_room("general");
  EXPECT_TRUE(consecutive_from(1, seen_by_alice));
  EXPECT_EQ(texts_of(seen_by_alice), texts_of(seen_by_bob));
  // Each user's messages keep the order they were sent in.
  EXPECT_EQ(texts_from(seen_by_bob, "alice"), numbered_texts("alice", per_user));
  EXPECT_EQ(texts_from(seen_by_alice, "bob"), numbered_texts("bob", per_user));
  EXPECT_EQ(alice.read_room("general").size(), 2u * per_user);
}

TEST(ClientChat, TypingReachesOthersAndExpires) {
  constexpr auto expiry = 400ms;
  server_process server({"--typing-expiry-ms", "400"});
  recorded_client alice(server.ws_url(), "alice");
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(alice.start_in("general"));
  ASSERT_TRUE(bob.start_in("general"));

  const auto typed_at = std::chrono::steady_clock::now();
  bob.chat().set_typing("general", true);
  ASSERT_TRUE(alice.wait_until(typing_seen("bob", true)));
  // Bob never refreshes it, so it expires at Alice's end.
  ASSERT_TRUE(alice.wait_until(typing_seen("bob", false)));
  // Whole milliseconds on both clocks: allow one of rounding.
  EXPECT_GE(std::chrono::steady_clock::now() - typed_at, expiry - 1ms);
  EXPECT_TRUE(bob.log().typing.empty()) << "the typist is not told about himself";
  EXPECT_EQ(alice.log().typing.front().room, "general");
}

TEST(ClientChat, TypingEndsWhenTheTypistStopsOrSends) {
  // An expiry far beyond the test's length: every "stopped" below has another cause.
  server_process server({"--typing-expiry-ms", "600000", "--typing-throttle-ms", "50"});
  recorded_client alice(server.ws_url(), "alice");
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(alice.start_in("general"));
  ASSERT_TRUE(bob.start_in("general"));

  bob.chat().set_typing("general", true);
  ASSERT_TRUE(alice.wait_until(typing_seen("bob", true)));
  bob.chat().set_typing("general", false);  // input cleared
  ASSERT_TRUE(alice.wait_until(typing_seen("bob", false)));

  bob.chat().set_typing("general", true);
  ASSERT_TRUE(alice.wait_until(typing_seen("bob", true, 2)));
  bob.chat().send("general", "done typing");  // sending ends typing without an explicit off
  ASSERT_TRUE(alice.wait_until(typing_seen("bob", false, 2)));
  EXPECT_EQ(texts_of(alice.log().in_room("general")), std::vector<std::string>{"done typing"});
}

TEST(ClientChat, PresenceGoesOfflineOnlyAfterTheGrace) {
  constexpr auto grace = 500ms;
  server_process server({"--presence-grace-ms", "500"});
  tcp_proxy bobs_network(server.port());
  recorded_client alice(server.ws_url(), "alice");
  auto bob = std::make_unique<recorded_client>(bobs_network.ws_url(), "bob");
  ASSERT_TRUE(bob->start_in("lobby"));  // Bob is a member of the lobby from now on
  ASSERT_TRUE(alice.start_in("lobby"));
  const auto members = alice.log().joins.back().members;
  ASSERT_TRUE(std::any_of(members.begin(), members.end(), [](const auto& m) {
    return m.user == "bob" && m.status == proto::presence_status::online;
  }));

  // A dropped connection that comes back within the grace is not announced at all.
  bobs_network.cut();
  ASSERT_TRUE(bob->wait_until([](const client_log& l) { return l.joins_of("lobby") == 2; }));
  EXPECT_FALSE(alice.wait_until(presence_is("bob", proto::presence_status::offline), 2 * grace))
      << "a reconnect within the grace must not flap offline/online";

  // Leaving for good is announced once the grace has passed, with the time last seen.
  const auto left_at = std::chrono::steady_clock::now();
  bob.reset();
  ASSERT_TRUE(alice.wait_until(presence_is("bob", proto::presence_status::offline)));
  EXPECT_GE(std::chrono::steady_clock::now() - left_at, grace - 1ms);
  EXPECT_GT(alice.log().presence.back().last_seen, 0u);

  // Coming back is announced to those sharing a room.
  recorded_client bob_again(server.ws_url(), "bob");
  bob_again.chat().start();
  ASSERT_TRUE(alice.wait_until(presence_is("bob", proto::presence_status::online)));
}

TEST(ClientChat, PrivateRoomsAdmitOnlyAddedMembers) {
  server_process server;
  recorded_client alice(server.ws_url(), "alice");
  recorded_client bob(server.ws_url(), "bob");
  alice.chat().start();
  bob.chat().start();
  // Answered request ids, with what the answer was.
  const auto succeeded = [](recorded_client& c, std::uint32_t id) {
    if (!c.wait_until([id](const client_log& l) { return l.answered(id); })) return false;
    const auto done = c.log().done;
    return std::count(done.begin(), done.end(), id) == 1;
  };
  const auto refused_with = [](recorded_client& c, std::uint32_t id) {
    EXPECT_TRUE(c.wait_until([id](const client_log& l) { return l.answered(id); }));
    const auto errors = c.log().errors;
    const auto e = std::find_if(errors.begin(), errors.end(),
                                [id](const auto& err) { return err.request == id; });
    return e == errors.end() ? proto::error_code{} : e->code;
  };

  ASSERT_TRUE(succeeded(alice, alice.chat().create_room("secret", true)));
  EXPECT_EQ(refused_with(alice, alice.chat().create_room("secret", false)),
            proto::error_code::invalid_argument);
  EXPECT_EQ(refused_with(bob, bob.chat().join("secret")), proto::error_code::forbidden);

  ASSERT_TRUE(succeeded(alice, alice.chat().add_member("secret", "bob")));
  ASSERT_TRUE(bob.join("secret"));
  const auto listed = bob.chat().list_rooms();
  ASSERT_TRUE(bob.wait_until([listed](const client_log& l) { return l.answered(listed); }));
  const auto rooms = bob.log().room_lists.back().rooms;
  ASSERT_EQ(rooms.size(), 1u);
  EXPECT_EQ(rooms.front().room, "secret");
  EXPECT_TRUE(rooms.front().is_private);
  EXPECT_TRUE(rooms.front().joined);

  // Presence status travels to those sharing a room.
  ASSERT_TRUE(alice.join("secret"));
  bob.chat().set_presence(proto::presence_status::away);
  ASSERT_TRUE(alice.wait_until(presence_is("bob", proto::presence_status::away)));

  ASSERT_TRUE(succeeded(bob, bob.chat().leave("secret")));
}

}  // namespace
}  // namespace parley::test
