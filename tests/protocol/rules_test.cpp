// Shared rules: backoff, typing throttle, presence grace, token bucket, ordering, ids.
#include "parley/protocol/rules.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace parley::test {
namespace {

namespace proto = parley::proto;
using proto::millis;

TEST(RandomSource, SameSeedSameSequence) {
  proto::random_source a(42);
  proto::random_source b(42);
  proto::random_source c(43);
  std::vector<std::uint64_t> first;
  for (int i = 0; i < 16; ++i) {
    first.push_back(a.next());
    EXPECT_EQ(first.back(), b.next());
  }
  EXPECT_NE(first.front(), c.next());
  // splitmix64 reference value for seed 0 (first output).
  EXPECT_EQ(proto::random_source(0).next(), 0xE220A8397B1DCDAFULL);
}

TEST(RandomSource, UniformStaysInBounds) {
  proto::random_source rng(7);
  EXPECT_EQ(rng.uniform(0), 0u);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::uint64_t v = rng.uniform(3);
    EXPECT_LE(v, 3u);
    seen.insert(v);
  }
  EXPECT_EQ(seen.size(), 4u);  // both ends reachable
}

TEST(Backoff, CeilingDoublesFromBaseAndCaps) {
  const proto::backoff_policy policy{millis{500}, millis{30000}};
  EXPECT_EQ(policy.ceiling(0), millis{500});
  EXPECT_EQ(policy.ceiling(1), millis{1000});
  EXPECT_EQ(policy.ceiling(2), millis{2000});
  EXPECT_EQ(policy.ceiling(5), millis{16000});
  EXPECT_EQ(policy.ceiling(6), millis{30000});
  EXPECT_EQ(policy.ceiling(1000), millis{30000});
  EXPECT_EQ(policy.ceiling(UINT32_MAX), millis{30000});
}

TEST(Backoff, DelayIsFullJitterUnderTheCeiling) {
  const proto::backoff_policy policy;
  proto::random_source rng(1);
  for (std::uint32_t attempt = 0; attempt < 40; ++attempt) {
    millis lowest = millis::max();
    millis highest{0};
    for (int i = 0; i < 200; ++i) {
      const millis d = policy.delay(attempt, rng);
      EXPECT_GE(d, millis{0});
      EXPECT_LE(d, policy.ceiling(attempt));
      lowest = std::min(lowest, d);
      highest = std::max(highest, d);
    }
    // Full jitter spreads over the whole range, not around the ceiling.
    EXPECT_LT(lowest, policy.ceiling(attempt) / 4);
    EXPECT_GT(highest, policy.ceiling(attempt) * 3 / 4);
  }
}

TEST(Backoff, DeterministicForASeed) {
  const proto::backoff_policy policy;
  proto::random_source a(99);
  proto::random_source b(99);
  for (std::uint32_t attempt = 0; attempt < 20; ++attempt) {
    EXPECT_EQ(policy.delay(attempt, a), policy.delay(attempt, b));
  }
}

TEST(Heartbeat, DeadPeerAfterTwoAndAHalfIntervals) {
  EXPECT_EQ(proto::dead_peer_after(millis{15000}), millis{37500});
  EXPECT_EQ(proto::dead_peer_after(millis{1000}), millis{2500});
}

TEST(TypingThrottle, OnAtMostOncePerThrottleAndOffOnce) {
  proto::typing_throttle t;
  const millis throttle{2000};
  EXPECT_FALSE(t.active());
  EXPECT_TRUE(t.on_keystroke(millis{0}, throttle));
  EXPECT_TRUE(t.active());
  EXPECT_FALSE(t.on_keystroke(millis{500}, throttle));
  EXPECT_FALSE(t.on_keystroke(millis{1999}, throttle));
  EXPECT_TRUE(t.on_keystroke(millis{2000}, throttle));  // refresh before receivers expire it
  EXPECT_FALSE(t.on_keystroke(millis{3000}, throttle));
  EXPECT_TRUE(t.on_stop());
  EXPECT_FALSE(t.active());
  EXPECT_FALSE(t.on_stop());  // one off only
  // Typing again right after a stop announces immediately.
  EXPECT_TRUE(t.on_keystroke(millis{3100}, throttle));
}

TEST(PresenceGrace, QuickReconnectDoesNotAnnounceOffline) {
  proto::presence_grace g;
  const millis grace{10000};
  EXPECT_TRUE(g.on_session_open());  // offline → online: announce
  EXPECT_TRUE(g.online());
  g.on_session_close(millis{1000}, grace);
  EXPECT_EQ(g.deadline(), millis{11000});
  EXPECT_FALSE(g.on_timeout(millis{5000}));  // early timeout does nothing
  EXPECT_FALSE(g.on_session_open());         // back within grace: no announcement
  EXPECT_EQ(g.deadline(), millis::max());
  EXPECT_FALSE(g.on_timeout(millis{11000}));
  EXPECT_TRUE(g.online());
}

TEST(PresenceGrace, OfflineAfterGrace) {
  proto::presence_grace g;
  const millis grace{10000};
  EXPECT_TRUE(g.on_session_open());
  EXPECT_FALSE(g.on_session_open());  // second device
  EXPECT_EQ(g.sessions(), 2);
  g.on_session_close(millis{100}, grace);
  EXPECT_EQ(g.deadline(), millis::max());  // one session still open
  g.on_session_close(millis{200}, grace);
  EXPECT_EQ(g.deadline(), millis{10200});
  EXPECT_FALSE(g.on_timeout(millis{10199}));
  EXPECT_TRUE(g.on_timeout(millis{10200}));
  EXPECT_FALSE(g.online());
  EXPECT_EQ(g.deadline(), millis::max());
  EXPECT_FALSE(g.on_timeout(millis{20000}));  // announced once
  EXPECT_TRUE(g.on_session_open());           // coming back is announced again
}

TEST(TokenBucket, BurstThenRefillAtRate) {
  proto::token_bucket bucket(50, 3);  // one token per 20 ms
  millis retry{-1};
  EXPECT_TRUE(bucket.take(millis{1000}, retry));
  EXPECT_EQ(retry, millis{0});
  EXPECT_TRUE(bucket.take(millis{1000}, retry));
  EXPECT_TRUE(bucket.take(millis{1000}, retry));
  EXPECT_FALSE(bucket.take(millis{1000}, retry));
  EXPECT_EQ(retry, millis{20});
  EXPECT_FALSE(bucket.take(millis{1010}, retry));
  EXPECT_EQ(retry, millis{10});
  EXPECT_TRUE(bucket.take(millis{1020}, retry));
  // A long pause refills to the burst, never beyond.
  int taken = 0;
  for (int i = 0; i < 10; ++i) taken += bucket.take(millis{100000}, retry) ? 1 : 0;
  EXPECT_EQ(taken, 3);
}

TEST(TokenBucket, NoRefillFromTimeGoingBackwardsOrAZeroRate) {
  millis retry{0};
  proto::token_bucket backwards(1, 1);
  EXPECT_TRUE(backwards.take(millis{5000}, retry));
  EXPECT_FALSE(backwards.take(millis{0}, retry));
  EXPECT_EQ(retry, millis{1000});
  // A bucket that never refills still answers a finite retry.
  proto::token_bucket never(0, 1);
  EXPECT_TRUE(never.take(millis{0}, retry));
  EXPECT_FALSE(never.take(millis{1000000}, retry));
  EXPECT_GT(retry, millis{0});
  EXPECT_LE(retry, millis{60000});
}

TEST(Ordering, ClassifySeq) {
  using proto::seq_verdict;
  EXPECT_EQ(proto::classify_seq(0, 1), seq_verdict::deliver);
  EXPECT_EQ(proto::classify_seq(41, 42), seq_verdict::deliver);
  EXPECT_EQ(proto::classify_seq(41, 41), seq_verdict::duplicate);
  EXPECT_EQ(proto::classify_seq(41, 3), seq_verdict::duplicate);
  EXPECT_EQ(proto::classify_seq(41, 43), seq_verdict::gap);
  EXPECT_EQ(proto::classify_seq(0, 0), seq_verdict::duplicate);
}

TEST(Versions, Negotiate) {
  EXPECT_EQ(proto::negotiate_version(1, 1), 1u);
  EXPECT_EQ(proto::negotiate_version(1, 5), proto::version_max);
  EXPECT_EQ(proto::negotiate_version(0, 1), 1u);
  EXPECT_EQ(proto::negotiate_version(2, 3), 0u);
  EXPECT_EQ(proto::negotiate_version(0, 0), 0u);
  EXPECT_EQ(proto::negotiate_version(1, 0), 0u);  // inverted range
}

TEST(Ids, RoomAndClientIds) {
  struct id_case {
    std::string id;
    bool room_ok;
    bool client_ok;
  };
  const std::vector<id_case> cases = {
      {"general", true, true},
      {"team-a.dev_2", true, true},
      {"0123456789abcdef0123456789abcdef", true, true},
      {std::string(64, 'x'), true, true},
      {std::string(65, 'x'), false, false},
      {"", false, false},
      {"with space", false, true},
      {"a/b~!", false, true},
      {"tab\there", false, false},
      {"caf\xc3\xa9", false, false},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(proto::valid_room_id(c.id), c.room_ok) << c.id;
    EXPECT_EQ(proto::valid_client_id(c.id), c.client_ok) << c.id;
  }
}

TEST(Rules, UserIdsAreShortUtf8) {
  EXPECT_TRUE(proto::valid_user_id("bob"));
  EXPECT_TRUE(proto::valid_user_id("caf\xc3\xa9 au lait"));
  EXPECT_TRUE(proto::valid_user_id(std::string(64, 'u')));
  EXPECT_FALSE(proto::valid_user_id(""));
  EXPECT_FALSE(proto::valid_user_id(std::string(65, 'u')));
  EXPECT_FALSE(proto::valid_user_id("b\xffob"));  // would make the whole frame undecodable
}

}  // namespace
}  // namespace parley::test
