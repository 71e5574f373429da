// The WebSocket read side alone (frame_reader, handshake), on client frames built here byte by
// byte: what the server relies on is that a message comes out exactly as the client sent it
// however TCP cut it up, that memory is given back once a message is out, and that every frame
// RFC 6455 forbids a client to send fails the connection with the code §7.4.1 gives it.
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "frame_reader.hpp"
#include "handshake.hpp"

namespace parley::test {
namespace {

using server::frame_event;
using server::frame_reader;
using kind = frame_event::kind;

// Opcodes as a client writes them (RFC 6455 §5.2).
constexpr unsigned continuation = 0x0;
constexpr unsigned text = 0x1;
constexpr unsigned binary = 0x2;
constexpr unsigned close = 0x8;
constexpr unsigned ping = 0x9;
constexpr unsigned pong = 0xA;

// Above 65536 so that a message of every length encoding fits.
constexpr std::size_t large_limit = 1 << 17;
// The RFC's own example mask (§5.7); any key with four distinct bytes would do.
constexpr std::array<unsigned char, 4> mask_key{0x37, 0xfa, 0x21, 0x3d};

/// How a test frame departs from a well-formed, final, masked client frame.
struct frame_shape {
  bool fin = true;
  bool masked = true;
  unsigned rsv = 0;       // 0x40, 0x20, 0x10: RSV1..3, which only an extension may set
  int length_bytes = -1;  // extended length bytes (0, 2 or 8); -1: the minimal encoding
};

/// The header of a client frame declaring `length` payload bytes, mask key included.
std::string header(unsigned opcode, std::uint64_t length, frame_shape shape = {}) {
  int extended = shape.length_bytes;
  if (extended < 0) extended = length < 126 ? 0 : length <= 0xFFFF ? 2 : 8;
  const auto length7 = extended == 0 ? static_cast<unsigned>(length) : extended == 2 ? 126u : 127u;
  std::string out;
  out += static_cast<char>((shape.fin ? 0x80 : 0) | shape.rsv | opcode);
  out += static_cast<char>((shape.masked ? 0x80 : 0) | length7);
  for (int i = extended - 1; i >= 0; --i) out += static_cast<char>(length >> (8 * i));
  if (shape.masked) out.append(reinterpret_cast<const char*>(mask_key.data()), mask_key.size());
  return out;
}

/// A whole client frame: its header, then `payload` masked with mask_key (§5.3).
std::string frame(unsigned opcode, std::string_view payload, frame_shape shape = {}) {
  std::string out = header(opcode, payload.size(), shape);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out += shape.masked ? static_cast<char>(payload[i] ^ mask_key[i % 4]) : payload[i];
  }
  return out;
}

/// The payload of a close frame: the code in network order, then the reason.
std::string close_payload(std::uint16_t code, std::string_view reason = "") {
  std::string out{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  return out.append(reason);
}

/// `size` bytes taking every value, so that a byte unmasked with the wrong key shows.
std::string pattern(std::size_t size) {
  std::string out(size, '\0');
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<char>((i * 131 + size) & 0xFF);
  return out;
}

/// An event copied out of the reader: its payload is only valid until the next call.
struct seen {
  kind type;
  std::string payload;
  std::uint16_t code = 0;
  bool operator==(const seen&) const = default;
};

std::ostream& operator<<(std::ostream& os, const seen& event) {
  static constexpr std::array<const char*, 5> names{"message", "ping", "pong", "close", "fail"};
  os << names[static_cast<std::size_t>(event.type)] << " code " << event.code << ", "
     << event.payload.size() << " bytes";
  if (event.payload.size() <= 40) os << " \"" << event.payload << '"';
  return os;
}

/// Feeds one input (a copy: the reader unmasks in place) and drains its events.
std::vector<seen> feed(frame_reader& reader, std::string input) {
  reader.handle_input(input);
  std::vector<seen> events;
  while (const auto event = reader.poll_event()) {
    events.push_back({event->type, std::string(event->payload), event->code});
    if (events.size() > 1000) {
      ADD_FAILURE() << "poll_event never runs dry";
      break;
    }
  }
  return events;
}

/// Every event of a fresh reader fed `inputs` one after the other.
std::vector<seen> read_all(const std::vector<std::string>& inputs,
                           std::size_t max_message = large_limit) {
  frame_reader reader(max_message);
  std::vector<seen> events;
  for (const auto& input : inputs) {
    const auto more = feed(reader, input);
    events.insert(events.end(), more.begin(), more.end());
  }
  return events;
}

/// The events are `before` others, then one failure with `code` (its text is free).
testing::AssertionResult failed_with(const std::vector<seen>& events, std::uint16_t code,
                                     std::size_t before = 0) {
  if (events.size() != before + 1) {
    auto result = testing::AssertionFailure() << events.size() << " events:";
    for (const auto& event : events) result << " [" << event << "]";
    return result;
  }
  if (events.back().type != kind::fail || events.back().code != code) {
    return testing::AssertionFailure() << "last event is " << events.back();
  }
  return testing::AssertionSuccess();
}

TEST(ServerFrameReader, EveryLengthEncodingComesOutByteIdentical) {
  // 7-bit, 16-bit and 64-bit lengths, each at its edges (RFC 6455 §5.2).
  for (const std::size_t size : {0, 125, 126, 65535, 65536}) {
    SCOPED_TRACE(size);
    const std::string body = pattern(size);
    const std::string input = frame(binary, body);
    ASSERT_EQ(input.size() - size, size < 126 ? 6u : size <= 0xFFFF ? 8u : 14u);
    frame_reader reader(large_limit);
    EXPECT_EQ(feed(reader, input), (std::vector<seen>{{kind::message, body}}));
    EXPECT_EQ(reader.buffered(), 0u);
    EXPECT_FALSE(reader.done());
  }
}

TEST(ServerFrameReader, SeveralFramesInOneInputComeOutInOrder) {
  const std::string input = frame(binary, "one") + frame(ping, "heartbeat") + frame(binary, "") +
                            frame(pong, "echo") + frame(binary, pattern(300));
  const std::vector<seen> expected{{kind::message, "one"},
                                   {kind::ping, "heartbeat"},
                                   {kind::message, ""},
                                   {kind::pong, "echo"},
                                   {kind::message, pattern(300)}};
  frame_reader reader(large_limit);
  EXPECT_EQ(feed(reader, input), expected);
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ServerFrameReader, APongIsReportedAsAPong) {
  EXPECT_EQ(read_all({frame(pong, "")}), (std::vector<seen>{{kind::pong, ""}}));
  EXPECT_EQ(read_all({frame(pong, "unsolicited")}),
            (std::vector<seen>{{kind::pong, "unsolicited"}}));
}

TEST(ServerFrameReader, AnInputCutAtAnyByteGivesTheSameEvents) {
  // A 16-bit-length message followed by short frames, cut in two at every position.
  const std::vector<std::string> frames{frame(binary, pattern(300)), frame(ping, "still there?"),
                                        frame(pong, ""), frame(binary, "tail")};
  std::string input;
  for (const auto& f : frames) input += f;
  const std::vector<seen> whole{{kind::message, pattern(300)},
                                {kind::ping, "still there?"},
                                {kind::pong, ""},
                                {kind::message, "tail"}};
  ASSERT_EQ(read_all({input}), whole);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    SCOPED_TRACE(cut);
    frame_reader reader(large_limit);
    auto events = feed(reader, input.substr(0, cut));
    // Only the incomplete frame is kept, never the frames already handed out.
    std::size_t complete = 0;
    for (const auto& f : frames) {
      if (complete + f.size() > cut) break;
      complete += f.size();
    }
    EXPECT_EQ(reader.buffered(), cut - complete);
    const auto rest = feed(reader, input.substr(cut));
    events.insert(events.end(), rest.begin(), rest.end());
    ASSERT_EQ(events, whole);
    EXPECT_EQ(reader.buffered(), 0u);
  }

  // Inputs of every equal size: a kept tail is completed and followed by the next frames.
  for (std::size_t size = 1; size <= input.size(); ++size) {
    std::vector<std::string> inputs;
    for (std::size_t at = 0; at < input.size(); at += size) {
      inputs.push_back(input.substr(at, size));
    }
    ASSERT_EQ(read_all(inputs), whole) << "inputs of " << size << " bytes";
  }
}

TEST(ServerFrameReader, ALargeFrameCutAnywhereInItsHeaderOrPayloadArrivesWhole) {
  const std::string body = pattern(65536);
  const std::string input = frame(binary, body);  // 64-bit length: a 14-byte header
  const std::vector<seen> whole{{kind::message, body}};
  // Every cut in and just after the header, then every 4093rd byte of the payload.
  for (std::size_t cut = 0; cut < input.size(); cut += cut < 20 ? 1 : 4093) {
    SCOPED_TRACE(cut);
    frame_reader reader(large_limit);
    EXPECT_TRUE(feed(reader, input.substr(0, cut)).empty());
    EXPECT_EQ(reader.buffered(), cut);
    EXPECT_EQ(feed(reader, input.substr(cut)), whole);
    EXPECT_EQ(reader.buffered(), 0u);
  }
  std::vector<std::string> bytes;
  for (const char c : input) bytes.emplace_back(1, c);
  EXPECT_EQ(read_all(bytes), whole) << "one byte at a time";
}

TEST(ServerFrameReader, FragmentsAreJoinedAndAPingBetweenThemIsAnsweredFirst) {
  const std::string input =
      frame(binary, "frag-1 ", {.fin = false}) + frame(ping, "are you there?") +
      frame(continuation, "frag-2 ", {.fin = false}) + frame(continuation, "end");
  const std::vector<seen> expected{{kind::ping, "are you there?"},
                                   {kind::message, "frag-1 frag-2 end"}};
  EXPECT_EQ(read_all({input}), expected);

  // The same, a frame per input: the fragments so far are all that is kept between inputs.
  frame_reader reader(large_limit);
  EXPECT_TRUE(feed(reader, frame(binary, "frag-1 ", {.fin = false})).empty());
  EXPECT_EQ(reader.buffered(), 7u);
  EXPECT_EQ(feed(reader, frame(ping, "are you there?")), (std::vector<seen>{expected[0]}));
  EXPECT_TRUE(feed(reader, frame(continuation, "frag-2 ", {.fin = false})).empty());
  EXPECT_EQ(reader.buffered(), 14u);
  EXPECT_EQ(feed(reader, frame(continuation, "end")), (std::vector<seen>{expected[1]}));
  EXPECT_EQ(reader.buffered(), 0u) << "the joined message is given back";
  EXPECT_EQ(feed(reader, frame(binary, "next")), (std::vector<seen>{{kind::message, "next"}}));
}

TEST(ServerFrameReader, FramesAClientMayNotSendFailWithTheirCode) {
  struct refused {
    const char* what;
    std::string input;
    std::uint16_t code;
  };
  const std::string fragment = frame(binary, "first", {.fin = false});
  std::vector<refused> cases{
      {"unmasked", frame(binary, "hi", {.masked = false}), 1002},
      {"RSV1", frame(binary, "hi", {.rsv = 0x40}), 1002},
      {"RSV2", frame(binary, "hi", {.rsv = 0x20}), 1002},
      {"RSV3", frame(ping, "hi", {.rsv = 0x10}), 1002},
      {"text", frame(text, "hi"), 1003},
      {"ping over 125 bytes", frame(ping, pattern(126)), 1002},
      {"close over 125 bytes", frame(close, close_payload(1000, pattern(200))), 1002},
      {"fragmented ping", frame(ping, "hi", {.fin = false}), 1002},
      {"continuation without a message", frame(continuation, "hi"), 1002},
      {"binary inside a fragmented message", fragment + frame(binary, "second"), 1002},
      {"100 bytes in a 16-bit length", frame(binary, pattern(100), {.length_bytes = 2}), 1002},
      {"1000 bytes in a 64-bit length", frame(binary, pattern(1000), {.length_bytes = 8}), 1002},
      {"64-bit length, top bit set", header(binary, std::uint64_t{1} << 63), 1002},
      {"close of one byte", frame(close, "\x03"), 1002},
      {"close reason not UTF-8", frame(close, close_payload(1000, "\xC3\x28")), 1007},
      {"close reason overlong", frame(close, close_payload(1000, "\xC0\xAF")), 1007},
      {"close reason a surrogate", frame(close, close_payload(1001, "\xED\xA0\x80")), 1007},
  };
  for (const unsigned opcode : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    cases.push_back({"unknown opcode", frame(opcode, "hi"), 1002});
  }
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    frame_reader reader(large_limit);
    EXPECT_TRUE(failed_with(feed(reader, c.input), c.code));
    EXPECT_TRUE(reader.done());
    EXPECT_EQ(reader.buffered(), 0u) << "a failed reader gives its buffers back";
  }
}

TEST(ServerFrameReader, AMessageOverTheLimitFailsFromItsHeaderAlone) {
  constexpr std::size_t limit = 4096;
  // Exactly the limit is accepted, in one frame or in fragments.
  EXPECT_EQ(read_all({frame(binary, pattern(limit))}, limit),
            (std::vector<seen>{{kind::message, pattern(limit)}}));
  EXPECT_EQ(read_all({frame(binary, std::string(1000, 'a'), {.fin = false}) +
                      frame(continuation, std::string(limit - 1000, 'b'))},
                     limit),
            (std::vector<seen>{{kind::message, std::string(1000, 'a') + std::string(3096, 'b')}}));
  {
    // Up to the limit, a header alone is a partial frame, waited for.
    frame_reader reader(limit);
    EXPECT_TRUE(feed(reader, header(binary, limit)).empty());
    EXPECT_EQ(reader.buffered(), 8u);
    EXPECT_FALSE(reader.done());
  }
  for (const std::uint64_t declared :
       {std::uint64_t{limit + 1}, std::uint64_t{1} << 20, std::uint64_t{1} << 40}) {
    SCOPED_TRACE(declared);
    frame_reader reader(limit);
    EXPECT_TRUE(failed_with(feed(reader, header(binary, declared)), 1009))
        << "refused before any payload";
    EXPECT_EQ(reader.buffered(), 0u);
  }
  // Fragments: the continuation that would go over is refused from its header too.
  frame_reader reader(limit);
  EXPECT_TRUE(feed(reader, frame(binary, pattern(3000), {.fin = false})).empty());
  EXPECT_TRUE(failed_with(feed(reader, header(continuation, limit - 3000 + 1)), 1009));
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ServerFrameReader, CloseCodesAreCheckedAndReported) {
  for (const std::uint16_t code : {1000, 1001, 1003, 1007, 1011, 3000, 4999}) {
    SCOPED_TRACE(code);
    frame_reader reader(large_limit);
    EXPECT_EQ(feed(reader, frame(close, close_payload(code, "bye"))),
              (std::vector<seen>{{kind::close, "bye", code}}));
    EXPECT_TRUE(reader.done());
  }
  // Never sent (1005, 1006, 1015 are for reports only), unassigned, or out of range.
  for (const std::uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    SCOPED_TRACE(code);
    EXPECT_TRUE(failed_with(read_all({frame(close, close_payload(code))}), 1002));
  }
  EXPECT_EQ(read_all({frame(close, "")}), (std::vector<seen>{{kind::close, "", 1005}}));
  const std::string reason = "\xC3\xA7" "a va \xE2\x9C\x93";  // "ça va ✓"
  EXPECT_EQ(read_all({frame(close, close_payload(1000, reason))}),
            (std::vector<seen>{{kind::close, reason, 1000}}));
}

TEST(ServerFrameReader, NothingComesAfterACloseOrAFailure) {
  const std::string after = frame(binary, "after") + frame(ping, "?");
  {
    frame_reader reader(large_limit);
    const auto events =
        feed(reader, frame(binary, "before") + frame(close, close_payload(1000)) + after);
    EXPECT_EQ(events, (std::vector<seen>{{kind::message, "before"}, {kind::close, "", 1000}}));
    EXPECT_TRUE(reader.done());
    EXPECT_TRUE(feed(reader, after).empty()) << "nor from a later input";
    EXPECT_EQ(reader.buffered(), 0u);
  }
  {
    // The close arrives while a fragmented message is unfinished: the fragments go too.
    frame_reader reader(large_limit);
    EXPECT_TRUE(feed(reader, frame(binary, "half", {.fin = false})).empty());
    EXPECT_EQ(feed(reader, frame(close, "") + after), (std::vector<seen>{{kind::close, "", 1005}}));
    EXPECT_EQ(reader.buffered(), 0u);
  }
  {
    frame_reader reader(large_limit);
    const auto events =
        feed(reader, frame(ping, "p") + frame(binary, "x", {.masked = false}) + after);
    EXPECT_EQ(events.front(), (seen{kind::ping, "p"}));
    EXPECT_TRUE(failed_with(events, 1002, 1));
    EXPECT_TRUE(reader.done());
    EXPECT_TRUE(feed(reader, after).empty());
  }
}

TEST(ServerHandshakeKey, TheAcceptKeyIsTheRfcExample) {
  // RFC 6455 §1.3.
  EXPECT_EQ(server::websocket_accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(ServerHandshakeKey, OnlyVersion13WithTheBase64OfSixteenBytesIsAccepted) {
  using server::answer_upgrade;
  using result = server::upgrade_answer::kind;
  const std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==";  // "the sample nonce"
  const auto accepted = answer_upgrade({key, "13"});
  EXPECT_EQ(accepted.result, result::accept);
  EXPECT_EQ(accepted.accept_key, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

  for (const std::string_view version : {"8", "", "12", "14"}) {
    EXPECT_EQ(answer_upgrade({key, version}).result, result::bad_version) << version;
  }
  for (const std::string_view bad : {
           "",                          // missing
           "dGhlIHNhbXBsZSBub25j",      // 15 bytes
           "dGhlIHNhbXBsZSBub25jZSE=",  // 17 bytes
           "dGhlIHNhbXBsZSBub25jZSEh",  // 18 bytes, no padding
           "dGhlIHNh*XBsZSBub25jZQ==",  // outside the alphabet
           "dGhlIHNh XBsZSBub25jZQ==",  // a space inside
           " GhlIHNhbXBsZSBub25jZQ==",  // a space in front
       }) {
    EXPECT_EQ(answer_upgrade({bad, "13"}).result, result::bad_key) << '"' << bad << '"';
  }
}

TEST(ServerHandshakeKey, PaddingInsideTheKeyIsNotBase64) {
  // '=' may only end base64 (RFC 4648 §3.3); a decoder that reads it as zero bits would take
  // these for 16 bytes.
  using result = server::upgrade_answer::kind;
  for (const std::string_view bad : {"dGhlIHNh=XBsZSBub25jZQ==", "========================"}) {
    EXPECT_EQ(server::answer_upgrade({bad, "13"}).result, result::bad_key) << bad;
  }
}

}  // namespace
}  // namespace parley::test
