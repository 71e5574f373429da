#include "samples.hpp"

#include <msgpack.hpp>

#include <sstream>
#include <utility>

namespace parley::test {
namespace proto = parley::proto;
namespace {

constexpr std::string_view sample_cid = "0123456789abcdef0123456789abcdef";
constexpr std::string_view sample_token = "header.payload.signature";

proto::room_event sample_event(std::uint64_t seq, std::string from, std::string text) {
  proto::room_event ev;
  ev.room = "general";
  ev.epoch = 4096;
  ev.seq = seq;
  ev.kind = static_cast<std::uint32_t>(proto::event_kind::message);
  ev.from = std::move(from);
  ev.cid = std::string(sample_cid);
  ev.ts = 1700000000000 + seq;
  ev.text = std::move(text);
  return ev;
}

/// Raw MessagePack for hand-made (mostly invalid) inputs the encoder would never produce.
class raw_writer {
 public:
  raw_writer& array(std::uint32_t n) { return pk_.pack_array(n), *this; }
  raw_writer& map(std::uint32_t n) { return pk_.pack_map(n), *this; }
  raw_writer& uint(std::uint64_t v) { return pk_.pack_uint64(v), *this; }
  raw_writer& sint(std::int64_t v) { return pk_.pack_int64(v), *this; }
  raw_writer& str(std::string_view s) {
    pk_.pack_str(static_cast<std::uint32_t>(s.size()));
    pk_.pack_str_body(s.data(), static_cast<std::uint32_t>(s.size()));
    return *this;
  }
  std::string bytes() const { return std::string(buffer_.data(), buffer_.size()); }

 private:
  msgpack::sbuffer buffer_;
  msgpack::packer<msgpack::sbuffer> pk_{buffer_};
};

test_vector valid(std::string name, std::vector<proto::message> values) {
  std::string bytes;
  for (const auto& m : values) proto::encode(m, bytes);
  return {std::move(name), std::move(bytes), std::move(values), std::nullopt};
}

test_vector invalid(std::string name, std::string bytes, proto::decode_errc code) {
  return {std::move(name), std::move(bytes), {}, code};
}

/// `[8, {room: "general", cid: <cid>, text: <text>}]` with any text bytes.
std::string raw_send(std::string_view text) {
  return raw_writer{}
      .array(2).uint(8).map(3)
      .str("room").str("general")
      .str("cid").str(sample_cid)
      .str("text").str(text)
      .bytes();
}

}  // namespace

std::vector<proto::message> documented_messages() {
  proto::hello hello{1, 1, std::string(sample_token), "parley-cli/0.1.0"};

  proto::welcome welcome;
  welcome.version = 1;
  welcome.session = "s-7f3a";
  welcome.user = "alice";
  welcome.tenant = "acme";
  welcome.server_time = 1700000000000;

  proto::join join{1, "general", proto::resume_point{4096, 41}};

  proto::joined joined{1, "general", 4096, 43, true,
                       {{"alice", proto::presence_status::online, 0},
                        {"bob", proto::presence_status::away, 1699999990000}}};

  proto::room_list rooms{3,
                         {{"general", false, 4096, 43, true}, {"ops", true, 77, 0, false}}};

  proto::send send{"general", std::string(sample_cid), "hi bob"};
  proto::ack ack{"general", std::string(sample_cid), 4096, 44, 1700000000044, false};

  proto::history history{4, "general", std::nullopt, 41, 100};
  proto::history_page page{4, "general", 4096,
                           {sample_event(42, "bob", "hello"), sample_event(43, "alice", "hey")},
                           false};

  proto::error error{5, proto::error_code::rate_limited, "slow down", "general",
                     std::string(sample_cid), 0, 250};

  return {
      hello,
      welcome,
      join,
      joined,
      proto::leave{2, "general"},
      proto::list_rooms{3},
      rooms,
      send,
      ack,
      proto::event{sample_event(44, "alice", "hi bob")},
      history,
      page,
      proto::typing{"general", true},
      proto::typing_update{"general", "bob", true},
      proto::set_presence{proto::presence_status::away},
      proto::presence{{"bob", proto::presence_status::offline, 1700000005000}},
      proto::ping{7},
      proto::pong{7},
      error,
      proto::ok{2},
      proto::refresh{6, std::string(sample_token)},
      proto::create_room{7, "ops", true},
      proto::add_member{8, "ops", "bob"},
  };
}

std::vector<test_vector> all_vectors() {
  std::vector<test_vector> vectors;
  for (const auto& m : documented_messages()) {
    vectors.push_back(valid(std::string(proto::type_name(proto::type_of(m))), {m}));
  }
  const auto messages = documented_messages();
  // What a client sends right after welcome: rejoin with a resume point, then an outbox entry.
  vectors.push_back(valid("batch", {messages[2], messages[7]}));
  // A first join announced to the room's present sessions: the entry names the room.
  vectors.push_back(
      valid("presence_newcomer", {proto::presence{{"carol", proto::presence_status::online, 0, "general"}}}));
  // A newer peer's type 99 with a body this build does not know.
  vectors.push_back({"unknown_type", raw_writer{}.array(2).uint(99).map(1).str("x").uint(1).bytes(),
                     {proto::unknown_message{99}}, std::nullopt});

  using proto::decode_errc;
  std::string send_bytes = proto::encode(messages[7]);
  vectors.push_back(invalid("bad_empty", "", decode_errc::empty));
  vectors.push_back(
      invalid("bad_truncated", send_bytes.substr(0, send_bytes.size() - 1), decode_errc::truncated));
  vectors.push_back(invalid("bad_reserved_byte", "\xc1", decode_errc::malformed));
  vectors.push_back(invalid("bad_not_array", raw_writer{}.map(0).bytes(), decode_errc::malformed));
  vectors.push_back(
      invalid("bad_type_zero", raw_writer{}.array(2).uint(0).map(0).bytes(), decode_errc::malformed));
  vectors.push_back(invalid("bad_deep", std::string(7, '\x91') + "\x90", decode_errc::too_deep));
  // array32 declaring 2^32-1 elements in 5 bytes: refused before anything is allocated.
  vectors.push_back(invalid("bad_huge_length", "\xdd\xff\xff\xff\xff", decode_errc::truncated));
  vectors.push_back(invalid("bad_huge_string",
                            raw_writer{}.array(2).uint(8).map(1).str("room").bytes() +
                                "\xdb\xff\xff\xff\xff" + "ab",
                            decode_errc::truncated));
  vectors.push_back(invalid("bad_utf8", raw_send("caf\xc3"), decode_errc::invalid_utf8));
  vectors.push_back(invalid("bad_overlong_utf8", raw_send("\xc0\xaf"), decode_errc::invalid_utf8));
  vectors.push_back(invalid("bad_missing_field",
                            raw_writer{}.array(2).uint(8).map(2)
                                .str("room").str("general")
                                .str("text").str("hi")
                                .bytes(),
                            decode_errc::missing_field));
  vectors.push_back(invalid("bad_wrong_type",
                            raw_writer{}.array(2).uint(3).map(1).str("room").uint(5).bytes(),
                            decode_errc::wrong_type));
  vectors.push_back(invalid("bad_negative",
                            raw_writer{}.array(2).uint(3).map(2)
                                .str("id").sint(-1)
                                .str("room").str("general")
                                .bytes(),
                            decode_errc::out_of_range));
  vectors.push_back(invalid("bad_seq_over_2_53",
                            raw_writer{}.array(2).uint(3).map(2)
                                .str("room").str("general")
                                .str("resume").map(2)
                                .str("epoch").uint(1)
                                .str("seq").uint(std::uint64_t{1} << 53)
                                .bytes(),
                            decode_errc::out_of_range));
  return vectors;
}

std::string_view errc_name(proto::decode_errc code) {
  using proto::decode_errc;
  switch (code) {
    case decode_errc::empty: return "empty";
    case decode_errc::truncated: return "truncated";
    case decode_errc::malformed: return "malformed";
    case decode_errc::too_large: return "too_large";
    case decode_errc::too_deep: return "too_deep";
    case decode_errc::wrong_type: return "wrong_type";
    case decode_errc::missing_field: return "missing_field";
    case decode_errc::invalid_utf8: return "invalid_utf8";
    case decode_errc::out_of_range: return "out_of_range";
  }
  return "unknown";
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string hex;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    hex += digits[b >> 4];
    hex += digits[b & 0x0f];
    const bool line_end = i % 16 == 15 || i + 1 == bytes.size();
    hex += line_end ? '\n' : ' ';
  }
  return hex;
}

std::optional<std::string> from_hex(std::string_view hex) {
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string bytes;
  int high = -1;
  for (char c : hex) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    const int value = nibble(c);
    if (value < 0) return std::nullopt;
    if (high < 0) {
      high = value;
    } else {
      bytes += static_cast<char>(high << 4 | value);
      high = -1;
    }
  }
  if (high >= 0) return std::nullopt;
  return bytes;
}

std::string notation(std::string_view bytes) {
  std::ostringstream text;
  std::size_t offset = 0;
  while (offset < bytes.size()) {
    const msgpack::object_handle value = msgpack::unpack(bytes.data(), bytes.size(), offset);
    text << value.get() << "\n";
  }
  return text.str();
}

std::string manifest(const std::vector<test_vector>& vectors) {
  std::string text =
      "# name expectation: `ok` = decodes to the value documented in docs/PROTOCOL.md,\n"
      "# otherwise the decode_errc the decoder must report. Generated by protocol_vectors.\n";
  for (const auto& v : vectors) {
    text += v.name + " " + std::string(v.failure ? errc_name(*v.failure) : "ok") + "\n";
  }
  return text;
}

}  // namespace parley::test
