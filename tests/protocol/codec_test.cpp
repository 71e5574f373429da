// Codec: round trips, batching, forward compatibility and every class of bad input.
#include "samples.hpp"
#include "wire_edit.hpp"

#include "parley/protocol/codec.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>

namespace parley::test {
namespace {

namespace proto = parley::proto;
using proto::decode_errc;
using namespace std::string_view_literals;

/// Every message type with every field set to a non-default value.
std::vector<proto::message> rich_messages() {
  const proto::server_params params{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const proto::room_event ev{"r", 5, 6, 2, "alice", "cid-1", 7, "edited", 3};
  const proto::presence_entry member{"bob", proto::presence_status::away, 9};
  return {
      proto::hello{2, 3, "tok", "cli/1"},
      proto::welcome{2, "sess", "alice", "acme", 123, params},
      proto::join{1, "room", proto::resume_point{2, 3}},
      proto::joined{1, "room", 2, 3, true, {member, {"carol", proto::presence_status::online, 1}}},
      proto::leave{4, "room"},
      proto::list_rooms{5},
      proto::room_list{6, {{"a", true, 1, 2, true}, {"b", false, 3, 4, false}}},
      proto::send{"room", "cid", "text \xe2\x82\xac"},
      proto::ack{"room", "cid", 1, 2, 3, true},
      proto::event{ev},
      proto::history{7, "room", 10, 2, 20},
      proto::history_page{8, "room", 9, {ev, ev}, true},
      proto::typing{"room", false},
      proto::typing_update{"room", "bob", false},
      proto::set_presence{proto::presence_status::away},
      proto::presence{member},
      proto::ping{(std::uint64_t{1} << 53) - 1},
      proto::pong{42},
      proto::error{9, proto::error_code::not_joined, "msg", "room", "cid", 77, 250},
      proto::ok{10},
      proto::refresh{11, "tok2"},
      proto::create_room{12, "room", true},
      proto::add_member{13, "room", "dave"},
      proto::unknown_message{4000},
  };
}

/// Required body keys per message type, as docs/PROTOCOL.md lists them.
const std::map<std::string, std::set<std::string>>& required_keys() {
  static const std::map<std::string, std::set<std::string>> keys{
      {"hello", {"min", "max", "token"}},
      {"welcome", {"v", "user", "tenant", "params"}},
      {"join", {"room"}},
      {"joined", {"room", "epoch", "head"}},
      {"leave", {"room"}},
      {"list_rooms", {}},
      {"room_list", {}},
      {"send", {"room", "cid", "text"}},
      {"ack", {"room", "cid", "epoch", "seq", "ts"}},
      {"event", {"room", "epoch", "seq", "kind", "ts"}},
      {"history", {"room"}},
      {"history_page", {"room", "epoch"}},
      {"typing", {"room", "on"}},
      {"typing_update", {"room", "user", "on"}},
      {"set_presence", {"status"}},
      {"presence", {"user", "status"}},
      {"ping", {}},
      {"pong", {}},
      {"error", {"code"}},
      {"ok", {}},
      {"refresh", {"token"}},
      {"create_room", {"room"}},
      {"add_member", {"room", "user"}},
  };
  return keys;
}

std::string name_of(const proto::message& m) {
  return std::string(proto::type_name(proto::type_of(m)));
}

decode_errc error_of(std::string_view bytes, const proto::decode_limits& limits = {}) {
  const proto::decode_result r = proto::decode_frame(bytes, limits);
  EXPECT_FALSE(r) << "decoded although an error was expected";
  EXPECT_TRUE(r.messages.empty());
  return r.error ? r.error->code : decode_errc{};
}

/// Calls `check(bytes, key, path)` for every body key of every documented message, where
/// `bytes` is the message's encoding and `path` is "type.key" (also the failure's detail).
void for_each_documented_key(
    const std::function<void(const std::string&, const body_key&, const std::string&)>& check) {
  for (const auto& m : documented_messages()) {
    const std::string bytes = proto::encode(m);
    for (const auto& k : body_keys(bytes)) {
      const std::string path = name_of(m) + "." + k.key;
      SCOPED_TRACE(path);
      check(bytes, k, path);
    }
  }
}

std::string concat(const std::vector<proto::message>& messages) {
  std::string frame;
  for (const auto& m : messages) proto::encode(m, frame);
  return frame;
}

// ---- round trips ------------------------------------------------------------------------------

TEST(Codec, RoundTripsEveryTypeWithEveryFieldSet) {
  for (const auto& m : rich_messages()) {
    SCOPED_TRACE(name_of(m));
    const std::string bytes = proto::encode(m);
    const proto::decode_result r = proto::decode_frame(bytes);
    ASSERT_TRUE(r) << r.error->detail;
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0], m);
    EXPECT_EQ(proto::encode(r.messages[0]), bytes);
  }
}

TEST(Codec, RichSamplesCoverEveryMessageType) {
  std::set<std::size_t> indices;
  for (const auto& m : rich_messages()) indices.insert(m.index());
  EXPECT_EQ(indices.size(), std::variant_size_v<proto::message>);
}

TEST(Codec, RoundTripsDefaultValues) {
  for (const auto& m : rich_messages()) {
    SCOPED_TRACE(name_of(m));
    // Same alternative, default-constructed: required keys are written, optional ones left out.
    proto::message blank = std::visit([](const auto& v) -> proto::message {
      return std::decay_t<decltype(v)>{};
    }, m);
    if (std::holds_alternative<proto::unknown_message>(blank)) continue;
    const proto::decode_result r = proto::decode_frame(proto::encode(blank));
    ASSERT_TRUE(r) << r.error->detail;
    EXPECT_EQ(r.messages.at(0), blank);
  }
}

TEST(Codec, OmitsOptionalKeysHoldingTheirDefault) {
  EXPECT_EQ(to_hex(proto::encode(proto::ping{})), "92 11 80\n");
  EXPECT_EQ(to_hex(proto::encode(proto::ok{})), "92 14 80\n");
  const auto keys = body_keys(proto::encode(proto::history{0, "r", std::nullopt, std::nullopt, 50}));
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_EQ(keys[0].key, "room");
  // A present optional is written even when it holds 0: before=0 is not "absent".
  EXPECT_EQ(body_keys(proto::encode(proto::history{0, "r", 0, std::nullopt, 50})).size(), 2u);
}

TEST(Codec, RequiredKeysAreAlwaysWrittenAndEnforced) {
  for (const auto& m : documented_messages()) {
    const std::string name = name_of(m);
    SCOPED_TRACE(name);
    const std::string bytes = proto::encode(m);
    const auto& required = required_keys().at(name);
    std::set<std::string> written;
    for (const auto& k : body_keys(bytes)) written.insert(k.key);
    for (const auto& key : required) EXPECT_TRUE(written.count(key)) << key;
    for (const auto& key : written) {
      SCOPED_TRACE(key);
      const proto::decode_result r = proto::decode_frame(with_key(bytes, key, std::nullopt));
      if (required.count(key)) {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error->code, decode_errc::missing_field);
        EXPECT_EQ(r.error->detail, name + "." + key);
      } else {
        EXPECT_TRUE(r) << r.error->detail;
      }
    }
  }
}

TEST(Codec, NestedRequiredKeysAreEnforced) {
  const auto missing = [](const proto::message& m, std::string_view key, const std::string& value) {
    return error_of(with_key(proto::encode(m), key, value));
  };
  const auto docs = documented_messages();
  // resume without seq
  EXPECT_EQ(missing(docs[2], "resume", "\x81\xa5" "epoch" "\x01"), decode_errc::missing_field);
  // a member without status, reported with its path
  const proto::decode_result r =
      proto::decode_frame(with_key(proto::encode(docs[3]), "members", "\x91\x81\xa4user\xa3" "bob"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error->code, decode_errc::missing_field);
  EXPECT_EQ(r.error->detail, "joined.members[0].status");
  // params missing every key
  EXPECT_EQ(missing(docs[1], "params", "\x80"), decode_errc::missing_field);
}

TEST(Codec, NilMeansAbsent) {
  const auto docs = documented_messages();
  const std::string nil = "\xc0";
  const proto::decode_result r = proto::decode_frame(with_key(proto::encode(docs[2]), "resume", nil));
  ASSERT_TRUE(r);
  EXPECT_FALSE(std::get<proto::join>(r.messages[0]).resume.has_value());
  EXPECT_EQ(error_of(with_key(proto::encode(docs[7]), "text", nil)), decode_errc::missing_field);
}

// ---- framing ----------------------------------------------------------------------------------

TEST(Codec, DecodesABatchInOrder) {
  const auto docs = documented_messages();
  const proto::decode_result r = proto::decode_frame(concat(docs));
  ASSERT_TRUE(r) << r.error->detail;
  EXPECT_EQ(r.messages, docs);
}

TEST(Codec, BatchUpToMaxBatchIsAcceptedAndOneMoreIsTooLarge) {
  proto::decode_limits limits;
  limits.max_batch = 4;
  const std::vector<proto::message> four(4, proto::ping{1});
  EXPECT_TRUE(proto::decode_frame(concat(four), limits));
  const proto::decode_result r = proto::decode_frame(concat({5, proto::ping{1}}), limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error->code, decode_errc::too_large);
  EXPECT_EQ(r.error->index, 4u);
}

TEST(Codec, AFailingMessageRejectsTheWholeFrameAndSaysWhich) {
  std::string frame = concat({proto::ping{1}});
  frame += with_key(proto::encode(proto::send{"r", "c", "t"}), "text", packed(5));
  const proto::decode_result r = proto::decode_frame(frame);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.messages.empty());
  EXPECT_EQ(r.error->code, decode_errc::wrong_type);
  EXPECT_EQ(r.error->index, 1u);
  EXPECT_EQ(r.error->detail, "send.text");
}

TEST(Codec, FrameOverMaxFrameIsTooLarge) {
  proto::decode_limits limits;
  limits.max_frame = 16;
  const std::string frame = concat(std::vector<proto::message>(8, proto::ping{1}));
  ASSERT_GT(frame.size(), 16u);
  EXPECT_EQ(error_of(frame, limits), decode_errc::too_large);
  EXPECT_EQ(error_of(std::string(65537, '\x90')), decode_errc::too_large);
}

TEST(Codec, EmptyFrame) { EXPECT_EQ(error_of(""), decode_errc::empty); }

// ---- forward compatibility --------------------------------------------------------------------

TEST(Codec, UnknownKeysAreIgnored) {
  for (const auto& m : documented_messages()) {
    SCOPED_TRACE(name_of(m));
    std::string bytes = proto::encode(m);
    bytes = with_key(bytes, "zz_future", packed(std::vector<std::map<std::string, int>>{{{"a", 1}}}));
    bytes = with_key(bytes, "zz_number", packed(2.5));
    const proto::decode_result r = proto::decode_frame(bytes);
    ASSERT_TRUE(r) << r.error->detail;
    EXPECT_EQ(r.messages.at(0), m);
  }
}

TEST(Codec, UnknownTypeDecodesToUnknownMessage) {
  const proto::decode_result r = proto::decode_frame("\x92\xcd\x0f\xa0\x81\xa1x\x01"sv);  // [4000, {x:1}]
  ASSERT_TRUE(r);
  EXPECT_EQ(r.messages.at(0), proto::message{proto::unknown_message{4000}});
  EXPECT_EQ(proto::type_name(4000), "unknown");
}

TEST(Codec, MessageShapeIsEnforced) {
  EXPECT_EQ(error_of("\x91\x01"sv), decode_errc::malformed);              // [1]
  EXPECT_EQ(error_of("\x93\x11\x80\x80"sv), decode_errc::malformed);      // [17, {}, {}]
  EXPECT_EQ(error_of("\x92\x11\x90"sv), decode_errc::malformed);          // [17, []]
  EXPECT_EQ(error_of("\x92\xa1x\x80"sv), decode_errc::malformed);         // ["x", {}]
  EXPECT_EQ(error_of("\x92\xff\x80"sv), decode_errc::malformed);          // [-1, {}]
  EXPECT_EQ(error_of("\x92\x00\x80"sv), decode_errc::malformed);          // [0, {}]
  EXPECT_EQ(error_of("\x92\xcf\x00\x00\x00\x01\x00\x00\x00\x00\x80"sv),  // [2^32, {}]
            decode_errc::out_of_range);
  EXPECT_EQ(error_of("\x92\x11\x81\x01\x01"sv), decode_errc::malformed);  // {1: 1}
  EXPECT_EQ(error_of("\xc1"sv), decode_errc::malformed);                  // reserved byte
  EXPECT_EQ(error_of("\x80"sv), decode_errc::malformed);                  // a bare map
}

TEST(Codec, RepeatedKeyIsMalformed) {
  // [17, {n: 1, n: 2}]
  EXPECT_EQ(error_of("\x92\x11\x82\xa1n\x01\xa1n\x02"sv), decode_errc::malformed);
}

// ---- truncation and hostile lengths -----------------------------------------------------------

TEST(Codec, TruncatedAtEveryOffsetOfEveryMessage) {
  for (const auto& m : rich_messages()) {
    SCOPED_TRACE(name_of(m));
    const std::string bytes = proto::encode(m);
    for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
      EXPECT_EQ(error_of(std::string_view(bytes).substr(0, cut)), decode_errc::truncated)
          << "cut at " << cut;
    }
  }
}

TEST(Codec, HugeDeclaredLengthsFailFastWithoutAllocating) {
  proto::decode_limits unbounded;
  unbounded.max_array = SIZE_MAX;
  unbounded.max_string = SIZE_MAX;
  for (std::string_view input : {"\xdd\xff\xff\xff\xff"sv,           // array32
                            "\xdf\xff\xff\xff\xff"sv,           // map32
                            "\xdb\xff\xff\xff\xff"sv,           // str32
                            "\xc6\xff\xff\xff\xff"sv,           // bin32
                            "\xc9\xff\xff\xff\xff\x01"sv,       // ext32
                            "\x92\x08\xdd\xff\xff\xff\xff"sv})  // nested array32
  {
    SCOPED_TRACE(to_hex(input));
    // Bounded by the input, not by the configured limits: even "unlimited" stays safe.
    EXPECT_EQ(error_of(input), decode_errc::truncated);
    EXPECT_EQ(error_of(input, unbounded), decode_errc::truncated);
  }
}

TEST(Codec, ConfiguredCountAndStringLimitsGiveTooLarge) {
  proto::decode_limits limits;
  limits.max_array = 1;
  EXPECT_EQ(error_of(proto::encode(documented_messages()[3]), limits), decode_errc::too_large);
  limits = {};
  limits.max_string = 4;
  EXPECT_EQ(error_of(proto::encode(proto::send{"room", "c", "hello"}), limits),
            decode_errc::too_large);
}

TEST(Codec, NestingDeeperThanMaxDepthIsTooDeep) {
  // [17, {x: [[[[]]]]}] is 6 containers deep: allowed, the unknown key is ignored.
  EXPECT_TRUE(proto::decode_frame("\x92\x11\x81\xa1x\x91\x91\x91\x90"sv));
  EXPECT_EQ(error_of("\x92\x11\x81\xa1x\x91\x91\x91\x91\x90"sv), decode_errc::too_deep);
  EXPECT_EQ(error_of(std::string(60000, '\x91')), decode_errc::too_deep);
}

// ---- field types and ranges -------------------------------------------------------------------

/// A value of a MessagePack type other than `type`.
std::string other_type_than(msgpack::type::object_type type) {
  return type == msgpack::type::STR ? packed(1) : packed(std::string("x"));
}

TEST(Codec, WrongTypeForEveryKnownKey) {
  for_each_documented_key([](const std::string& bytes, const body_key& k, const std::string& path) {
    const proto::decode_result r = proto::decode_frame(with_key(bytes, k.key, other_type_than(k.type)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error->code, decode_errc::wrong_type);
    EXPECT_EQ(r.error->detail, path);
  });
}

TEST(Codec, FloatsCountOnlyWhenTheyHoldAnExactInteger) {
  const std::string ping = proto::encode(proto::ping{1});
  const auto nonce = [&](std::string_view raw) { return with_key(ping, "n", std::string(raw)); };
  // float64 1.0 and 2^40: accepted, as some JavaScript encoders write large numbers this way.
  proto::decode_result r = proto::decode_frame(nonce("\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"sv));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<proto::ping>(r.messages[0]).nonce, 1u);
  r = proto::decode_frame(nonce("\xcb\x42\x70\x00\x00\x00\x00\x00\x00"sv));
  ASSERT_TRUE(r);
  EXPECT_EQ(std::get<proto::ping>(r.messages[0]).nonce, std::uint64_t{1} << 40);
  EXPECT_EQ(error_of(nonce("\xcb\x3f\xf8\x00\x00\x00\x00\x00\x00"sv)), decode_errc::wrong_type);  // 1.5
  EXPECT_EQ(error_of(nonce("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00"sv)), decode_errc::wrong_type);  // NaN
  EXPECT_EQ(error_of(nonce("\xcb\x7f\xf0\x00\x00\x00\x00\x00\x00"sv)), decode_errc::wrong_type);  // +inf
  EXPECT_EQ(error_of(nonce("\xcb\xbf\xf0\x00\x00\x00\x00\x00\x00"sv)), decode_errc::out_of_range);  // -1.0
  EXPECT_EQ(error_of(nonce("\xcb\x43\x40\x00\x00\x00\x00\x00\x00"sv)), decode_errc::out_of_range);  // 2^53
  const std::string join = proto::encode(documented_messages()[2]);
  EXPECT_EQ(error_of(with_key(join, "id", std::string("\xcb\x41\xf0\x00\x00\x00\x00\x00\x00"sv))),
            decode_errc::out_of_range);  // 2^32 in a uint32 field
}

TEST(Codec, NegativeAndOverwideIntegersAreOutOfRange) {
  for_each_documented_key([](const std::string& bytes, const body_key& k, const std::string&) {
    if (k.type != msgpack::type::POSITIVE_INTEGER) return;
    EXPECT_EQ(error_of(with_key(bytes, k.key, packed(-1))), decode_errc::out_of_range);
    // 2^53 exceeds even the 64-bit fields: JavaScript could not hold it exactly.
    EXPECT_EQ(error_of(with_key(bytes, k.key, packed(std::uint64_t{1} << 53))),
              decode_errc::out_of_range);
  });
}

TEST(Codec, ThirtyTwoBitFieldsRejectTwoToThe32) {
  const std::string over = packed(std::uint64_t{1} << 32);
  const auto docs = documented_messages();
  EXPECT_EQ(error_of(with_key(proto::encode(docs[2]), "id", over)), decode_errc::out_of_range);
  EXPECT_EQ(error_of(with_key(proto::encode(docs[10]), "limit", over)), decode_errc::out_of_range);
  EXPECT_EQ(error_of(with_key(proto::encode(docs[18]), "code", over)), decode_errc::out_of_range);
  EXPECT_EQ(error_of(with_key(proto::encode(docs[0]), "min", over)), decode_errc::out_of_range);
  // The 64-bit fields take it.
  EXPECT_TRUE(proto::decode_frame(with_key(proto::encode(docs[8]), "seq", over)));
  // Presence status is 0..2.
  EXPECT_EQ(error_of(with_key(proto::encode(docs[14]), "status", packed(3))),
            decode_errc::out_of_range);
  // Unknown error codes pass through for forward compatibility.
  const proto::decode_result r = proto::decode_frame(with_key(proto::encode(docs[18]), "code", packed(99)));
  ASSERT_TRUE(r);
  EXPECT_EQ(static_cast<std::uint32_t>(std::get<proto::error>(r.messages[0]).code), 99u);
}

// ---- UTF-8 ------------------------------------------------------------------------------------

const std::vector<std::string_view> bad_utf8 = {
    "\xc0\xaf",          // overlong '/'
    "\xe0\x80\xaf",      // overlong, 3 bytes
    "\xf0\x80\x80\xaf",  // overlong, 4 bytes
    "\xc1\xbf",          // overlong lead C1
    "\xed\xa0\x80",      // surrogate U+D800
    "\xed\xbf\xbf",      // surrogate U+DFFF
    "\xf4\x90\x80\x80",  // U+110000
    "\xf5\x80\x80\x80",  // lead over F4
    "\xff",              // never valid
    "\xe2\x82",          // truncated sequence
    "ok\xf0\x9f\x98",    // truncated at the end
    "\x80",              // lone continuation
    "\xc3\x28",          // bad continuation
};

TEST(Utf8, RejectsInvalidSequences) {
  for (std::string_view s : bad_utf8) EXPECT_FALSE(proto::valid_utf8(s)) << to_hex(s);
}

TEST(Utf8, AcceptsValidSequences) {
  for (std::string_view s : {std::string_view{}, std::string_view("plain ascii"),
                             std::string_view("caf\xc3\xa9"),           // é
                             std::string_view("\xe2\x82\xac"),          // €
                             std::string_view("\xed\x9f\xbf"),          // U+D7FF
                             std::string_view("\xee\x80\x80"),          // U+E000
                             std::string_view("\xf0\x9d\x84\x9e"),      // 𝄞
                             std::string_view("\xf4\x8f\xbf\xbf"),      // U+10FFFF
                             std::string_view("nul\0inside", 10)}) {
    EXPECT_TRUE(proto::valid_utf8(s)) << to_hex(s);
  }
}

TEST(Utf8, EveryTextFieldIsChecked) {
  const std::string surrogate = packed(std::string("\xed\xa0\x80"));
  for_each_documented_key([&](const std::string& bytes, const body_key& k, const std::string&) {
    if (k.type != msgpack::type::STR) return;
    EXPECT_EQ(error_of(with_key(bytes, k.key, surrogate)), decode_errc::invalid_utf8);
  });
  // Nested text: a member's user id.
  const std::string member(
      "\x91\x82\xa4user\xa2\xc0\xaf\xa6status\x00"sv);
  EXPECT_EQ(error_of(with_key(proto::encode(documented_messages()[3]), "members", member)),
            decode_errc::invalid_utf8);
  for (std::string_view s : bad_utf8) {
    EXPECT_EQ(error_of(proto::encode(proto::send{"r", "c", std::string(s)})), decode_errc::invalid_utf8);
  }
}

// ---- names ------------------------------------------------------------------------------------

TEST(Codec, NamesAndErrorMapping) {
  EXPECT_EQ(proto::type_name(1), "hello");
  EXPECT_EQ(proto::type_name(23), "add_member");
  EXPECT_EQ(proto::type_name(0), "unknown");
  EXPECT_EQ(proto::type_of(proto::event{}), 10u);
  EXPECT_EQ(proto::error_name(proto::error_code::rate_limited), "rate_limited");
  EXPECT_EQ(proto::error_name(proto::error_code::internal), "internal");
  EXPECT_EQ(proto::error_for(decode_errc::too_large), proto::error_code::too_large);
  EXPECT_EQ(proto::error_for(decode_errc::invalid_utf8), proto::error_code::invalid_utf8);
  EXPECT_EQ(proto::error_for(decode_errc::out_of_range), proto::error_code::invalid_argument);
  EXPECT_EQ(proto::error_for(decode_errc::truncated), proto::error_code::malformed);
  EXPECT_EQ(proto::error_for(decode_errc::missing_field), proto::error_code::malformed);
}

}  // namespace
}  // namespace parley::test
