// fuzz_seeds: writes the seed corpora in fuzz/corpus/<target>/ (checked in; rerun it after
// changing a target's script or the shared vectors):
//
//   build/fuzz/fuzz/fuzz_seeds tests/vectors fuzz/corpus
//
// fuzz_frame gets every shared hex vector as raw bytes. The structured targets read their input
// as a script of choices (fuzz_input.hpp), so their seeds are scripts written with fuzz_script
// that replay short, meaningful sessions: the vectors sent over an authenticated server session,
// a chat between two sessions with a duplicate send and a resume, an engine that connects, joins,
// sends, is acked and fills a gap, client WebSocket frames cut into inputs. The step numbers below
// are the `case` labels of each target's switch; a seed that drifts from its target is still a
// valid input, only a less useful one.
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "jwt.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iostream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <string_view>

namespace {

namespace fs = std::filesystem;
using parley::fuzz::fuzz_script;

constexpr std::int64_t largest_uint53 = (std::int64_t{1} << 53) - 1;

/// The shared hex vectors, by name, as bytes.
std::map<std::string, std::string> read_vectors(const fs::path& dir) {
  std::map<std::string, std::string> vectors;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".hex") continue;
    std::ifstream file(entry.path());
    std::string bytes;
    std::string pair;
    while (file >> pair) bytes += static_cast<char>(std::stoi(pair, nullptr, 16));
    vectors[entry.path().stem().string()] = bytes;
  }
  return vectors;
}

void write_seed(const fs::path& dir, const std::string& name, const std::string& bytes) {
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

// ---- fuzz_engine ----

/// A script for fuzz_engine, one method per step or server message of engine_run.
class engine_script {
 public:
  /// engine_run::config: seed, then the default outbox or one of `capacity` entries.
  explicit engine_script(std::int64_t capacity = -1) {
    s_.number(1, 0, 255).flag(capacity < 0);
    if (capacity >= 0) s_.number(capacity, 0, 8);
  }
  engine_script& step(int code) { s_.number(code, 0, 21); return *this; }
  engine_script& start() { return step(0); }
  engine_script& open() { return step(2); }
  engine_script& close() { return step(3); }
  engine_script& fire_timer() { return step(4); }
  engine_script& advance(std::int64_t ms) { step(5).s_.number(ms, 0, 120000); return *this; }
  engine_script& raw(std::string_view frame) { step(6).s_.bytes(frame); return *this; }
  engine_script& join(int room) { step(11).s_.number(room, 0, 4); return *this; }
  engine_script& send(int room, std::string_view text) {
    step(13).s_.number(room, 0, 4).bytes(text);
    return *this;
  }
  engine_script& typing(int room, bool on) {
    step(14).s_.number(room, 0, 4).flag(on);
    return *this;
  }
  /// A frame of one server message; `message` writes its choices.
  template <class Message>
  engine_script& frame(Message message) {
    step(7).s_.number(1, 0, 15).number(1, 1, 4);
    message(s_);
    return *this;
  }
  std::string finish() const { return s_.finish(); }

  // Server messages (engine_run::server_message). Epochs are the room's known one.
  static void welcome(fuzz_script& s) {
    s.number(0, 0, 14).flag(true).number(0, 0, 2).flag(false);  // version_max, alice, defaults
  }
  static auto joined(int room, std::int64_t head) {
    return [=](fuzz_script& s) {
      s.number(1, 0, 14).number(room, 0, 4).flag(true);  // answers the engine's join
      s.number(2, 0, 3).number(head, 0, 40).flag(false).number(0, 0, 2);
    };
  }
  /// An event `ahead` after the room's last seq, from bob, carrying the last cid sent if any.
  static auto event(int room, std::int64_t ahead) {
    return [=](fuzz_script& s) {
      s.number(2, 0, 14).number(room, 0, 4).number(2, 0, 3).number(2, 0, 3).number(ahead, 0, 3);
      s.flag(true).number(1, 0, 2).number(0, 0, 0);
    };
  }
  /// An ack of the only cid sent, at the room's next seq.
  static auto ack(int room) {
    return [=](fuzz_script& s) {
      s.number(4, 0, 14).number(room, 0, 4).flag(true).number(0, 0, 0).number(2, 0, 3);
      s.number(2, 0, 3).number(1, 0, 3).number(1700000000000, 0, largest_uint53).flag(false);
    };
  }
  /// A page answering the only history request with `count` consecutive events.
  static auto history_page(int room, int count) {
    return [=](fuzz_script& s) {
      s.number(6, 0, 14).number(room, 0, 4).number(0, 0, 0).flag(true).number(2, 0, 3);
      s.number(count, 0, 6);
      for (int i = 0; i < count; ++i) {
        s.flag(true).number(1, 0, 2).number(0, 0, 0);      // room_event: kind 1, from bob
        s.flag(false).flag(false).number(1, 0, 2).flag(false);  // as the page says; next seq
      }
      s.flag(false);
    };
  }
  static void ping(fuzz_script& s) { s.number(9, 0, 14).number(3, 0, 9); }

 private:
  fuzz_script s_;
};

/// A connected engine joined to "general" at head 5.
engine_script joined_engine(std::int64_t capacity = -1) {
  engine_script e(capacity);
  e.start().open().frame(engine_script::welcome).join(0).frame(engine_script::joined(0, 5));
  return e;
}

void engine_seeds(const fs::path& dir, const std::map<std::string, std::string>& vectors) {
  using e = engine_script;
  write_seed(dir, "chat", joined_engine()
                              .send(0, "hi")
                              .frame(e::ack(0))
                              .frame(e::event(0, 1))
                              .typing(0, true)
                              .frame(e::ping)
                              .finish());
  write_seed(dir, "gap-fill", joined_engine()
                                  .frame(e::event(0, 3))
                                  .frame(e::history_page(0, 3))
                                  .frame(e::event(0, 1))
                                  .finish());
  write_seed(dir, "reconnect", joined_engine()
                                   .send(0, "while connected")
                                   .close()
                                   .send(0, "while away")
                                   .advance(60000)
                                   .fire_timer()
                                   .open()
                                   .frame(e::welcome)
                                   .frame(e::joined(0, 7))
                                   .advance(120000)
                                   .fire_timer()
                                   .finish());
  write_seed(dir, "full-outbox", engine_script(1)
                                     .send(1, "one")
                                     .send(1, "two")
                                     .start()
                                     .open()
                                     .frame(e::welcome)
                                     .finish());
  // Every shared vector as a frame from the server to a joined engine.
  for (const auto& [name, bytes] : vectors) {
    write_seed(dir, "vector-" + name, joined_engine().raw(bytes).finish());
  }
}

// ---- fuzz_server_session ----

/// A script for fuzz_server_session, one method per step or client message of server_run.
class server_script {
 public:
  /// server_run: default options, hub seed 1.
  server_script() { s_.flag(false).number(1, 0, 255); }
  /// Small limits, reached in a few steps.
  static server_script small_limits() {
    server_script s(0);
    s.s_.flag(true).number(2, 0, 4).number(8, 0, 64).number(2, 0, 8).number(3, 0, 8);
    s.s_.number(1, 0, 100).number(512, 512, 8192).number(256, 256, 4096).number(1, 0, 255);
    return s;
  }
  /// Opens slot `slot` and says hello with a valid token for (user, tenant).
  server_script& open(int slot, int user, int tenant) {
    step(slot, 0).s_.flag(false).number(user, 0, 2).number(tenant, 0, 1);
    return *this;
  }
  server_script& close(int slot) { return step(slot, 1); }
  server_script& raw(int slot, std::string_view frame) {
    step(slot, 2).s_.bytes(frame);
    return *this;
  }
  server_script& advance(std::int64_t ms) { step(0, 3).s_.number(ms, 0, 200000); return *this; }
  /// join without resume, or resuming the room's last seen epoch after `seq`.
  server_script& join(int slot, int room, std::int64_t resume_seq = -1) {
    message(slot, room, 1).flag(resume_seq >= 0);
    if (resume_seq >= 0) s_.flag(true).number(resume_seq, 0, 40);
    return *this;
  }
  server_script& send(int slot, int room, int cid, std::string_view text) {
    message(slot, room, 5).flag(true).number(cid, 0, 3).bytes(text);
    return *this;
  }
  server_script& history(int slot, int room, std::int64_t limit, std::int64_t before) {
    message(slot, room, 8).number(limit, 0, 12).flag(true).number(before, 0, 40).flag(false);
    return *this;
  }
  server_script& typing(int slot, int room, bool on) {
    message(slot, room, 9).flag(on);
    return *this;
  }
  server_script& create_room(int slot, int room, bool is_private) {
    message(slot, room, 14).flag(is_private);
    return *this;
  }
  std::string finish() const { return s_.finish(); }

 private:
  explicit server_script(int) {}
  server_script& step(int slot, int code) {
    s_.number(slot, 0, 2).number(code, 0, 9);
    return *this;
  }
  /// A frame of one client message of type `code` for `room`.
  fuzz_script& message(int slot, int room, int code) {
    step(slot, 5).s_.number(1, 1, 4).number(room, 0, 4).number(code, 0, 15);
    return s_;
  }

  fuzz_script s_;
};

void server_seeds(const fs::path& dir, const std::map<std::string, std::string>& vectors) {
  // alice and bob (tenant acme) chat; alice sends one cid twice, leaves, and resumes.
  write_seed(dir, "chat", server_script()
                              .open(0, 0, 0)
                              .open(1, 1, 0)
                              .join(0, 0)
                              .join(1, 0)
                              .send(0, 0, 0, "hi bob")
                              .send(0, 0, 0, "hi bob")
                              .typing(1, 0, true)
                              .send(1, 0, 1, "hi alice")
                              .history(1, 0, 0, 0)
                              .close(0)
                              .advance(20000)
                              .open(2, 0, 0)
                              .join(2, 0, 1)
                              .finish());
  write_seed(dir, "private-room", server_script()
                                      .open(0, 0, 0)
                                      .open(1, 1, 0)
                                      .open(2, 2, 1)
                                      .create_room(0, 1, true)
                                      .join(1, 1)
                                      .join(2, 1)
                                      .send(0, 1, 1, "only members")
                                      .history(1, 1, 5, 0)
                                      .finish());
  write_seed(dir, "small-limits", server_script::small_limits()
                                      .open(0, 0, 0)
                                      .join(0, 0)
                                      .join(0, 1)
                                      .join(0, 2)
                                      .send(0, 0, 0, "longer than eight bytes")
                                      .send(0, 0, 1, "short")
                                      .send(0, 0, 2, "short")
                                      .history(0, 0, 12, 0)
                                      .advance(200000)
                                      .finish());
  // Every shared vector as a frame from an authenticated client.
  for (const auto& [name, bytes] : vectors) {
    write_seed(dir, "vector-" + name, server_script().open(0, 0, 0).raw(0, bytes).finish());
  }
}

// ---- fuzz_room_index ----

/// One room_index step: (tenant, room, member, operation 0 add / 1 remove / 2 broadcast).
void room_step(fuzz_script& s, int tenant, int room, int member, int operation) {
  s.number(tenant, 0, 1).number(room, 0, 3).number(member, 0, 4).number(operation, 0, 2);
}

void room_index_seeds(const fs::path& dir) {
  fuzz_script churn;
  for (int member = 0; member < 5; ++member) room_step(churn, 0, member % 4, member, 0);
  room_step(churn, 0, 0, 0, 0);  // already there
  room_step(churn, 1, 0, 0, 0);  // same room name, other tenant
  room_step(churn, 0, 0, 0, 2);
  for (int member = 4; member >= 0; --member) room_step(churn, 0, member % 4, member, 1);
  room_step(churn, 0, 0, 0, 1);  // no longer there
  write_seed(dir, "churn", churn.finish());

  fuzz_script crowd;
  for (int member = 0; member < 5; ++member) room_step(crowd, 1, 3, member, 0);
  room_step(crowd, 1, 3, 2, 1);
  room_step(crowd, 1, 3, 2, 2);
  write_seed(dir, "crowd", crowd.finish());
}

// ---- fuzz_jwt ----

std::string token(std::string sub, std::string tid, std::int64_t exp, std::int64_t nbf = 0) {
  parley::server::jwt_claims claims{std::move(sub), std::move(tid), exp, nbf};
  return parley::server::jwt_sign_hs256(claims, parley::fuzz::jwt_secret);
}

/// fuzz_jwt's keys by index: 0 = HS256 without kid (jwt_secret), 1 = HS256 "hs", 2 = RS256
/// "rs", 3 = ES256 "es". The RSA and EC keys are generated by each fuzz_jwt process, so seeds
/// for them are scripts that make the target sign, never tokens signed here.
constexpr std::int64_t jwt_keys = 4;

void jwt_seeds(const fs::path& dir) {
  using parley::fuzz::jwt_now_s;
  const auto verify = [](const std::string& text) {
    return fuzz_script().number(0, 0, 3).bytes(text).finish();
  };
  write_seed(dir, "verify-valid", verify(token("alice", "acme", jwt_now_s + 3600)));
  write_seed(dir, "verify-expired", verify(token("alice", "acme", jwt_now_s - 1)));
  write_seed(dir, "verify-not-yet",
             verify(token("alice", "acme", jwt_now_s + 3600, jwt_now_s + 60)));

  // mutate_signed: bob@umbrella, valid for 50 s since 10 s ago, one edit of the signature's
  // third-last character. The token's length (the edit position's range) is computed from
  // what the target signs: its header, these claims and the key's signature size.
  const auto base64url_length = [](std::size_t bytes) {
    return static_cast<std::int64_t>((4 * bytes + 2) / 3);
  };
  const std::string payload = R"({"sub":"bob","tid":"umbrella","exp":)" +
                              std::to_string(jwt_now_s + 50) + R"(,"nbf":)" +
                              std::to_string(jwt_now_s - 10) + "}";
  const std::array<std::string, jwt_keys> headers{
      R"({"alg":"HS256","typ":"JWT"})", R"({"alg":"HS256","typ":"JWT","kid":"hs"})",
      R"({"alg":"RS256","typ":"JWT","kid":"rs"})", R"({"alg":"ES256","typ":"JWT","kid":"es"})"};
  const std::array<std::size_t, jwt_keys> signature_sizes{32, 32, 256, 64};
  for (std::size_t key = 0; key < headers.size(); ++key) {
    const std::int64_t length = base64url_length(headers[key].size()) + 1 +
                                base64url_length(payload.size()) + 1 +
                                base64url_length(signature_sizes[key]);
    fuzz_script mutate;
    mutate.number(1, 0, 3).number(static_cast<std::int64_t>(key), 0, jwt_keys - 1);
    mutate.bytes("bob").bytes("umbrella").number(50, -100, 100).flag(true);
    mutate.number(-10, -100, 100).flag(false).number(1, 1, 4);
    mutate.number(length - 3, 0, length).number('A', 0, 255).number(3, 0, 3);
    write_seed(dir, "mutate-signature-key" + std::to_string(key), mutate.finish());
  }

  const auto sign = [](std::int64_t key, std::string_view header, std::string_view payload) {
    fuzz_script s;
    s.number(2, 0, 3).number(key, 0, jwt_keys - 1).flag(header.empty());
    if (!header.empty()) s.bytes(header);
    return s.bytes(payload).finish();
  };
  const std::string claims = R"({"sub":"alice","tid":"acme","exp":1700003600})";
  for (std::int64_t key = 0; key < jwt_keys; ++key) {
    write_seed(dir, "sign-valid-key" + std::to_string(key), sign(key, "", claims));
  }
  write_seed(dir, "sign-alg-none", sign(0, R"({"alg":"none"})", claims));
  write_seed(dir, "sign-exp-string", sign(0, "", R"({"sub":"a","tid":"t","exp":"1700003600"})"));
  write_seed(dir, "sign-kid-of-another-key", sign(3, R"({"alg":"ES256","kid":"rs"})", claims));
  write_seed(dir, "sign-unknown-kid", sign(2, R"({"alg":"RS256","kid":"rs2"})", claims));
  write_seed(dir, "sign-crit", sign(1, R"({"alg":"HS256","kid":"hs","crit":["exp"]})", claims));
  write_seed(dir, "sign-repeated-alg", sign(0, R"({"alg":"HS256","alg":"none"})", claims));
  write_seed(dir, "sign-repeated-sub",
             sign(0, "", R"({"sub":"alice","sub":"root","tid":"acme","exp":1700003600})"));

  // confuse_alg: each key under each other alg, with the target's canned valid claims.
  for (std::int64_t key = 0; key < jwt_keys; ++key) {
    for (std::int64_t shift = 1; shift <= 2; ++shift) {
      fuzz_script confuse;
      confuse.number(3, 0, 3).number(key, 0, jwt_keys - 1).number(shift, 1, 2).flag(true);
      write_seed(dir, "confuse-key" + std::to_string(key) + "-by" + std::to_string(shift),
                 confuse.finish());
    }
  }
}

// ---- fuzz_ws_reader ----

/// A client frame, masked as a client must (RFC 6455 §5.3); seeds stay under 64 KiB.
std::string client_frame(unsigned opcode, std::string_view payload, bool fin = true) {
  static constexpr std::array<unsigned char, 4> mask{0x37, 0xfa, 0x21, 0x3d};
  std::string out;
  out += static_cast<char>((fin ? 0x80 : 0) | opcode);
  if (payload.size() < 126) {
    out += static_cast<char>(0x80 | payload.size());
  } else {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xFF);
  }
  out.append(reinterpret_cast<const char*>(mask.data()), mask.size());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out += static_cast<char>(payload[i] ^ mask[i % 4]);
  }
  return out;
}

/// fuzz_ws_reader's script: the limit's index in its pool (16, 300, 4096), the client's bytes,
/// then the sizes of the inputs they arrive in (what is left comes as one last input).
std::string ws_script(int limit, std::string_view stream, std::initializer_list<int> sizes) {
  fuzz_script s;
  s.number(limit, 0, 2).bytes(stream);
  for (const int size : sizes) s.number(size, 0, 8191);
  return s.finish();
}

void ws_reader_seeds(const fs::path& dir) {
  std::string body(1000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  // A 16-bit length, cut inside the header, at the mask and inside the payload.
  write_seed(dir, "binary", ws_script(2, client_frame(0x2, body), {1, 3, 500}));
  // A message in three fragments with a ping between the first two, each cut once.
  const std::string fragmented = client_frame(0x2, "hello, ", false) +
                                 client_frame(0x9, "still there?") +
                                 client_frame(0x0, "wor", false) + client_frame(0x0, "ld");
  write_seed(dir, "fragmented-with-ping", ws_script(1, fragmented, {9, 10, 14}));
  // A close with code 1000 and a reason; the frame after it must be ignored.
  write_seed(dir, "close", ws_script(2, client_frame(0x2, "bye") +
                                            client_frame(0x8, std::string("\x03\xE8") + "done") +
                                            client_frame(0x2, "ignored"),
                                     {}));
  // 17 bytes against the limit of 16: refused from the header.
  write_seed(dir, "too-big", ws_script(0, client_frame(0x2, std::string(17, 'x')), {2}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: fuzz_seeds <tests/vectors dir> <fuzz/corpus dir>\n";
    return 2;
  }
  const fs::path corpus = argv[2];
  const auto vectors = read_vectors(argv[1]);
  if (vectors.empty()) {
    std::cerr << "fuzz_seeds: no .hex vectors in " << argv[1] << "\n";
    return 1;
  }
  for (const auto& [name, bytes] : vectors) write_seed(corpus / "fuzz_frame", name, bytes);
  engine_seeds(corpus / "fuzz_engine", vectors);
  server_seeds(corpus / "fuzz_server_session", vectors);
  room_index_seeds(corpus / "fuzz_room_index");
  jwt_seeds(corpus / "fuzz_jwt");
  ws_reader_seeds(corpus / "fuzz_ws_reader");
  std::cout << "fuzz_seeds: wrote " << vectors.size() << " vectors and the scripted seeds to "
            << corpus << "\n";
  return 0;
}
