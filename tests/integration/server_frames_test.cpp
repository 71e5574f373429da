// The server's WebSocket write side against the real process, seen byte by byte from a raw
// socket: frames stay whole and in order when the server's socket buffer fills up, and Beast's
// control frames (pong, the close answer) share that ordered stream without ever splitting one
// of our frames.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "server_fixture.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;

/// Sends join for `room` over a raw connection and waits for joined.
void raw_join(raw_socket& raw, const std::string& room) {
  ASSERT_TRUE(raw.send_frame(2, proto::encode(proto::join{1, room, std::nullopt})));
  for (int frames = 0; frames < 10; ++frames) {
    for (const auto& m : raw_messages(raw)) {
      if (std::holds_alternative<proto::joined>(m)) return;
    }
  }
  FAIL() << "no joined for " << room;
}

TEST(ServerFrames, APingIsAnsweredWithItsPayloadAndTheChatGoesOn) {
  server_process server;
  auto raw = raw_signed_in(server, "rhea");
  raw_join(*raw, "lobby");
  ASSERT_TRUE(raw->send_frame(9, "are you there"));
  std::optional<ws_frame> pong;
  for (int frames = 0; frames < 10 && !pong; ++frames) {
    auto frame = raw->read_frame();
    ASSERT_TRUE(frame) << "no pong";
    if (frame->opcode == 10) pong = frame;
  }
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->payload, "are you there");

  auto other = signed_in(server, "otto");
  join_room(*other, "lobby");
  post(*other, "lobby", "c1", "still here?");
  bool seen = false;
  for (int frames = 0; frames < 10 && !seen; ++frames) {
    for (const auto& m : raw_messages(*raw)) {
      if (const auto* e = std::get_if<proto::event>(&m)) seen = e->ev.text == "still here?";
    }
  }
  EXPECT_TRUE(seen) << "the message after the ping did not arrive";
}

TEST(ServerFrames, APongNeverLandsInsideABacklogAndEveryFrameArrivesWhole) {
  // 6 MB for a client that does not read (with a small receive buffer): more than the kernel
  // will buffer on a loopback connection (the sender's buffer grows to 4 MB at most), so the
  // server is left holding half-written frames while the ping arrives. The queue bound is
  // raised so that this reader is slow, not cut.
  server_process server({"--send-queue-bytes", "16777216", "--rate-per-sec", "100000",
                         "--rate-burst", "100000"});
  constexpr int total = 6000;
  const std::string text(1000, 'b');
  auto reader = raw_signed_in(server, "rhea", 4096);
  raw_join(*reader, "backlog");
  auto writer = signed_in(server, "wes");
  join_room(*writer, "backlog");

  int sent = 0;
  const auto send_some = [&](int count) {
    for (int batch = 0; batch < count / 50; ++batch) {
      std::vector<proto::message> messages;
      for (int i = 0; i < 50; ++i) {
        messages.push_back(proto::send{"backlog", "c" + std::to_string(++sent), text});
      }
      writer->send_batch(messages);
      for (int i = 0; i < 50; ++i) {
        writer->expect<proto::ack>();
        next_event(*writer);
      }
    }
  };
  send_some(total / 2);
  ASSERT_TRUE(reader->send_frame(9, "mid-backlog"));
  send_some(total / 2);

  // Now read everything: every binary frame must decode, the events must be exactly seqs
  // 1..total in order, and the pong must come whole, between two frames.
  std::uint64_t next_seq = 1;
  int pongs = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (next_seq <= total && std::chrono::steady_clock::now() < deadline) {
    auto frame = reader->read_frame();
    ASSERT_TRUE(frame) << "connection ended or stalled after seq " << next_seq - 1;
    if (frame->opcode == 10) {
      EXPECT_EQ(frame->payload, "mid-backlog");
      ++pongs;
      continue;
    }
    ASSERT_EQ(frame->opcode, 2) << "unexpected frame type after seq " << next_seq - 1;
    proto::decode_limits generous;
    generous.max_frame = 1 << 20;
    const auto decoded = proto::decode_frame(frame->payload, generous);
    ASSERT_TRUE(decoded) << "a frame after seq " << next_seq - 1 << " does not decode";
    for (const auto& m : decoded.messages) {
      if (const auto* e = std::get_if<proto::event>(&m)) {
        ASSERT_EQ(e->ev.seq, next_seq) << "events out of order or missing";
        EXPECT_EQ(e->ev.text, text);
        ++next_seq;
      }
    }
  }
  EXPECT_EQ(next_seq, static_cast<std::uint64_t>(total) + 1) << "not every event arrived in 60 s";
  // The pong was queued behind the backlog; it may follow the last event.
  for (int frames = 0; pongs == 0 && frames < 5; ++frames) {
    auto frame = reader->read_frame(1s);
    if (!frame) break;
    if (frame->opcode == 10 && frame->payload == "mid-backlog") ++pongs;
  }
  EXPECT_EQ(pongs, 1);
}

TEST(ServerFrames, AClientsCloseIsAnsweredWithItsCode) {
  server_process server;
  auto raw = raw_signed_in(server, "rhea");
  raw_join(*raw, "lobby");
  ASSERT_TRUE(raw->send_frame(8, std::string("\x03\xe8", 2)));  // 1000, normal closure
  EXPECT_EQ(raw->read_close_code(), std::optional<std::uint16_t>(1000));
  raw->read_until_closed();
  EXPECT_TRUE(raw->closed()) << "the server kept the connection after the close handshake";
}

}  // namespace
}  // namespace parley::test
