// The native SDK's delivery promises against the real parley-server when things fail:
// connections cut mid-send, the server killed and restarted, the outbox moved to a new client.
#include "client_recorder.hpp"
#include "client_tcp_proxy.hpp"
#include "server_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <thread>

namespace parley::test {
namespace {

using namespace std::chrono_literals;

// Sends numbered_texts(prefix, count) from its own thread, one every `pace` like a fast typist,
// so that failures strike while messages are in flight rather than after a burst is done.
class message_stream {
 public:
  message_stream(client::chat_client& chat, std::string room, std::string prefix, int count,
                 std::chrono::milliseconds pace)
      : thread_([this, &chat, room = std::move(room), texts = numbered_texts(prefix, count),
                 pace] {
          for (const auto& text : texts) {
            chat.send(room, text);
            {
              std::lock_guard lock(mutex_);
              ++sent_;
            }
            progressed_.notify_all();
            std::this_thread::sleep_for(pace);
          }
        }) {}
  ~message_stream() { finish(); }

  /// Wait until `n` messages have been handed to the client; false at the deadline.
  bool wait_sent(int n) {
    std::unique_lock lock(mutex_);
    return progressed_.wait_for(lock, default_wait, [&] { return sent_ >= n; });
  }
  int sent() {
    std::lock_guard lock(mutex_);
    return sent_;
  }
  void finish() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable progressed_;
  int sent_ = 0;
  std::thread thread_;  // last: starts once the members it uses exist
};

// Every message arrived once, in the order sent, with seqs 1..N, and the log stores each once.
void expect_exactly_once_in_order(recorded_client& reader, const std::vector<std::string>& sent) {
  const auto delivered = reader.log().in_room("general");
  EXPECT_EQ(texts_of(delivered), sent);
  EXPECT_TRUE(consecutive_from(1, delivered));
  EXPECT_TRUE(reader.log().resets.empty()) << "the room's log must resume, not reset";
  const auto stored = reader.read_room("general");
  EXPECT_EQ(texts_of(stored), sent);
  EXPECT_TRUE(consecutive_from(1, stored));
}

// The stream of numbered_texts(prefix, count) from `sender` was acked once per message and
// reached both clients (and the room's log) exactly once, in order.
void expect_stream_delivered_once(recorded_client& sender, recorded_client& other,
                                  const std::string& prefix, int count) {
  const auto n = static_cast<std::size_t>(count);
  ASSERT_TRUE(sender.wait_until(acked_at_least(n)));
  ASSERT_TRUE(sender.wait_until(delivered_at_least("general", n)));
  ASSERT_TRUE(other.wait_until(delivered_at_least("general", n)));
  EXPECT_EQ(sender.log().acks.size(), n);
  EXPECT_TRUE(distinct_cids(sender.log().acks));
  const auto sent = numbered_texts(prefix, count);
  expect_exactly_once_in_order(sender, sent);
  expect_exactly_once_in_order(other, sent);
}

TEST(ClientResilience, ConnectionCutsMidStreamLoseAndDuplicateNothing) {
  server_process server(generous_rate_limit);
  tcp_proxy alices_network(server.port());
  recorded_client alice(alices_network.ws_url(), "alice");
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(alice.start_in("general"));
  ASSERT_TRUE(bob.start_in("general"));

  constexpr int count = 300;
  message_stream stream(alice.chat(), "general", "cut", count, 2ms);
  for (std::size_t acked_before_cut : {40u, 140u}) {
    ASSERT_TRUE(alice.wait_until(acked_at_least(acked_before_cut)));
    alices_network.cut();
  }
  stream.finish();

  expect_stream_delivered_once(alice, bob, "cut", count);
  EXPECT_GE(alices_network.accepted(), 3u) << "both cuts must have forced a reconnect";
}

TEST(ClientResilience, ServerKilledAndRestartedLosesNothing) {
  server_process server(generous_rate_limit);
  recorded_client alice(server.ws_url(), "alice");
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(alice.start_in("general"));
  ASSERT_TRUE(bob.start_in("general"));

  constexpr int count = 200;
  message_stream stream(alice.chat(), "general", "restart", count, 4ms);
  ASSERT_TRUE(alice.wait_until(acked_at_least(40)));
  server.kill_hard();  // SIGKILL: whatever was acked must survive, the rest is resent
  ASSERT_TRUE(alice.wait_until([](const client_log& l) { return !l.ready(); }));
  // These go into the outbox while nothing listens on the port.
  ASSERT_TRUE(stream.wait_sent(stream.sent() + 20));
  server.restart();
  stream.finish();

  expect_stream_delivered_once(alice, bob, "restart", count);
}

TEST(ClientResilience, ExportedOutboxIsDeliveredOnceByAnotherClient) {
  server_process server;
  recorded_client bob(server.ws_url(), "bob");
  ASSERT_TRUE(bob.start_in("general"));

  constexpr int count = 5;
  std::string saved;
  {
    recorded_client never_connected(server.ws_url(), "alice");
    never_connected.chat().join("general");  // remembered; sends need a joined room
    for (const auto& text : numbered_texts("saved", count)) {
      never_connected.chat().send("general", text);
    }
    saved = never_connected.chat().export_outbox();
  }

  // Rooms are joined before the outbox is flushed, so the restored sends are accepted.
  recorded_client alice(server.ws_url(), "alice");
  EXPECT_FALSE(alice.chat().import_outbox("not an export"));
  ASSERT_TRUE(alice.chat().import_outbox(saved));
  alice.chat().join("general");
  alice.chat().start();
  ASSERT_TRUE(alice.wait_until(acked_at_least(count)));
  ASSERT_TRUE(bob.wait_until(delivered_at_least("general", count)));

  // Restoring the same export again (a second device, a stale backup) creates nothing new:
  // the server recognises the client ids and answers with the original acks.
  recorded_client restored_twice(server.ws_url(), "alice");
  ASSERT_TRUE(restored_twice.chat().import_outbox(saved));
  restored_twice.chat().join("general");
  restored_twice.chat().start();
  ASSERT_TRUE(restored_twice.wait_until(acked_at_least(count)));
  EXPECT_EQ(restored_twice.log().acks.front().seq, alice.log().acks.front().seq);

  expect_exactly_once_in_order(bob, numbered_texts("saved", count));
}

}  // namespace
}  // namespace parley::test
