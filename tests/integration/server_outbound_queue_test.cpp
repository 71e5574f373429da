// The session's outbound queue alone: frame limits, the byte bound, and order kept while a
// session that never quite catches up is drained a frame at a time.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "outbound_queue.hpp"

namespace parley::test {
namespace {

using server::frame_view;
using server::outbound_queue;
using server::push_result;

server::shared_buffer message(std::size_t size, char fill = 'm') {
  return std::make_shared<const std::string>(size, fill);
}

TEST(ServerOutboundQueue, FramesStayWithinTheClientsLimitsExceptForOneBigMessage) {
  outbound_queue queue(1 << 20, /*frame_bytes=*/100, /*frame_messages=*/3);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(queue.push(message(10), false), push_result::queued);
  frame_view frame = queue.next_frame();
  EXPECT_EQ(frame.messages.size(), 3u);  // the message limit
  EXPECT_EQ(frame.bytes, 30u);
  EXPECT_EQ(frame.joined(), std::string(30, 'm'));
  EXPECT_EQ(queue.next_frame().messages.data(), frame.messages.data()) << "a look, not a take";
  queue.pop_frame(frame);
  EXPECT_EQ(queue.bytes(), 20u);
  frame = queue.next_frame();
  EXPECT_EQ(frame.messages.size(), 2u);
  queue.pop_frame(frame);
  EXPECT_TRUE(queue.next_frame().empty());

  queue.push(message(60), false);
  queue.push(message(60), false);
  queue.push(message(500), false);  // alone over frame_bytes: still goes, alone
  frame = queue.next_frame();
  EXPECT_EQ(frame.messages.size(), 1u) << "60 + 60 is over 100 bytes";
  queue.pop_frame(frame);
  frame = queue.next_frame();
  EXPECT_EQ(frame.bytes, 60u);
  queue.pop_frame(frame);
  frame = queue.next_frame();
  EXPECT_EQ(frame.bytes, 500u);
  queue.pop_frame(frame);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
}

TEST(ServerOutboundQueue, ALoneMessageAndTheOnesBehindItKeepTheirOrder) {
  // A lone message waits apart from the rest (no heap block); the next ones queue behind it.
  outbound_queue queue(1 << 20, 1 << 16, 10);
  const auto text = [](const char* t) { return std::make_shared<const std::string>(t); };
  queue.push(text("a"), false);
  EXPECT_EQ(queue.next_frame().joined(), "a");
  queue.push(text("b"), false);
  queue.push(text("c"), false);
  frame_view frame = queue.next_frame();
  EXPECT_EQ(frame.joined(), "abc");
  EXPECT_EQ(queue.bytes(), 3u);
  queue.pop_frame(frame);
  EXPECT_TRUE(queue.empty());
  queue.push(text("d"), false);
  frame = queue.next_frame();
  EXPECT_EQ(frame.joined(), "d");
  queue.pop_frame(frame);
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.bytes(), 0u);
  EXPECT_TRUE(queue.next_frame().empty());
}

TEST(ServerOutboundQueue, TheBoundOverflowsAndTypingGivesWayAtHalf) {
  outbound_queue queue(/*max_bytes=*/1000, 1000, 100);
  EXPECT_EQ(queue.push(message(400), true), push_result::queued) << "typing below half";
  EXPECT_EQ(queue.push(message(101), false), push_result::queued);
  EXPECT_EQ(queue.push(message(10), true), push_result::dropped) << "typing above half";
  EXPECT_EQ(queue.push(message(400), false), push_result::queued);
  EXPECT_EQ(queue.bytes(), 901u);
  EXPECT_EQ(queue.push(message(100), false), push_result::overflow);
  EXPECT_EQ(queue.bytes(), 901u) << "an overflowing message is not queued";
  queue.clear();
  EXPECT_TRUE(queue.empty());
  EXPECT_EQ(queue.push(message(100), true), push_result::queued);
}

TEST(ServerOutboundQueue, ASessionThatNeverCatchesUpKeepsItsOrder) {
  // Three in, two out, for a long time: the queue never empties, so the taken front has to be
  // dropped while messages keep their order.
  outbound_queue queue(1 << 20, 1 << 16, /*frame_messages=*/2);
  int next_in = 0;
  int next_out = 0;
  std::weak_ptr<const std::string> first_sent;
  for (int round = 0; round < 3000; ++round) {
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(queue.push(std::make_shared<const std::string>(std::to_string(next_in++)), false),
                push_result::queued);
    }
    const frame_view frame = queue.next_frame();
    ASSERT_EQ(frame.messages.size(), 2u);
    for (const auto& m : frame.messages) ASSERT_EQ(*m, std::to_string(next_out++));
    if (round == 0) first_sent = frame.messages.front();
    queue.pop_frame(frame);
    // Memory: a message sent is let go at once, not held until the queue empties.
    ASSERT_TRUE(first_sent.expired()) << "round " << round;
  }
  for (frame_view frame = queue.next_frame(); !frame.empty(); frame = queue.next_frame()) {
    for (const auto& m : frame.messages) ASSERT_EQ(*m, std::to_string(next_out++));
    queue.pop_frame(frame);
  }
  EXPECT_EQ(next_out, next_in);
  EXPECT_EQ(queue.bytes(), 0u);
}

}  // namespace
}  // namespace parley::test
