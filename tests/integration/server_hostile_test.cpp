// Hostile clients against a real parley-server process: oversize and lying frames, deep and
// truncated MessagePack, invalid UTF-8 and wrong types, unknown and misdirected message types,
// requests before hello, trespassing on private rooms and other tenants, floods from many
// connections, stalled readers, idle sockets and broken HTTP. Each test checks the documented
// answer (docs/PROTOCOL.md §2, §3, §14-§17), that a well-behaved pair of clients keeps being
// served meanwhile, that nothing acknowledged to anyone is lost, and where an attack could cost
// memory, that the server's resident set stays bounded.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "server_fixture.hpp"

namespace parley::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using proto::error_code;

// ---- memory
// --------------------------------------------------------------------------------------

#if defined(__SANITIZE_ADDRESS__)
constexpr bool under_asan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool under_asan = true;
#else
constexpr bool under_asan = false;
#endif
#else
constexpr bool under_asan = false;
#endif

/// How much the server's resident set may grow across an attack. 32 MiB is generous next to
/// what the attacks below may legitimately hold (a few send queues, a few hundred sessions);
/// it is far below what an unbounded queue or a trusted 4 GiB length would take. Under ASan
/// freed blocks sit in a quarantine (256 MiB by default) and every byte has shadow, so there
/// the bound only catches runaway growth.
constexpr std::uint64_t rss_slack = (under_asan ? 320ull : 32ull) << 20;

/// The resident set size of process `pid` in bytes (VmRSS of /proc/<pid>/status), 0 if unknown.
std::uint64_t rss_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) {
      std::istringstream fields(line.substr(6));
      std::uint64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

/// Expects the server's RSS to have grown by less than rss_slack since `before`.
void expect_rss_bounded(const server_process& server, std::uint64_t before, const char* attack) {
  const std::uint64_t after = rss_bytes(server.pid());
  ASSERT_GT(before, 0u) << "no VmRSS for the server";
  ASSERT_GT(after, 0u) << "no VmRSS for the server (did it die?)";
  const std::uint64_t growth = after > before ? after - before : 0;
  EXPECT_LT(growth, rss_slack) << attack << ": RSS " << (before >> 10) << " KiB -> "
                               << (after >> 10) << " KiB";
}

/// How soon a well-behaved client must be answered while others flood the server (its one
/// thread interleaves sessions frame by frame). Three times more under ASan.
constexpr std::chrono::milliseconds prompt = under_asan ? 9s : 3s;

// ---- hand-made MessagePack
// -----------------------------------------------------------------------

/// A few MessagePack writers, for bytes our encoder would never produce.
namespace mp {

std::string be(std::uint64_t value, int bytes) {
  std::string out;
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8) {
    out += static_cast<char>((value >> shift) & 0xff);
  }
  return out;
}
std::string uint(std::uint64_t v) {
  if (v < 128) return std::string(1, static_cast<char>(v));
  if (v <= 0xff) return "\xcc" + be(v, 1);
  if (v <= 0xffff) return "\xcd" + be(v, 2);
  if (v <= 0xffffffffull) return "\xce" + be(v, 4);
  return "\xcf" + be(v, 8);
}
std::string neg(std::int64_t v) { return "\xd3" + be(static_cast<std::uint64_t>(v), 8); }
std::string f64(double d) {
  std::uint64_t bits = 0;
  std::memcpy(&bits, &d, sizeof bits);
  return "\xcb" + be(bits, 8);
}
std::string str(std::string_view s) {
  std::string head;
  if (s.size() < 32) {
    head = std::string(1, static_cast<char>(0xa0 | s.size()));
  } else if (s.size() <= 0xff) {
    head = "\xd9" + be(s.size(), 1);
  } else if (s.size() <= 0xffff) {
    head = "\xda" + be(s.size(), 2);
  } else {
    head = "\xdb" + be(s.size(), 4);
  }
  return head + std::string(s);
}
std::string bin(std::string_view s) { return "\xc4" + be(s.size(), 1) + std::string(s); }
std::string arr(std::size_t n) {
  return n < 16 ? std::string(1, static_cast<char>(0x90 | n)) : "\xdc" + be(n, 2);
}
std::string map(std::size_t n) {
  return n < 16 ? std::string(1, static_cast<char>(0x80 | n)) : "\xde" + be(n, 2);
}
const std::string nil = "\xc0";
const std::string yes = "\xc3";

/// `[type, {key: value, ...}]` with the values already encoded.
std::string message(std::uint64_t type,
                    const std::vector<std::pair<std::string, std::string>>& body) {
  std::string out = arr(2) + uint(type) + map(body.size());
  for (const auto& [key, value] : body) out += str(key) + value;
  return out;
}

}  // namespace mp

// ---- well-behaved bystanders
// ---------------------------------------------------------------------

/// One acknowledged send, as the sender saw it.
struct acked_send {
  std::string user;
  std::string cid;
  std::uint64_t seq = 0;
};

/// Time left until `until`, never negative.
std::chrono::milliseconds left_until(steady::time_point until) {
  return std::max(std::chrono::duration_cast<std::chrono::milliseconds>(until - steady::now()),
                  std::chrono::milliseconds(0));
}

/// Sends and waits, within `bound`, for this send's ack and then its own event, passing over
/// events of others and presence that may be queued ahead of them. Throws otherwise.
proto::ack post_amid(wire_client& client, const std::string& room, const std::string& cid,
                     const std::string& text, std::chrono::milliseconds bound = reply_wait) {
  client.send(proto::send{room, cid, text});
  const auto until = steady::now() + bound;
  std::optional<proto::ack> ack;
  for (;;) {
    auto got = client.next(left_until(until));
    if (!got) throw std::runtime_error("send " + cid + ": no ack and own event in time");
    if (const auto* a = std::get_if<proto::ack>(&*got)) {
      if (a->cid != cid)
        throw std::runtime_error("ack for " + a->cid + " while waiting for " + cid);
      ack = *a;
    } else if (const auto* e = std::get_if<proto::error>(&*got)) {
      throw std::runtime_error("send " + cid + ": error " +
                               std::string(proto::error_name(e->code)) + " (" + e->message + ")");
    } else if (const auto* ev = std::get_if<proto::event>(&*got)) {
      if (ev->ev.cid == cid && ev->ev.room == room) {
        if (!ack) throw std::runtime_error("own event before the ack for " + cid);
        if (ev->ev.seq != ack->seq) throw std::runtime_error("own event seq differs from ack");
        return *ack;
      }
    }
  }
}

/// Reads events until the one with `seq` in `room`; returns the other events seen before it.
/// Throws if it does not come within `bound` or is skipped over.
std::vector<proto::room_event> await_event(wire_client& client, const std::string& room,
                                           std::uint64_t seq,
                                           std::chrono::milliseconds bound = reply_wait) {
  const auto until = steady::now() + bound;
  std::vector<proto::room_event> others;
  for (;;) {
    auto got = client.next(left_until(until));
    if (!got) throw std::runtime_error("event " + std::to_string(seq) + " did not arrive in time");
    const auto* ev = std::get_if<proto::event>(&*got);
    if (ev == nullptr) {
      if (std::holds_alternative<proto::presence>(*got)) continue;
      throw std::runtime_error("expected events, got " +
                               std::string(proto::type_name(proto::type_of(*got))));
    }
    if (ev->ev.room == room && ev->ev.seq == seq) return others;
    if (ev->ev.room == room && ev->ev.seq > seq) {
      throw std::runtime_error("event " + std::to_string(seq) + " skipped");
    }
    others.push_back(ev->ev);
  }
}

/// Every event of `room` in seq order, read by `reader` (which must not be joined anywhere, so
/// that only answers arrive) in pages of `page`.
std::vector<proto::room_event> whole_history(wire_client& reader, const std::string& room,
                                             std::uint32_t page = 200) {
  std::vector<proto::room_event> all;
  std::uint64_t after = 0;
  for (int pages = 0; pages < 1000; ++pages) {
    reader.send(proto::history{77, room, std::nullopt, after, page});
    auto answer = reader.expect<proto::history_page>(10s);
    for (auto& ev : answer.events) all.push_back(std::move(ev));
    if (!answer.more || all.empty()) break;
    after = all.back().seq;
  }
  return all;
}

/// The room's log is 1..N without gaps and holds every acked send exactly once, at its seq;
/// when `exact`, it holds nothing else either.
void expect_history_holds(const std::vector<proto::room_event>& events,
                          const std::vector<acked_send>& acked, bool exact) {
  std::map<std::pair<std::string, std::string>, std::vector<std::uint64_t>> found;
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].seq, i + 1) << "gap or disorder in the room log";
    found[{events[i].from, events[i].cid}].push_back(events[i].seq);
  }
  for (const auto& a : acked) {
    const auto it = found.find({a.user, a.cid});
    ASSERT_NE(it, found.end()) << "acked " << a.user << "/" << a.cid << " (seq " << a.seq
                               << ") is missing from history";
    ASSERT_EQ(it->second.size(), 1u) << a.user << "/" << a.cid << " stored more than once";
    EXPECT_EQ(it->second.front(), a.seq) << a.user << "/" << a.cid;
  }
  if (exact) {
    EXPECT_EQ(events.size(), acked.size()) << "history holds sends nobody acked";
  }
}

/// A well-behaved pair in one room of the default tenant: `speaker` posts, `watcher` must see
/// every post promptly. Every ack is remembered for the final history check.
struct bystanders {
  const server_process& server;
  std::string room;
  std::unique_ptr<wire_client> speaker;
  std::unique_ptr<wire_client> watcher;
  std::vector<acked_send> acked;
  int posts = 0;

  bystanders(const server_process& s, std::string r)
      : server(s),
        room(std::move(r)),
        speaker(signed_in(s, "good-speaker")),
        watcher(signed_in(s, "good-watcher")) {
    join_room(*speaker, room);
    join_room(*watcher, room);
  }

  /// Posts one message; its ack must come within `bound` and the watcher must get its event
  /// within `bound` too. Returns the other events the watcher received before it.
  std::vector<proto::room_event> check_alive(std::chrono::milliseconds bound = reply_wait) {
    const std::string cid = "good-" + std::to_string(++posts);
    const auto start = steady::now();
    const auto ack = post_amid(*speaker, room, cid, "still here " + std::to_string(posts), bound);
    EXPECT_LT(steady::now() - start, bound);
    acked.push_back({"good-speaker", cid, ack.seq});
    return await_event(*watcher, room, ack.seq, bound);
  }

  /// The room's whole history, read by a fresh client.
  std::vector<proto::room_event> history() const {
    auto reader = signed_in(server, "good-auditor");
    return whole_history(*reader, room);
  }
};

/// The next message must be an error with `code`; returns it for further checks.
proto::error expect_error(wire_client& client, error_code code, const std::string& what) {
  auto got = client.next();
  while (got && std::holds_alternative<proto::presence>(*got)) got = client.next();
  if (!got) {
    ADD_FAILURE() << what << ": no answer";
    return {};
  }
  const auto* e = std::get_if<proto::error>(&*got);
  if (e == nullptr) {
    ADD_FAILURE() << what << ": expected error " << proto::error_name(code) << ", got "
                  << proto::type_name(proto::type_of(*got));
    return {};
  }
  EXPECT_EQ(e->code, code) << what << ": got " << proto::error_name(e->code) << " (" << e->message
                           << ")";
  return *e;
}

/// A ping of exactly `size` bytes: [17, {"n": 1, "pad": <str16>}]; the unknown key is ignored.
std::string ping_of_size(std::size_t size) {
  const std::string str16_head("\xda\x00\x00", 3);
  const std::size_t overhead = mp::message(17, {{"n", mp::uint(1)}, {"pad", str16_head}}).size();
  return mp::message(17, {{"n", mp::uint(1)}, {"pad", mp::str(std::string(size - overhead, 'p'))}});
}

// ---- frames and bytes ------------------------------------------------------------------------

TEST(ServerHostile, OversizeFramesAreClosed1009EvenFragmentedOrLyingAboutTheirLength) {
  server_process server({"--max-frame", "4096", "--max-text", "1000", "--rate-burst", "1000"});
  bystanders good(server, "lobby");
  good.check_alive();
  const auto rss_before = rss_bytes(server.pid());

  // Exactly max_frame bytes is a frame like any other; one byte more is 1009.
  auto alice = signed_in(server, "alice");
  ASSERT_EQ(ping_of_size(4096).size(), 4096u);
  alice->send_raw(ping_of_size(4096));
  EXPECT_EQ(alice->expect<proto::pong>().nonce, 1u);
  alice->send_raw(ping_of_size(4097));
  auto closed = alice->wait_closed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, 1009);

  // The bound is on the message, not on one fragment: a ping in three fragments is fine, 50
  // fragments of 100 bytes are closed as soon as their sum passes max_frame.
  auto split = raw_signed_in(server, "splitter");
  const std::string ping = ping_of_size(300);
  ASSERT_TRUE(split->send_frame(2, ping.substr(0, 100), false));
  ASSERT_TRUE(split->send_frame(0, ping.substr(100, 100), false));
  ASSERT_TRUE(split->send_frame(0, ping.substr(200), true));
  const auto pong = raw_messages(*split);
  ASSERT_EQ(pong.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<proto::pong>(pong.front()));
  ASSERT_TRUE(split->send_frame(2, std::string(100, '\x90'), false));
  for (int i = 0; i < 49; ++i) split->send_frame(0, std::string(100, '\x90'), false);
  EXPECT_EQ(split->read_close_code(), std::optional<std::uint16_t>(1009));

  // A header announcing 2^62 bytes is refused at once: the server neither waits for the data
  // nor reserves room for it.
  auto liar = raw_signed_in(server, "liar");
  ASSERT_TRUE(liar->send_frame_header(2, std::uint64_t{1} << 62));
  EXPECT_EQ(liar->read_close_code(), std::optional<std::uint16_t>(1009));

  // 200 connections that lie before even saying hello, 50 open at a time.
  int closed_1009 = 0;
  for (int wave = 0; wave < 4; ++wave) {
    std::vector<std::unique_ptr<raw_socket>> liars;
    for (int i = 0; i < 50; ++i) {
      liars.push_back(std::make_unique<raw_socket>(server.port()));
      ASSERT_TRUE(liars.back()->upgrade());
      liars.back()->send_frame_header(2, std::uint64_t{1} << 30);
    }
    for (auto& l : liars) {
      if (l->read_close_code() == std::optional<std::uint16_t>(1009)) ++closed_1009;
    }
    good.check_alive();
  }
  EXPECT_EQ(closed_1009, 200);
  // Each is counted once its session has ended (after the close, when the peer hangs up).
  split.reset();
  liar.reset();
  EXPECT_TRUE(wait_until([&] {
    return metric(server, "parley_errors_total{code=\"too_large\"}") == 203.0;
  })) << metric(server, "parley_errors_total{code=\"too_large\"}").value_or(-1);

  expect_rss_bounded(server, rss_before, "oversize and lying frames");
  EXPECT_TRUE(good.check_alive().empty());
  expect_history_holds(good.history(), good.acked, true);
}

TEST(ServerHostile, PingsFromAPeerThatNeverReadsAreOwedOnePongNotOneEach) {
  server_process server;
  bystanders good(server, "lobby");
  good.check_alive();
  auto pinger = raw_signed_in(server, "pinger", 4096);
  const auto rss_before = rss_bytes(server.pid());

  // 300,000 pings of 125 bytes, never reading a pong: 39 MB of answers, ten times what the
  // kernel buffers on a loopback connection. Kept one per ping they would be ~80 MB of
  // queue; RFC 6455 §5.5.3 lets the server owe only the latest one.
  const std::string payload(125, 'p');
  std::string ping_frame = {'\x89', static_cast<char>(0x80 | 125), 0, 0, 0, 0};  // mask 0
  ping_frame += payload;
  std::string burst;
  for (int i = 0; i < 1000; ++i) burst += ping_frame;
  for (int i = 0; i < 300; ++i) ASSERT_TRUE(pinger->write(burst)) << "after " << i << "000 pings";
  good.check_alive();
  const std::uint64_t bound = (under_asan ? 160ull : 8ull) << 20;  // ASan: quarantine, shadow
  const auto rss_after = rss_bytes(server.pid());
  EXPECT_LT(rss_after - std::min(rss_after, rss_before), bound)
      << "RSS " << (rss_before >> 10) << " KiB -> " << (rss_after >> 10) << " KiB";

  // Once it reads again, the pongs come, each with a ping's payload, and the session lives on.
  std::optional<ws_frame> frame = pinger->read_frame();
  ASSERT_TRUE(frame);
  EXPECT_EQ(frame->opcode, 10);
  EXPECT_EQ(frame->payload, payload);
}

TEST(ServerHostile, OversizeTextAndBatchesAreRefusedAndTheSessionStaysOpen) {
  server_process server({"--max-text", "100", "--rate-burst", "1000"});
  bystanders good(server, "lobby");
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  std::vector<acked_send> acked;

  // max_text counts bytes of UTF-8, not characters.
  alice->send(proto::send{"lobby", "t-101", std::string(101, 'x')});
  auto error = expect_error(*alice, error_code::too_large, "101 bytes");
  EXPECT_EQ(error.room, "lobby");
  EXPECT_EQ(error.cid, "t-101");
  std::string euros;
  for (int i = 0; i < 34; ++i) euros += "\xe2\x82\xac";  // 34 characters, 102 bytes
  alice->send(proto::send{"lobby", "t-euro-102", euros});
  EXPECT_EQ(expect_error(*alice, error_code::too_large, "34 euro signs").cid, "t-euro-102");
  acked.push_back({"alice", "t-100", post(*alice, "lobby", "t-100", std::string(100, 'y')).seq});
  acked.push_back({"alice", "t-euro-99", post(*alice, "lobby", "t-euro-99", euros.substr(3)).seq});

  // One message over max_batch rejects the whole frame: one error, not one answer processed.
  std::vector<proto::message> pings;
  for (std::uint64_t n = 0; n < 65; ++n) pings.push_back(proto::ping{n});
  alice->send_batch(pings);
  expect_error(*alice, error_code::too_large, "65 messages in one frame");
  expect_nothing_pending(*alice);
  pings.pop_back();
  alice->send_batch(pings);  // exactly max_batch
  for (std::uint64_t n = 0; n < 64; ++n) ASSERT_EQ(alice->expect<proto::pong>().nonce, n);

  // A frame is accepted or rejected whole: a good send ahead of a broken message is dropped.
  std::string frame = proto::encode(proto::send{"lobby", "dropped-with-frame", "never stored"});
  frame += "\xc1";
  alice->send_raw(frame);
  expect_error(*alice, error_code::malformed, "send followed by 0xc1");
  expect_nothing_pending(*alice);
  // A frame that decodes is processed message by message: only the oversize send is refused.
  alice->send_batch({proto::send{"lobby", "b-ok", "fits"},
                     proto::send{"lobby", "b-big", std::string(101, 'z')},
                     proto::send{"lobby", "b-ok-2", "fits too"}});
  auto ack = alice->expect<proto::ack>();
  EXPECT_EQ(ack.cid, "b-ok");
  acked.push_back({"alice", "b-ok", ack.seq});
  EXPECT_EQ(next_event(*alice).cid, "b-ok");
  EXPECT_EQ(expect_error(*alice, error_code::too_large, "oversize send in a batch").cid, "b-big");
  ack = alice->expect<proto::ack>();
  EXPECT_EQ(ack.cid, "b-ok-2");
  acked.push_back({"alice", "b-ok-2", ack.seq});
  EXPECT_EQ(next_event(*alice).cid, "b-ok-2");
  expect_nothing_pending(*alice);

  // The watcher saw exactly the accepted sends, in order.
  const auto seen = good.check_alive();
  std::vector<std::string> cids;
  for (const auto& ev : seen) cids.push_back(ev.cid);
  EXPECT_EQ(cids, (std::vector<std::string>{"t-100", "t-euro-99", "b-ok", "b-ok-2"}));
  acked.insert(acked.end(), good.acked.begin(), good.acked.end());
  expect_history_holds(good.history(), acked, true);
}

TEST(ServerHostile, DeepNestingIsMalformedWithoutCrashing) {
  server_process server({"--rate-burst", "1000"});
  bystanders good(server, "lobby");
  good.check_alive();
  const auto rss_before = rss_bytes(server.pid());

  std::string maps;
  for (int i = 0; i < 1000; ++i) maps += "\x81\xa1k";
  maps += "\x80";
  std::string deep_pad(1000, '\x91');
  deep_pad += "\x90";
  const std::vector<std::pair<std::string, std::string>> frames{
      {"arrays 1000 deep", std::string(1000, '\x91') + "\x90"},
      {"maps 1000 deep", maps},
      {"arrays 65000 deep", std::string(65000, '\x91') + "\x90"},
      {"send with a 1000-deep unknown key", mp::message(8, {{"room", mp::str("lobby")},
                                                            {"cid", mp::str("deep")},
                                                            {"text", mp::str("x")},
                                                            {"pad", deep_pad}})},
      {"7 deep, one past the bound", mp::message(8, {{"room", mp::str("lobby")},
                                                     {"cid", mp::str("seven")},
                                                     {"text", mp::str("x")},
                                                     {"pad", "\x91\x91\x91\x91\x90"}})},
  };
  std::vector<std::unique_ptr<wire_client>> attackers;
  for (int i = 0; i < 4; ++i) attackers.push_back(signed_in(server, "nester-" + std::to_string(i)));
  for (int round = 0; round < 40; ++round) {
    for (const auto& [what, bytes] : frames) {
      auto& attacker = *attackers[static_cast<std::size_t>(round) % attackers.size()];
      attacker.send_raw(bytes);
      expect_error(attacker, error_code::malformed, what);
    }
  }
  // Within the bound, an unknown key may hold a nested value (4 containers in all).
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  alice->send_raw(mp::message(8, {{"room", mp::str("lobby")},
                                  {"cid", mp::str("nested-ok")},
                                  {"text", mp::str("fine")},
                                  {"pad", "\x91\x91\x90"}}));
  const auto ack = alice->expect<proto::ack>();
  EXPECT_EQ(ack.cid, "nested-ok");

  expect_rss_bounded(server, rss_before, "deep nesting");
  const auto seen = good.check_alive();
  ASSERT_EQ(seen.size(), 1u);  // only alice's accepted send
  EXPECT_EQ(seen.front().cid, "nested-ok");
  auto acked = good.acked;
  acked.push_back({"alice", "nested-ok", ack.seq});
  expect_history_holds(good.history(), acked, true);
}

TEST(ServerHostile, DeclaredLengthsBeyondTheFrameAreMalformedAndCostNoMemory) {
  server_process server({"--rate-burst", "1000"});
  bystanders good(server, "lobby");
  good.check_alive();
  const auto rss_before = rss_bytes(server.pid());

  const std::string ten(10, 'a');
  const std::vector<std::pair<std::string, std::string>> frames{
      {"str32 of 4 GiB", "\xdb\xff\xff\xff\xff" + ten},
      {"array32 of 2^32-1", "\xdd\xff\xff\xff\xff" + std::string(10, '\x00')},
      {"map32 of 2^32-1", "\xdf\xff\xff\xff\xff" + ten},
      {"bin32 of 4 GiB", "\xc6\xff\xff\xff\xff" + ten},
      {"ext32 of 4 GiB", "\xc9\xff\xff\xff\xff\x01" + ten},
      {"send.room as str32 of 4 GiB", "\x92\x08\x81\xa4room\xdb\xff\xff\xff\xff" + ten},
      {"send body as map32 of 2^32-1", "\x92\x08\xdf\xff\xff\xff\xff" + ten},
      {"array16 of 65535", "\xdc\xff\xff" + std::string(10, '\x00')},
  };
  std::vector<std::unique_ptr<wire_client>> attackers;
  for (int i = 0; i < 4; ++i) attackers.push_back(signed_in(server, "liar-" + std::to_string(i)));
  int answered = 0;
  for (int round = 0; round < 25; ++round) {
    for (const auto& [what, bytes] : frames) {
      auto& attacker = *attackers[static_cast<std::size_t>(answered) % attackers.size()];
      attacker.send_raw(bytes);
      if (expect_error(attacker, error_code::malformed, what).code == error_code::malformed) {
        ++answered;
      }
    }
  }
  EXPECT_EQ(answered, 200);
  expect_rss_bounded(server, rss_before, "4 GiB declared lengths");
  EXPECT_TRUE(good.check_alive().empty());
  expect_history_holds(good.history(), good.acked, true);
}

// ---- values
// --------------------------------------------------------------------------------------

/// Byte sequences that are not UTF-8 (RFC 3629), each with what is wrong.
const std::vector<std::pair<std::string, std::string>> bad_utf8{
    {"overlong /", "\xc0\xaf"},
    {"surrogate U+D800", "\xed\xa0\x80"},
    {"above U+10FFFF", "\xf4\x90\x80\x80"},
    {"truncated 2-byte", "ab\xc3"},
    {"truncated 3-byte", "\xe2\x82"},
    {"lone continuation", "\x80"},
    {"0xff", "\xff"},
    {"5-byte form", "\xf8\x88\x80\x80\x80"},
};

TEST(ServerHostile, InvalidUtf8InAnyStringFieldIsInvalidUtf8) {
  server_process server({"--rate-burst", "1000"});
  bystanders good(server, "lobby");
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  alice->send(proto::create_room{1, "vault", true});
  ASSERT_EQ(alice->expect<proto::ok>().id, 1u);

  for (const auto& [what, bad] : bad_utf8) {
    alice->send(proto::send{"lobby", "u-" + std::to_string(bad.size()), "text " + bad});
    expect_error(*alice, error_code::invalid_utf8, "send.text: " + what);
    alice->send(proto::send{"lobby", "cid" + bad, "fine text"});
    expect_error(*alice, error_code::invalid_utf8, "send.cid: " + what);
    alice->send(proto::send{"lob" + bad, "u-room", "fine text"});
    expect_error(*alice, error_code::invalid_utf8, "send.room: " + what);
    alice->send(proto::join{2, "room" + bad, std::nullopt});
    expect_error(*alice, error_code::invalid_utf8, "join.room: " + what);
    alice->send(proto::history{3, "lobby" + bad, std::nullopt, std::nullopt, 10});
    expect_error(*alice, error_code::invalid_utf8, "history.room: " + what);
    alice->send(proto::create_room{4, "new" + bad, false});
    expect_error(*alice, error_code::invalid_utf8, "create_room.room: " + what);
    alice->send(proto::add_member{5, "vault", "bob" + bad});
    expect_error(*alice, error_code::invalid_utf8, "add_member.user: " + what);
    alice->send(proto::typing{"lobby" + bad, true});
    expect_error(*alice, error_code::invalid_utf8, "typing.room: " + what);
    alice->send(proto::refresh{6, "token" + bad});
    expect_error(*alice, error_code::invalid_utf8, "refresh.token: " + what);
  }
  // Valid UTF-8 that is not a valid id is invalid_argument, not invalid_utf8.
  alice->send(proto::join{7, "r\xc3\xa9sum\xc3\xa9", std::nullopt});
  expect_error(*alice, error_code::invalid_argument, "join.room with e-acute");
  alice->send(proto::send{"lobby", std::string("nul\0cid", 7), "x"});
  expect_error(*alice, error_code::invalid_argument, "send.cid with NUL");

  // Unusual but valid text is stored and returned byte for byte.
  const std::vector<std::string> odd_texts{std::string("nul\0inside", 10), "\xf4\x8f\xbf\xbf",
                                           "\xef\xbf\xbf",
                                           "\xef\xbb\xbf"
                                           "bom",
                                           "\xf0\x9f\x92\xa9 pile"};
  std::vector<acked_send> acked;
  for (std::size_t i = 0; i < odd_texts.size(); ++i) {
    const std::string cid = "odd-" + std::to_string(i);
    acked.push_back({"alice", cid, post(*alice, "lobby", cid, odd_texts[i]).seq});
  }
  expect_nothing_pending(*alice);
  alice->send(proto::list_rooms{8});
  for (const auto& room : alice->expect<proto::room_list>().rooms) {
    EXPECT_TRUE(room.room == "lobby" || room.room == "vault") << room.room;
  }

  const auto seen = good.check_alive();
  ASSERT_EQ(seen.size(), odd_texts.size()) << "the watcher saw something that was refused";
  for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].text, odd_texts[i]);
  acked.insert(acked.end(), good.acked.begin(), good.acked.end());
  const auto history = good.history();
  expect_history_holds(history, acked, true);
  for (std::size_t i = 0; i < odd_texts.size(); ++i) EXPECT_EQ(history[i].text, odd_texts[i]);
}

// PROTOCOL.md §7.2: a send whose text is not UTF-8 is refused with invalid_utf8, and "such
// errors carry room and cid" so that the sender can fail that one send.
TEST(ServerHostile, InvalidUtf8SendTextErrorCarriesItsRoomAndCid) {
  server_process server;
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  alice->send(proto::send{"lobby", "bad-text", "caf\xc3"});
  const auto error = expect_error(*alice, error_code::invalid_utf8, "send.text");
  EXPECT_EQ(error.room, "lobby");
  EXPECT_EQ(error.cid, "bad-text");
  EXPECT_EQ(post(*alice, "lobby", "good-text", "caf\xc3\xa9").seq, 1u);
}

TEST(ServerHostile, WrongFieldTypesGetTheDocumentedCodes) {
  server_process server({"--rate-burst", "1000"});
  bystanders good(server, "lobby");
  auto alice = signed_in(server, "alice");
  const auto joined = join_room(*alice, "lobby");
  const auto room = mp::str("lobby");
  const auto cid = mp::str("typed");
  const auto text = mp::str("x");

  struct bad_case {
    const char* what;
    std::string bytes;
    error_code code;
  };
  const std::vector<bad_case> cases{
      // wrong MessagePack type → malformed (§3, §16)
      {"send.text as int", mp::message(8, {{"room", room}, {"cid", cid}, {"text", mp::uint(42)}}),
       error_code::malformed},
      {"send.room as bin",
       mp::message(8, {{"room", mp::bin("lobby")}, {"cid", cid}, {"text", text}}),
       error_code::malformed},
      {"send.cid as array", mp::message(8, {{"room", room}, {"cid", mp::arr(0)}, {"text", text}}),
       error_code::malformed},
      {"send.text as bool", mp::message(8, {{"room", room}, {"cid", cid}, {"text", mp::yes}}),
       error_code::malformed},
      {"join.resume.seq as string",
       mp::message(3, {{"room", room},
                       {"resume", mp::map(2) + mp::str("epoch") + mp::uint(joined.epoch) +
                                      mp::str("seq") + mp::str("5")}}),
       error_code::malformed},
      {"join.resume as array", mp::message(3, {{"room", room}, {"resume", mp::arr(0)}}),
       error_code::malformed},
      {"typing.on as int", mp::message(13, {{"room", room}, {"on", mp::uint(1)}}),
       error_code::malformed},
      {"set_presence.status as string", mp::message(15, {{"status", mp::str("away")}}),
       error_code::malformed},
      {"history.limit 1.5", mp::message(11, {{"room", room}, {"limit", mp::f64(1.5)}}),
       error_code::malformed},
      {"history.after NaN",
       mp::message(11,
                   {{"room", room}, {"after", mp::f64(std::numeric_limits<double>::quiet_NaN())}}),
       error_code::malformed},
      {"history.after +inf",
       mp::message(11,
                   {{"room", room}, {"after", mp::f64(std::numeric_limits<double>::infinity())}}),
       error_code::malformed},
      // a required key absent or nil → missing_field → malformed
      {"send.cid nil", mp::message(8, {{"room", room}, {"cid", mp::nil}, {"text", text}}),
       error_code::malformed},
      {"send without text", mp::message(8, {{"room", room}, {"cid", cid}}), error_code::malformed},
      {"join.room nil", mp::message(3, {{"room", mp::nil}}), error_code::malformed},
      // shape
      {"body is an array", mp::arr(2) + mp::uint(8) + mp::arr(0), error_code::malformed},
      {"three elements", mp::arr(3) + mp::uint(17) + mp::map(0) + mp::map(0),
       error_code::malformed},
      {"integer key", mp::arr(2) + mp::uint(17) + mp::map(1) + mp::uint(1) + mp::uint(1),
       error_code::malformed},
      {"repeated key", mp::message(3, {{"room", room}, {"room", mp::str("other")}}),
       error_code::malformed},
      // numbers out of range → out_of_range → invalid_argument (§3, §16)
      {"join.id -1", mp::message(3, {{"id", mp::neg(-1)}, {"room", room}}),
       error_code::invalid_argument},
      {"join.id 2^32", mp::message(3, {{"id", mp::uint(1ull << 32)}, {"room", room}}),
       error_code::invalid_argument},
      {"history.limit -5", mp::message(11, {{"room", room}, {"limit", mp::neg(-5)}}),
       error_code::invalid_argument},
      {"history.after 2^53", mp::message(11, {{"room", room}, {"after", mp::uint(1ull << 53)}}),
       error_code::invalid_argument},
      {"history.after -1.0", mp::message(11, {{"room", room}, {"after", mp::f64(-1.0)}}),
       error_code::invalid_argument},
      {"ping.n 2^64-1", mp::message(17, {{"n", mp::uint(~0ull)}}), error_code::invalid_argument},
      {"set_presence.status 3", mp::message(15, {{"status", mp::uint(3)}}),
       error_code::invalid_argument},
      // in range for the codec, refused by the server (§4.15)
      {"set_presence.status 2", mp::message(15, {{"status", mp::uint(2)}}),
       error_code::invalid_argument},
  };
  for (const auto& c : cases) {
    alice->send_raw(c.bytes);
    expect_error(*alice, c.code, c.what);
  }
  expect_nothing_pending(*alice);

  // What §3 accepts: a float holding an exact integer, nil for an optional key.
  alice->send_raw(mp::message(11, {{"id", mp::f64(4.0)}, {"room", room}, {"limit", mp::f64(2.0)}}));
  const auto page = alice->expect<proto::history_page>();
  EXPECT_EQ(page.id, 4u);
  alice->send_raw(mp::message(3, {{"id", mp::uint(5)}, {"room", room}, {"resume", mp::nil}}));
  const auto rejoined = alice->expect<proto::joined>();
  EXPECT_EQ(rejoined.id, 5u);
  EXPECT_FALSE(rejoined.resumed);
  alice->send_raw(
      mp::message(8, {{"room", room}, {"cid", cid}, {"text", text}, {"extra", mp::nil}}));
  const auto ack = alice->expect<proto::ack>();
  EXPECT_EQ(ack.cid, "typed");
  next_event(*alice);

  const auto seen = good.check_alive();
  ASSERT_EQ(seen.size(), 1u) << "a refused message reached the room";
  EXPECT_EQ(seen.front().cid, "typed");
  auto acked = good.acked;
  acked.push_back({"alice", "typed", ack.seq});
  expect_history_holds(good.history(), acked, true);
}

// ---- message types
// -------------------------------------------------------------------------------

TEST(ServerHostile, UnknownMessageTypesAreUnsupportedAndDoNotFailTheFrame) {
  server_process server({"--rate-burst", "1000"});
  bystanders good(server, "lobby");
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");

  for (const std::uint64_t type : {24ull, 999ull, 65536ull, 4294967295ull}) {
    alice->send_raw(mp::message(type, {{"x", mp::uint(1)}, {"nested", mp::arr(1) + mp::map(0)}}));
    const auto error =
        expect_error(*alice, error_code::unsupported, "type " + std::to_string(type));
    EXPECT_EQ(error.type, type);
  }
  // Not a valid type at all.
  alice->send_raw(mp::message(0, {}));
  expect_error(*alice, error_code::malformed, "type 0");
  alice->send_raw(mp::message(1ull << 32, {}));
  expect_error(*alice, error_code::invalid_argument, "type 2^32");
  alice->send_raw(mp::arr(2) + mp::neg(-8) + mp::map(0));
  expect_error(*alice, error_code::malformed, "type -8");
  alice->send_raw(mp::arr(2) + mp::str("send") + mp::map(0));
  expect_error(*alice, error_code::malformed, "type as a string");
  alice->send_raw(mp::arr(2) + mp::uint(999) + mp::arr(0));
  expect_error(*alice, error_code::malformed, "unknown type with an array body");

  // An unknown type inside a batch is answered and the rest of the frame still runs.
  std::string frame = mp::message(999, {});
  frame += proto::encode(proto::send{"lobby", "after-unknown", "still processed"});
  frame += mp::message(12345, {});
  alice->send_raw(frame);
  EXPECT_EQ(expect_error(*alice, error_code::unsupported, "batched 999").type, 999u);
  const auto ack = alice->expect<proto::ack>();
  EXPECT_EQ(ack.cid, "after-unknown");
  EXPECT_EQ(next_event(*alice).seq, ack.seq);
  EXPECT_EQ(expect_error(*alice, error_code::unsupported, "batched 12345").type, 12345u);
  expect_nothing_pending(*alice);

  const auto seen = good.check_alive();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen.front().cid, "after-unknown");
  auto acked = good.acked;
  acked.push_back({"alice", "after-unknown", ack.seq});
  expect_history_holds(good.history(), acked, true);
}

TEST(ServerHostile, EveryMessageBeforeHelloIsUnauthenticatedThenClosed4001) {
  server_process server({"--hello-timeout-ms", "1500"});
  bystanders good(server, "lobby");
  good.speaker->send(proto::create_room{1, "vault", true});
  ASSERT_EQ(good.speaker->expect<proto::ok>().id, 1u);
  good.check_alive();

  const std::vector<std::pair<std::string, proto::message>> before_hello{
      {"join", proto::join{7, "lobby", std::nullopt}},
      {"leave", proto::leave{7, "lobby"}},
      {"list_rooms", proto::list_rooms{7}},
      {"send", proto::send{"lobby", "pre-hello", "sneaked in"}},
      {"history", proto::history{7, "lobby", std::nullopt, std::nullopt, 10}},
      {"typing", proto::typing{"lobby", true}},
      {"set_presence", proto::set_presence{proto::presence_status::away}},
      {"ping", proto::ping{7}},
      {"pong", proto::pong{7}},
      {"refresh", proto::refresh{7, token_for("mallory")}},
      {"create_room", proto::create_room{7, "sneaky", false}},
      {"add_member", proto::add_member{7, "vault", "mallory"}},
      {"ack (a server type)", proto::ack{"lobby", "x", 1, 1, 1, false}},
      {"event (a server type)",
       proto::event{proto::room_event{"lobby", 1, 1, 1, "mallory", "x", 1, "forged", 0}}},
      {"unknown type 999", proto::unknown_message{999}},
  };
  for (const auto& [what, message] : before_hello) {
    wire_client intruder(server.port());
    intruder.send(message);
    const auto error = expect_error(intruder, error_code::unauthenticated, what);
    const auto request_id = std::visit(
        [](const auto& m) -> std::uint32_t {
          if constexpr (requires { m.id; }) {
            return m.id;
          } else {
            return 0;
          }
        },
        message);
    if (request_id != 0) {
      EXPECT_EQ(error.id, request_id) << what;
    }
    const auto closed = intruder.wait_closed();
    ASSERT_TRUE(closed.has_value()) << what;
    EXPECT_EQ(closed->code, 4001) << what;
  }
  // A valid hello batched after a forbidden message is never reached.
  for (const auto& first :
       std::vector<proto::message>{proto::send{"lobby", "pre-hello-2", "sneaked in"},
                                   proto::create_room{8, "sneaky", false}}) {
    wire_client intruder(server.port());
    intruder.send_batch({first, proto::hello{1, 1, token_for("mallory"), ""}});
    expect_error(intruder, error_code::unauthenticated, "batch ahead of hello");
    const auto closed = intruder.wait_closed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, 4001);
  }
  // Bytes that are not a message at all are answered malformed; the hello deadline still
  // closes the connection (4004).
  {
    wire_client intruder(server.port());
    intruder.send_raw("\xc1\xc1");
    expect_error(intruder, error_code::malformed, "garbage before hello");
    const auto closed = intruder.wait_closed(10s);
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->code, 4004);
  }

  // Nothing of it reached anyone or changed anything.
  EXPECT_TRUE(good.check_alive().empty()) << "something sent before hello reached the room";
  good.speaker->send(proto::history{9, "sneaky", std::nullopt, std::nullopt, 10});
  expect_error(*good.speaker, error_code::not_found, "the room created before hello");
  auto mallory = signed_in(server, "mallory");
  mallory->send(proto::join{10, "vault", std::nullopt});
  expect_error(*mallory, error_code::forbidden, "add_member before hello");
  expect_history_holds(good.history(), good.acked, true);
}

TEST(ServerHostile, ServerOnlyMessageTypesFromAClientAreUnsupportedAndChangeNothing) {
  server_process server({"--rate-burst", "1000"});
  bystanders good(server, "lobby");
  good.check_alive();
  auto alice = signed_in(server, "alice");
  const auto joined = join_room(*alice, "lobby");

  proto::room_event forged{"lobby", joined.epoch, 99, 1, "good-speaker", "forged", 1, "forged", 0};
  const std::vector<proto::message> server_only{
      proto::welcome{1, "s-x", "root", "other-tenant", 1, {}},
      proto::joined{1, "lobby", joined.epoch, 0, false, {}},
      proto::room_list{1, {proto::room_info{"lobby", false, 1, 1, true}}},
      proto::ack{"lobby", "forged", joined.epoch, 99, 1, false},
      proto::event{forged},
      proto::history_page{1, "lobby", joined.epoch, {forged}, false},
      proto::typing_update{"lobby", "good-speaker", true},
      proto::presence{proto::presence_entry{"good-speaker", proto::presence_status::offline, 1}},
      proto::error{1, error_code::internal, "forged", "lobby", "forged", 0, 0},
      proto::ok{1},
  };
  for (const auto& message : server_only) {
    alice->send(message);
    const auto type = proto::type_of(message);
    const auto error =
        expect_error(*alice, error_code::unsupported, std::string(proto::type_name(type)));
    EXPECT_EQ(error.type, type);
  }
  // A second hello does not change who the session is (§5.5 forbids it; the server refuses).
  alice->send(proto::hello{1, 1, token_for("good-speaker"), "impostor"});
  expect_error(*alice, error_code::invalid_argument, "second hello");
  alice->send(proto::ping{42});
  EXPECT_EQ(alice->expect<proto::pong>().nonce, 42u);
  alice->send(proto::pong{43});  // unsolicited: no answer
  expect_nothing_pending(*alice);
  const auto ack = post(*alice, "lobby", "real", "from the real alice");

  const auto seen = good.check_alive();
  ASSERT_EQ(seen.size(), 1u) << "a forged event, typing or presence reached the watcher";
  EXPECT_EQ(seen.front().from, "alice");
  EXPECT_EQ(seen.front().cid, "real");
  auto acked = good.acked;
  acked.push_back({"alice", "real", ack.seq});
  expect_history_holds(good.history(), acked, true);
}

// ---- rooms and tenants
// ---------------------------------------------------------------------------

TEST(ServerHostile, PrivateRoomsAndOtherTenantsStayClosedOverWebSocketAndRest) {
  server_process server;
  auto alice = signed_in(server, "alice", "acme");
  alice->send(proto::create_room{1, "vault", true});
  ASSERT_EQ(alice->expect<proto::ok>().id, 1u);
  const auto vault = join_room(*alice, "vault");
  std::vector<acked_send> acked;
  acked.push_back({"alice", "v1", post(*alice, "vault", "v1", "secret text one").seq});
  acked.push_back({"alice", "v2", post(*alice, "vault", "v2", "secret text two").seq});

  // A non-member of the same tenant, over the WebSocket.
  auto bob = signed_in(server, "bob", "acme");
  bob->send(proto::join{2, "vault", std::nullopt});
  auto error = expect_error(*bob, error_code::forbidden, "join");
  EXPECT_EQ(error.id, 2u);
  bob->send(proto::join{3, "vault", proto::resume_point{vault.epoch, 0}});
  expect_error(*bob, error_code::forbidden, "join with a resume point");
  bob->send(proto::history{4, "vault", std::nullopt, std::nullopt, 10});
  expect_error(*bob, error_code::forbidden, "history");
  bob->send(proto::history{5, "vault", std::nullopt, 0, 10});
  expect_error(*bob, error_code::forbidden, "history after 0");
  // send and typing need a joined room (§7.2), which bob cannot have.
  bob->send(proto::send{"vault", "b1", "let me in"});
  error = expect_error(*bob, error_code::not_joined, "send");
  EXPECT_EQ(error.cid, "b1");
  bob->send(proto::typing{"vault", true});
  expect_error(*bob, error_code::not_joined, "typing");
  bob->send(proto::leave{6, "vault"});
  expect_error(*bob, error_code::not_joined, "leave");
  bob->send(proto::create_room{7, "vault", false});
  expect_error(*bob, error_code::invalid_argument, "create_room over it");
  bob->send(proto::add_member{8, "vault", "bob"});
  expect_error(*bob, error_code::forbidden, "add_member");
  bob->send(proto::list_rooms{9});
  for (const auto& room : bob->expect<proto::room_list>().rooms) EXPECT_NE(room.room, "vault");
  expect_nothing_pending(*bob);

  // ... and over REST, however the path is spelled.
  const auto bob_token = token_for("bob", "acme");
  for (const std::string path :
       {"/api/v1/rooms/vault/messages", "/api/v1/rooms/vault/messages?after=0",
        "/api/v1/rooms/vault/messages?before=3&limit=1", "/api/v1/rooms/vau%6Ct/messages"}) {
    const auto result = http_request(server.port(), "GET", path, bob_token);
    EXPECT_EQ(result.status, 403u) << path;
    EXPECT_EQ(result.body.find("secret"), std::string::npos) << path;
  }
  EXPECT_EQ(http_request(server.port(), "HEAD", "/api/v1/rooms/vault/messages", bob_token).status,
            403u);
  EXPECT_EQ(
      http_request(server.port(), "GET", "/api/v1/rooms/vault%2F..%2Flobby/messages", bob_token)
          .status,
      400u);
  const auto own = http_request(server.port(), "GET", "/api/v1/rooms/vault/messages",
                                token_for("alice", "acme"));
  ASSERT_EQ(own.status, 200u) << own.body;  // the 403s above are about bob, not the route
  EXPECT_NE(own.body.find("secret text two"), std::string::npos);

  // The same user name in another tenant is another user: acme's vault does not exist there.
  const auto twin_token = token_for("alice", "globex");
  const auto twin_rest =
      http_request(server.port(), "GET", "/api/v1/rooms/vault/messages", twin_token);
  EXPECT_EQ(twin_rest.status, 404u);
  EXPECT_EQ(twin_rest.body.find("secret"), std::string::npos);
  auto twin = signed_in(server, "alice", "globex");
  twin->send(proto::history{10, "vault", std::nullopt, 0, 10});
  expect_error(*twin, error_code::not_found, "history of another tenant's room");
  twin->send(proto::join{11, "vault", proto::resume_point{vault.epoch, 0}});
  const auto twin_vault = twin->expect<proto::joined>();
  EXPECT_FALSE(twin_vault.resumed);
  EXPECT_EQ(twin_vault.head, 0u);
  EXPECT_NE(twin_vault.epoch, vault.epoch);
  ASSERT_EQ(twin_vault.members.size(), 1u);
  expect_nothing_pending(*twin);  // no replay of acme's log
  const auto twin_ack = post(*twin, "vault", "g1", "globex text");
  EXPECT_EQ(twin_ack.seq, 1u);
  twin->send(proto::add_member{12, "vault", "bob"});  // globex's own public room
  EXPECT_EQ(twin->expect<proto::ok>().id, 12u);
  // bob of acme is still not a member of acme's vault.
  bob->send(proto::join{13, "vault", std::nullopt});
  expect_error(*bob, error_code::forbidden, "join after globex added a bob");

  // alice of acme saw none of it and keeps being served.
  acked.push_back({"alice", "v3", post(*alice, "vault", "v3", "secret text three").seq});
  expect_nothing_pending(*alice);
  auto auditor = signed_in(server, "alice", "acme");  // a second session of the member
  expect_history_holds(whole_history(*auditor, "vault"), acked, true);
  rapidjson::Document doc;
  doc.Parse(
      http_request(server.port(), "GET", "/api/v1/rooms/vault/messages", twin_token).body.c_str());
  ASSERT_TRUE(doc.IsObject());
  ASSERT_TRUE(doc.HasMember("events"));
  ASSERT_EQ(doc["events"].Size(), 1u);
  EXPECT_STREQ(doc["events"][0]["text"].GetString(), "globex text");
}

// ---- load
// ------------------------------------------------------------------------------------------

TEST(ServerHostile, FloodFromManyConnectionsIsRateLimitedAndLosesNothingAcked) {
  constexpr int rate = 20;
  constexpr int burst = 40;
  server_process server(
      {"--rate-per-sec", std::to_string(rate), "--rate-burst", std::to_string(burst)});
  bystanders good(server, "lobby");
  good.check_alive();
  constexpr int flooder_count = 20;
  constexpr int per_flooder = 500;
  std::vector<std::unique_ptr<wire_client>> flooders;
  for (int i = 0; i < flooder_count; ++i) {
    flooders.push_back(signed_in(server, "flooder-" + std::to_string(i)));
    join_room(*flooders.back(), "lobby");  // hello and join took two tokens
  }
  const auto rss_before = rss_bytes(server.pid());

  const auto start = steady::now();
  for (int i = 0; i < flooder_count; ++i) {
    for (int first = 0; first < per_flooder; first += 50) {
      std::vector<proto::message> batch;
      for (int k = first; k < first + 50; ++k) {
        batch.push_back(proto::send{"lobby", "f" + std::to_string(i) + "-" + std::to_string(k),
                                    "flood " + std::to_string(k)});
      }
      flooders[static_cast<std::size_t>(i)]->send_batch(batch);
    }
  }
  // The well-behaved pair is served promptly in the middle of it.
  for (int i = 0; i < 5; ++i) good.check_alive(prompt);

  std::vector<acked_send> acked = good.acked;
  int total_limited = 0;
  for (int i = 0; i < flooder_count; ++i) {
    auto& flooder = *flooders[static_cast<std::size_t>(i)];
    const std::string user = "flooder-" + std::to_string(i);
    const std::string prefix = "f" + std::to_string(i) + "-";
    std::set<std::string> answered;
    int acks = 0;
    int limited = 0;
    const auto until = steady::now() + 60s;
    while (acks + limited < per_flooder) {
      auto got = flooder.next(left_until(until));
      ASSERT_TRUE(got.has_value())
          << user << ": " << acks << " acks and " << limited << " refusals of " << per_flooder;
      if (const auto* ack = std::get_if<proto::ack>(&*got)) {
        EXPECT_FALSE(ack->duplicate);
        EXPECT_TRUE(answered.insert(ack->cid).second) << "answered twice: " << ack->cid;
        acked.push_back({user, ack->cid, ack->seq});
        ++acks;
      } else if (const auto* e = std::get_if<proto::error>(&*got)) {
        ASSERT_EQ(e->code, error_code::rate_limited) << e->message;
        EXPECT_GE(e->retry_ms, 1u);
        EXPECT_LE(e->retry_ms, 1000u / rate);
        EXPECT_EQ(e->room, "lobby");
        EXPECT_EQ(e->cid.rfind(prefix, 0), 0u) << e->cid;
        EXPECT_TRUE(answered.insert(e->cid).second) << "answered twice: " << e->cid;
        ++limited;
      }
    }
    const double elapsed_s = std::chrono::duration<double>(steady::now() - start).count();
    EXPECT_GE(acks, burst - 2) << user;  // the burst, less hello and join
    EXPECT_LE(acks, burst + static_cast<int>(rate * elapsed_s) + 1) << user;
    total_limited += limited;
  }
  EXPECT_GT(total_limited, flooder_count * (per_flooder - burst - rate * 5));
  EXPECT_EQ(metric(server, "parley_errors_total{code=\"rate_limited\"}").value_or(-1),
            total_limited);
  expect_rss_bounded(server, rss_before, "flood");

  // Still served afterwards; every ack (good and flooders') is in the log exactly once and
  // nothing refused was stored.
  good.check_alive();
  acked.push_back(good.acked.back());
  expect_history_holds(good.history(), acked, true);
}

TEST(ServerHostile, StalledReadersAreCut4008AndMemoryStaysBounded) {
  server_process server(
      {"--send-queue-bytes", "131072", "--rate-per-sec", "100000", "--rate-burst", "100000"});
  constexpr int stalled_count = 8;
  std::vector<std::unique_ptr<wire_client>> stalled;
  for (int i = 0; i < stalled_count; ++i) {
    stalled.push_back(std::make_unique<wire_client>(
        server.port(), wire_options{.receive_buffer = 4096, .read = false}));
    stalled.back()->send(proto::hello{1, 1, token_for("stalled-" + std::to_string(i)), ""});
    stalled.back()->send(proto::join{1, "firehose", std::nullopt});
  }
  auto reader = signed_in(server, "reader");
  auto writer = signed_in(server, "writer");
  join_room(*reader, "firehose");
  join_room(*writer, "firehose");
  ASSERT_TRUE(
      wait_until([&] { return metric(server, "parley_connections") == stalled_count + 2.0; }));
  const auto rss_before = rss_bytes(server.pid());

  // The reader keeps reading throughout (its inbox is drained below, after the writer is done).
  const std::uint64_t sent = flood_until_cut(server, *writer, "firehose", stalled_count);
  ASSERT_GE(metric(server, "parley_errors_total{code=\"slow_consumer\"}").value_or(0),
            stalled_count)
      << "sent " << sent << " messages without cutting every stalled reader";
  // Kernel buffers are not in the RSS; the server's own queues for 8 stalled readers are
  // bounded by send_queue_bytes each.
  expect_rss_bounded(server, rss_before, "stalled readers");

  const auto last = post(*writer, "firehose", "after", "still flowing");
  for (std::uint64_t expected = 1; expected <= last.seq; ++expected) {
    const auto ev = next_event(*reader);
    ASSERT_EQ(ev.seq, expected);
  }
  EXPECT_EQ(last.seq, sent + 1);
  for (auto& s : stalled) s->resume_reading();
  for (auto& s : stalled) {
    const auto closed = s->wait_closed(15s);
    ASSERT_TRUE(closed.has_value());
    if (closed->code != 0) {
      EXPECT_EQ(closed->code, 4008);  // or dropped after the close timeout
    }
  }
  EXPECT_TRUE(wait_until([&] { return metric(server, "parley_connections") == 2.0; }, 15s));
  auto auditor = signed_in(server, "auditor");
  auditor->send(proto::history{1, "firehose", std::nullopt, std::nullopt, 1});
  const auto page = auditor->expect<proto::history_page>();
  ASSERT_EQ(page.events.size(), 1u);
  EXPECT_EQ(page.events.front().seq, last.seq);
}

TEST(ServerHostile, ConnectionsThatNeverSayHelloAreClosed4004AndCostLittle) {
  server_process server({"--hello-timeout-ms", "1000"});
  bystanders good(server, "lobby");
  good.check_alive();
  const auto rss_before = rss_bytes(server.pid());
  constexpr int idle_count = 200;
  std::vector<std::unique_ptr<raw_socket>> idle;
  for (int i = 0; i < idle_count; ++i) {
    idle.push_back(std::make_unique<raw_socket>(server.port()));
    ASSERT_TRUE(idle.back()->upgrade()) << "upgrade " << i;
  }
  expect_rss_bounded(server, rss_before, "200 sessions waiting for hello");
  good.check_alive();
  int closed_4004 = 0;
  const auto until = steady::now() + 20s;
  for (auto& connection : idle) {
    if (connection->read_close_code(left_until(until)) == std::optional<std::uint16_t>(4004)) {
      ++closed_4004;
    }
  }
  EXPECT_EQ(closed_4004, idle_count);
  idle.clear();
  EXPECT_TRUE(wait_until([&] { return metric(server, "parley_connections") == 2.0; }, 15s));
  expect_rss_bounded(server, rss_before, "200 sessions closed for no hello");
  EXPECT_TRUE(good.check_alive().empty());
  expect_history_holds(good.history(), good.acked, true);
}

// ---- HTTP
// ------------------------------------------------------------------------------------------

/// The status code of an HTTP response head, or 0.
unsigned status_of(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return static_cast<unsigned>(std::stoul(response.substr(9, 3)));
}

TEST(ServerHostile, BrokenHttpIsClosedAtOnceWhileTheServerKeepsServing) {
  server_process server;
  bystanders good(server, "lobby");
  good.check_alive();
  const auto rss_before = rss_bytes(server.pid());

  std::string many_headers = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 2000; ++i) many_headers += "X-Filler-" + std::to_string(i) + ": yes\r\n";
  many_headers += "\r\n";
  std::string tls_hello("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11);
  tls_hello += std::string(500, '\x42');
  const std::vector<std::pair<std::string, std::string>> requests{
      {"garbage request line", "GARBAGE\r\n\r\n"},
      {"TLS ClientHello on the plain port", tls_hello},
      {"1 MiB header",
       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(1 << 20, 'a') + "\r\n\r\n"},
      {"2000 headers", many_headers},
      {"1 MiB body", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 1048576\r\n\r\n" +
                         std::string(1 << 20, 'b')},
      {"chunk of 2^64-1",
       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
       "FFFFFFFFFFFFFFFF\r\n"},
      {"negative length", "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"},
      {"HTTP/9.9", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n"},
  };
  for (int round = 0; round < 25; ++round) {
    for (const auto& [what, bytes] : requests) {
      raw_socket raw(server.port());
      raw.write(bytes);  // may fail half-way: the server is allowed to stop reading
      const auto response = raw.read_until_closed(5s);
      EXPECT_TRUE(raw.closed()) << what << ": still open after 5 s";
      const unsigned status = status_of(response);
      // Either dropped without an answer or refused with a 4xx; never served.
      EXPECT_TRUE(response.empty() || (status >= 400 && status < 500))
          << what << " got: " << response.substr(0, 80);
    }
  }
  // Upgrades the WebSocket layer refuses with the answers of RFC 6455 §4.2.2.
  const auto upgrade_with = [&](const std::string& target, const std::string& extra) {
    raw_socket raw(server.port());
    raw.write("GET " + target +
              " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
              "Connection: Upgrade\r\n" +
              extra + "\r\n");
    return status_of(raw.read_http_head());
  };
  EXPECT_EQ(upgrade_with("/ws", "Sec-WebSocket-Version: 13\r\n"), 400u);  // no key
  EXPECT_EQ(upgrade_with("/ws",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 12\r\n"),
            426u);
  EXPECT_EQ(upgrade_with("/elsewhere",
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         "Sec-WebSocket-Version: 13\r\n"),
            404u);  // PROTOCOL.md §17

  expect_rss_bounded(server, rss_before, "broken HTTP");
  EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200u);
  EXPECT_TRUE(good.check_alive().empty());
  expect_history_holds(good.history(), good.acked, true);
}

// RFC 9112 §6.3: a request with an invalid Content-Length "MUST" be answered 400 and then
// closed; RFC 9112 §3 and RFC 6585 §5 ask for 400 on a broken request line and 431 on header
// fields over the server's limit. The refused client (or a proxy in front of the server) then
// knows it was refused, not cut off by the network.
TEST(ServerHostile, BrokenHttpRequestsAreAnswered400Or431BeforeTheClose) {
  server_process server;
  const auto answer_to = [&](const std::string& what, const std::string& bytes) {
    raw_socket raw(server.port());
    raw.write(bytes, 2s);  // may fail half-way: the server may stop reading once it has refused
    const auto response = raw.read_until_closed(5s);
    EXPECT_TRUE(raw.closed()) << what << ": still open after 5 s";
    return status_of(response);
  };
  EXPECT_EQ(answer_to("garbage request line", "GARBAGE\r\n\r\n"), 400u);
  EXPECT_EQ(answer_to("negative length",
                      "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"),
            400u);
  EXPECT_EQ(answer_to("20 kB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                          std::string(20000, 'a') + "\r\n\r\n"),
            431u);
  const auto huge = answer_to("1 MiB header", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " +
                                                  std::string(1 << 20, 'a') + "\r\n\r\n");
  EXPECT_TRUE(huge == 431u || huge == 400u) << "1 MiB header: status " << huge << " (0 = none)";
  EXPECT_EQ(http_request(server.port(), "GET", "/healthz").status, 200u);
}

}  // namespace
}  // namespace parley::test
