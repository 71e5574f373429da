// The server's own WebSocket framing against the real process, seen byte by byte from a raw
// socket: the upgrade answered as RFC 6455 §4.2.2 asks, frames that break §5 closed with their
// code, frames that stay whole and in order when the server's socket buffer fills up, and
// control frames (pong, the close answer) sharing that ordered stream without ever splitting
// one of the data frames.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
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

/// An upgrade request for /ws with `key` and `version`, followed by `after` in the same write.
std::string upgrade_request(const std::string& key, const std::string& version) {
  return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: " + key + "\r\nSec-WebSocket-Version: " + version + "\r\n\r\n";
}

/// The RFC 6455 §1.3 example key.
const std::string rfc_key = "dGhlIHNhbXBsZSBub25jZQ==";

TEST(ServerFrames, TheUpgradeIsAnsweredAsRfc6455AsksAndEarlyFramesAreKept) {
  server_process server;
  {
    raw_socket raw(server.port());
    ASSERT_TRUE(raw.write(upgrade_request(rfc_key, "13")));
    const std::string head = raw.read_http_head();
    EXPECT_TRUE(head.starts_with("HTTP/1.1 101")) << head;
    EXPECT_NE(head.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos) << head;
  }
  {
    raw_socket raw(server.port());
    ASSERT_TRUE(raw.write(upgrade_request(rfc_key, "8")));
    const std::string head = raw.read_http_head();
    EXPECT_TRUE(head.starts_with("HTTP/1.1 426")) << head;
    EXPECT_NE(head.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << head;
  }
  {
    raw_socket raw(server.port());
    ASSERT_TRUE(raw.write(upgrade_request("c2hvcnQ=", "13")));  // base64 of "short"
    EXPECT_TRUE(raw.read_http_head().starts_with("HTTP/1.1 400"));
  }
  {
    // A client that sends its hello in the same packet as the upgrade is still welcomed:
    // the bytes read with the request go to the session.
    raw_socket raw(server.port());
    const std::string hello = proto::encode(proto::hello{1, 1, token_for("eve"), "raw"});
    std::string frame = {'\x82', static_cast<char>(0x80 | 126), static_cast<char>(hello.size() >> 8),
                         static_cast<char>(hello.size() & 0xff), 0, 0, 0, 0};
    ASSERT_LT(hello.size(), 0x10000u);
    ASSERT_GE(hello.size(), 126u);
    ASSERT_TRUE(raw.write(upgrade_request(rfc_key, "13") + frame + hello));
    ASSERT_TRUE(raw.read_http_head().starts_with("HTTP/1.1 101"));
    const auto welcome = raw_messages(raw);
    ASSERT_EQ(welcome.size(), 1u);
    EXPECT_TRUE(std::holds_alternative<proto::welcome>(welcome.front()));
  }
}

TEST(ServerFrames, FramingViolationsAreClosedWithTheirCodeWhileOthersChat) {
  server_process server;
  auto other = signed_in(server, "otto");
  join_room(*other, "lobby");
  struct violation {
    const char* what;
    std::function<bool(raw_socket&)> send;
    std::uint16_t code;
  };
  const std::vector<violation> violations = {
      {"unmasked frame", [](raw_socket& r) { return r.write(std::string("\x82\x03" "abc", 5)); },
       1002},
      {"text message", [](raw_socket& r) { return r.send_frame(1, "hello"); }, 1003},
      {"reserved bit", [](raw_socket& r) { return r.write(std::string("\xc2\x80\0\0\0\0", 6)); },
       1002},
      {"fragmented ping", [](raw_socket& r) { return r.send_frame(9, "x", false); }, 1002},
      {"continuation first", [](raw_socket& r) { return r.send_frame(0, "x"); }, 1002},
      {"invalid close code", [](raw_socket& r) { return r.send_frame(8, "\x03\xed"); }, 1002},
  };
  for (const auto& v : violations) {
    auto raw = raw_signed_in(server, "vic");
    ASSERT_TRUE(v.send(*raw)) << v.what;
    EXPECT_EQ(raw->read_close_code(), std::optional<std::uint16_t>(v.code)) << v.what;
    raw->read_until_closed();
    EXPECT_TRUE(raw->closed()) << v.what << ": the server kept the connection";
  }
  // Each counted once as malformed; everyone else carried on.
  EXPECT_EQ(metric(server, "parley_errors_total{code=\"malformed\"}"),
            std::optional<double>(violations.size()));
  EXPECT_EQ(post(*other, "lobby", "c1", "still here").seq, 1u);
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
