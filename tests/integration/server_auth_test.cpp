// Token keys and hostile tokens. Against a real parley-server: RS256 / ES256 keys chosen by
// kid, algorithm confusion, rotation, claim checks, a token expiring on a live session unless
// refreshed, the per-user session limit and tenant isolation over WebSocket and REST.
// In-process (jwt_keyring): the exact refusal for each hostile header, and key set files that
// must stop the server. Keys are generated at test time with OpenSSL; tokens are signed here,
// independently of the server's own code.
#include "server_fixture.hpp"

#include "config.hpp"
#include "jwt.hpp"

#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <rapidjson/document.h>

#include <stdlib.h>

#include <array>
#include <fstream>
#include <iterator>
#include <memory>
#include <thread>

namespace parley::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// ---- clocks -------------------------------------------------------------------------------------

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t now_s() { return now_ms() / 1000; }

/// Sleeps to just past the next whole second and returns it: a token with exp = that + n then
/// lives n seconds (minus a few ms) instead of anything between n - 1 and n.
std::int64_t next_whole_second() {
  std::this_thread::sleep_for(std::chrono::milliseconds(1000 - now_ms() % 1000 + 5));
  return now_s();
}

// ---- token issuers ------------------------------------------------------------------------------

/// SHA-256 signature with a private key: PKCS#1 v1.5 for RSA, DER ECDSA for EC.
std::string digest_sign(EVP_PKEY* key, std::string_view input) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                     EVP_MD_CTX_free);
  std::size_t size = 0;
  const auto* data = reinterpret_cast<const unsigned char*>(input.data());
  if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, data, input.size()) != 1) {
    throw std::runtime_error("EVP_DigestSign failed");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size, data,
                     input.size()) != 1) {
    throw std::runtime_error("EVP_DigestSign failed");
  }
  signature.resize(size);
  return signature;
}

/// A DER ECDSA signature as JWS wants it: r || s, 32 bytes each.
std::string der_to_raw(std::string_view der) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
  if (!sig) throw std::runtime_error("not a DER ECDSA signature");
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  return raw;
}

/// A key a token issuer holds: it signs test tokens; its public half (PEM) or its secret goes
/// into the server's key set.
struct issuer_key {
  std::string kid;  // empty: tokens carry no kid
  std::string alg;  // "HS256", "RS256" or "ES256"
  std::string secret;              // HS256
  std::shared_ptr<EVP_PKEY> pair;  // RS256, ES256

  std::string public_pem() const {
    const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
    PEM_write_bio_PUBKEY(bio.get(), pair.get());
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  }

  /// The signature JWS carries for this key's alg.
  std::string signature(std::string_view input) const {
    if (alg == "HS256") return server::jwt_hmac_sha256(secret, input);
    const std::string der_or_pkcs1 = digest_sign(pair.get(), input);
    return alg == "ES256" ? der_to_raw(der_or_pkcs1) : der_or_pkcs1;
  }

  /// The header this issuer writes: its alg and, if it has one, its kid.
  std::string header() const {
    return R"({"alg":")" + alg + R"(","typ":"JWT")" + (kid.empty() ? "" : R"(,"kid":")" + kid + '"') +
           "}";
  }

  /// header.payload.signature; a JWS with whatever header the caller wants, signed by this key.
  std::string sign(std::string_view payload_json, std::string_view header_json = {}) const {
    const std::string input = server::jwt_base64url(header_json.empty() ? header() : header_json) + "." +
                              server::jwt_base64url(payload_json);
    return input + "." + server::jwt_base64url(signature(input));
  }
};

std::shared_ptr<EVP_PKEY> generate(EVP_PKEY* key) {
  if (key == nullptr) throw std::runtime_error("key generation failed");
  return {key, EVP_PKEY_free};
}

issuer_key rsa_key(std::string kid, std::size_t bits = 2048) {
  return {std::move(kid), "RS256", {}, generate(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", bits))};
}

issuer_key ec_key(std::string kid, const char* curve = "P-256") {
  return {std::move(kid), "ES256", {},
          generate(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", const_cast<char*>(curve)))};
}

issuer_key hmac_key(std::string kid, std::string secret) {
  return {std::move(kid), "HS256", std::move(secret), nullptr};
}

/// One RSA and one EC key per test binary: key generation is the slow part of these tests.
const issuer_key& rs256() {
  static const issuer_key key = rsa_key("2026-11");
  return key;
}
const issuer_key& es256() {
  static const issuer_key key = ec_key("edge");
  return key;
}

/// Claims as JSON; nbf only when non-zero.
std::string claims(std::string_view sub, std::string_view tid, std::int64_t exp,
                   std::int64_t nbf = 0) {
  std::string json = R"({"sub":")" + std::string(sub) + R"(","tid":")" + std::string(tid) +
                     R"(","exp":)" + std::to_string(exp);
  if (nbf != 0) json += R"(,"nbf":)" + std::to_string(nbf);
  return json + "}";
}

/// Claims for user@tenant, valid for an hour.
std::string valid_claims(std::string_view sub = "alice", std::string_view tid = "default") {
  return claims(sub, tid, now_s() + 3600);
}

// ---- key set files ------------------------------------------------------------------------------

/// A temporary directory holding a key set file and its PEM files; removed at the end.
class key_set_dir {
 public:
  key_set_dir() {
    std::string pattern = (fs::temp_directory_path() / "parley-keys-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~key_set_dir() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  key_set_dir(const key_set_dir&) = delete;
  key_set_dir& operator=(const key_set_dir&) = delete;

  /// Writes `text` to `name` in the directory; returns its path.
  std::string write_file(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ / name, std::ios::trunc) << text;
    return (dir_ / name).string();
  }

  /// Writes keys.json listing `keys` (public keys as PEM files beside it, named relatively)
  /// and returns its path.
  std::string write(const std::vector<const issuer_key*>& keys) const {
    std::string json = R"({"keys":[)";
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const issuer_key& key = *keys[i];
      json += i == 0 ? "{" : ",{";
      if (!key.kid.empty()) json += R"("kid":")" + key.kid + R"(",)";
      json += R"("alg":")" + key.alg + R"(",)";
      if (key.alg == "HS256") {
        json += R"("secret":")" + key.secret + R"("})";
      } else {
        const std::string pem_name = "key" + std::to_string(i) + ".pub.pem";
        write_file(pem_name, key.public_pem());
        json += R"("public_key_file":")" + pem_name + R"("})";
      }
    }
    return write_file("keys.json", json + "]}");
  }

  const fs::path& path() const { return dir_; }

 private:
  fs::path dir_;
};

/// Server arguments for a key set; `keep_secret` false also drops the harness's test_secret
/// (an empty flag after it overrides it), leaving the key set as the only keys.
std::vector<std::string> key_set_args(const std::string& file, bool keep_secret = true) {
  std::vector<std::string> args{"--jwt-keys", file};
  if (!keep_secret) args.emplace_back("--jwt-secret=");
  return args;
}

// ---- protocol helpers -----------------------------------------------------------------------------

/// Sends hello with `token`; expects error `code`, then close `close`. Returns error.msg.
std::string expect_refused(const server_process& server, const std::string& token,
                           proto::error_code code = proto::error_code::unauthenticated,
                           proto::close_code close = proto::close_code::auth_failed) {
  wire_client client(server.port());
  proto::hello h;
  h.token = token;
  client.send(h);
  const auto error = client.expect<proto::error>();
  EXPECT_EQ(error.code, code) << error.message;
  const auto closed = client.wait_closed();
  EXPECT_TRUE(closed.has_value());
  if (closed) {
    EXPECT_EQ(closed->code, static_cast<std::uint16_t>(close)) << error.message;
  }
  return error.message;
}

/// The welcome for `token`; throws (failing the test) if hello is refused.
proto::welcome accepted(const server_process& server, const std::string& token) {
  wire_client client(server.port());
  return client.hello(token);
}

rapidjson::Document json_of(const http_result& result) {
  rapidjson::Document doc;
  doc.Parse(result.body.c_str());
  EXPECT_FALSE(doc.HasParseError()) << result.body;
  return doc;
}

// ---- keys chosen by kid ---------------------------------------------------------------------------

TEST(ServerAuth, Rs256AndEs256TokensAreAcceptedWithTheirKid) {
  key_set_dir keys;
  server_process server(key_set_args(keys.write({&rs256(), &es256()})));
  const auto by_rsa = accepted(server, rs256().sign(valid_claims("alice", "acme")));
  EXPECT_EQ(by_rsa.user, "alice");
  EXPECT_EQ(by_rsa.tenant, "acme");
  const auto by_ec = accepted(server, es256().sign(valid_claims("bob", "umbrella")));
  EXPECT_EQ(by_ec.user, "bob");
  EXPECT_EQ(by_ec.tenant, "umbrella");
  // jwt_secret stays a key for tokens without kid beside the key set.
  EXPECT_EQ(accepted(server, token_for("carol")).user, "carol");

  // REST verifies through the same keys.
  auto alice = std::make_unique<wire_client>(server.port());
  alice->hello(rs256().sign(valid_claims()));
  join_room(*alice, "general");
  post(*alice, "general", "c1", "hello");
  const auto rest = http_request(server.port(), "GET", "/api/v1/rooms/general/messages",
                                 es256().sign(valid_claims("bob")));
  ASSERT_EQ(rest.status, 200u) << rest.body;
  EXPECT_EQ(json_of(rest)["events"].Size(), 1u);
}

TEST(ServerAuth, KidSelectsExactlyOneKeyAndItsAlg) {
  key_set_dir keys;
  server_process server(key_set_args(keys.write({&rs256(), &es256()})));
  auto unknown = rs256();
  unknown.kid = "nope";
  EXPECT_NE(expect_refused(server, unknown.sign(valid_claims())).find("kid"), std::string::npos);
  // Without kid only kid-less keys apply: here test_secret, an HS256 key.
  auto no_kid = rs256();
  no_kid.kid.clear();
  expect_refused(server, no_kid.sign(valid_claims()));
  // An EC signature presented under the RSA key's kid.
  auto wrong_kid = es256();
  wrong_kid.kid = rs256().kid;
  EXPECT_NE(expect_refused(server, wrong_kid.sign(valid_claims())).find("alg"), std::string::npos);
  // Another RSA key claiming the kid: the signature does not verify.
  auto impostor = rsa_key(rs256().kid);
  EXPECT_NE(expect_refused(server, impostor.sign(valid_claims())).find("signature"),
            std::string::npos);
}

TEST(ServerAuth, Es256SignaturesMustBeRawRAndS) {
  key_set_dir keys;
  server_process server(key_set_args(keys.write({&es256()})));
  const std::string payload = valid_claims();
  const std::string input = server::jwt_base64url(es256().header()) + "." + server::jwt_base64url(payload);
  const std::string raw = es256().signature(input);
  ASSERT_EQ(raw.size(), 64u);
  EXPECT_EQ(accepted(server, input + "." + server::jwt_base64url(raw)).user, "alice");
  // DER (what OpenSSL produces) is a valid ECDSA signature, but not the JWS form.
  expect_refused(server, input + "." + server::jwt_base64url(digest_sign(es256().pair.get(), input)));
  expect_refused(server, input + "." + server::jwt_base64url(raw.substr(0, 63)));
  expect_refused(server, input + "." + server::jwt_base64url(raw + '\0'));
  expect_refused(server, input + "." + server::jwt_base64url(std::string(64, '\0')));
}

TEST(ServerAuth, AlgorithmConfusionWithTheRsaPublicKeyIsRefused) {
  key_set_dir keys;
  const std::string file = keys.write({&rs256()});
  server_process server(key_set_args(file, false));
  EXPECT_EQ(accepted(server, rs256().sign(valid_claims())).user, "alice");

  // The attacker knows the public key (it is public) and uses its PEM text, byte for byte as
  // the server read it, as an HMAC secret.
  std::ifstream in(keys.path() / "key0.pub.pem");
  const std::string pem{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  ASSERT_EQ(pem, rs256().public_pem());
  const auto confused_kid = hmac_key(rs256().kid, pem);
  EXPECT_NE(expect_refused(server, confused_kid.sign(valid_claims())).find("alg"),
            std::string::npos);
  const auto confused = hmac_key("", pem);
  expect_refused(server, confused.sign(valid_claims()));
  // Nor does the token get to name another algorithm for the key.
  for (const char* alg : {"none", "HS384", "RS512", "PS256", "rs256"}) {
    const std::string header = R"({"alg":")" + std::string(alg) + R"(","kid":"2026-11"})";
    expect_refused(server, rs256().sign(valid_claims(), header));
  }
  // alg none with an empty signature, and the harness's HS256 secret is not a key here.
  expect_refused(server, server::jwt_base64url(R"({"alg":"none","kid":"2026-11"})") + "." +
                             server::jwt_base64url(valid_claims()) + ".");
  expect_refused(server, token_for("alice"));
}

TEST(ServerAuth, RotationAcceptsOldAndNewKeysUntilTheOldIsRemoved) {
  key_set_dir keys;
  const auto old_key = hmac_key("old", "an-old-shared-secret-of-32-bytes");
  const std::string file = keys.write({&old_key});
  server_process server(key_set_args(file, false));
  const std::string old_token = old_key.sign(valid_claims());
  EXPECT_EQ(accepted(server, old_token).user, "alice");

  keys.write({&rs256(), &old_key});
  server.restart();
  EXPECT_EQ(accepted(server, old_token).user, "alice");
  EXPECT_EQ(accepted(server, rs256().sign(valid_claims("bob"))).user, "bob");

  keys.write({&rs256()});
  server.restart();
  expect_refused(server, old_token);
  EXPECT_EQ(accepted(server, rs256().sign(valid_claims("bob"))).user, "bob");
}

// ---- claims ---------------------------------------------------------------------------------------

TEST(ServerAuth, NotYetValidTokenIsClosedWith4001SayingNbf) {
  key_set_dir keys;
  server_process server(key_set_args(keys.write({&es256()})));
  const auto message =
      expect_refused(server, es256().sign(claims("alice", "default", now_s() + 3600, now_s() + 60)));
  EXPECT_NE(message.find("nbf"), std::string::npos) << message;
  // A past nbf is fine; an expired token is 4002 whatever its key.
  EXPECT_EQ(accepted(server, es256().sign(claims("alice", "default", now_s() + 60, now_s() - 60)))
                .user,
            "alice");
  expect_refused(server, es256().sign(claims("alice", "default", now_s() - 1)),
                 proto::error_code::token_expired, proto::close_code::token_expired);
}

TEST(ServerAuth, MistypedOrRepeatedClaimsAreClosedWith4001) {
  server_process server;
  const auto issuer = hmac_key("", test_secret);
  const auto exp = std::to_string(now_s() + 3600);
  for (const std::string& payload : {
           R"({"sub":7,"tid":"default","exp":)" + exp + "}",
           R"({"sub":"alice","tid":null,"exp":)" + exp + "}",
           R"({"sub":"alice","tid":["default"],"exp":)" + exp + "}",
           R"({"sub":"alice","tid":"default","exp":")" + exp + R"("})",
           R"({"sub":"alice","tid":"default","exp":)" + exp + ".5}",
           R"({"sub":"alice","tid":"default","exp":)" + exp + R"(,"nbf":"0"})",
           R"({"sub":"","tid":"default","exp":)" + exp + "}",
           // Parsers disagree on which of two members wins: neither does.
           R"({"sub":"alice","sub":"admin","tid":"default","exp":)" + exp + "}",
           std::string(R"(["alice","default"])"),
       }) {
    SCOPED_TRACE(payload);
    expect_refused(server, issuer.sign(payload));
  }
  expect_refused(server, issuer.sign(valid_claims(), R"({"alg":"HS256","alg":"none"})"));
  expect_refused(server, issuer.sign(valid_claims(), R"({"alg":"HS256","crit":["exp"]})"));
  expect_refused(server, issuer.sign(valid_claims(), R"({"alg":"HS256","kid":7})"));
  EXPECT_EQ(accepted(server, issuer.sign(valid_claims())).user, "alice");
}

// ---- refresh on a live session --------------------------------------------------------------------

TEST(ServerAuth, ASessionLivesUntilItsTokenExpiresUnlessRefreshed) {
  server_process server;
  const auto issuer = hmac_key("", test_secret);
  const std::int64_t t0 = next_whole_second();
  const auto at = [t0](std::chrono::milliseconds offset) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(t0)) + offset;
  };
  wire_client kept(server.port());
  kept.hello(issuer.sign(claims("alice", "default", t0 + 2)));
  wire_client lapsed(server.port());
  lapsed.hello(issuer.sign(claims("alice", "default", t0 + 2)));

  std::this_thread::sleep_until(at(1000ms));
  kept.send(proto::refresh{1, issuer.sign(claims("alice", "default", t0 + 4))});
  EXPECT_EQ(kept.expect<proto::ok>().id, 1u);

  // The other session is closed at its token's exp, not earlier: error 5, then 4002.
  const auto error = lapsed.expect<proto::error>(3s);
  EXPECT_GE(now_ms(), (t0 + 2) * 1000 - 50);
  EXPECT_EQ(error.code, proto::error_code::token_expired) << error.message;
  const auto closed = lapsed.wait_closed(2s);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::token_expired));

  // The refreshed one still chats after the first token's exp...
  std::this_thread::sleep_until(at(3500ms));
  EXPECT_FALSE(kept.wait_closed(0ms).has_value());
  join_room(kept, "general");
  EXPECT_EQ(post(kept, "general", "after-exp", "still here").seq, 1u);
  // ...and is closed the same way at the new token's exp.
  const auto kept_error = kept.expect<proto::error>(3s);
  EXPECT_GE(now_ms(), (t0 + 4) * 1000 - 50);
  EXPECT_EQ(kept_error.code, proto::error_code::token_expired) << kept_error.message;
  const auto kept_closed = kept.wait_closed(2s);
  ASSERT_TRUE(kept_closed.has_value());
  EXPECT_EQ(kept_closed->code, static_cast<std::uint16_t>(proto::close_code::token_expired));
}

TEST(ServerAuth, RefusedRefreshKeepsTheSessionAndItsToken) {
  key_set_dir keys;
  server_process server(key_set_args(keys.write({&rs256()})));
  wire_client alice(server.port());
  alice.hello(rs256().sign(valid_claims("alice", "acme")));

  // Same user name in another tenant is another user.
  alice.send(proto::refresh{1, rs256().sign(valid_claims("alice", "umbrella"))});
  auto error = alice.expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::forbidden);
  EXPECT_EQ(error.id, 1u);
  alice.send(proto::refresh{2, rs256().sign(claims("alice", "acme", now_s() - 5))});
  error = alice.expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::token_expired);
  EXPECT_EQ(error.id, 2u);
  alice.send(proto::refresh{3, rsa_key(rs256().kid).sign(valid_claims("alice", "acme"))});
  error = alice.expect<proto::error>();
  EXPECT_EQ(error.code, proto::error_code::unauthenticated);
  EXPECT_EQ(error.id, 3u);
  expect_nothing_pending(alice);

  // A refresh may switch keys: an HS256 token (test_secret, no kid) for the same user.
  alice.send(proto::refresh{4, token_for("alice", "acme", 2h)});
  EXPECT_EQ(alice.expect<proto::ok>().id, 4u);
  EXPECT_FALSE(alice.wait_closed(0ms).has_value());
}

// ---- sessions per user ----------------------------------------------------------------------------

TEST(ServerAuth, AUserOverMaxConnectionsIsRefusedWith4006UntilASessionEnds) {
  server_process server({"--max-connections-per-user", "2"});
  auto first = signed_in(server, "alice");
  auto second = signed_in(server, "alice");
  const auto message = expect_refused(server, token_for("alice"), proto::error_code::limit_exceeded,
                                      proto::close_code::too_many_connections);
  EXPECT_NE(message.find("max_connections_per_user 2"), std::string::npos) << message;
  EXPECT_EQ(metric(server, R"(parley_errors_total{code="too_many_connections"})"), 1.0);
  // Others are not affected, nor is the same name in another tenant.
  auto bob = signed_in(server, "bob");
  auto other_alice = signed_in(server, "alice", "umbrella");
  // Refused hellos took no slot, and a slot frees when a session ends.
  expect_refused(server, token_for("alice"), proto::error_code::limit_exceeded,
                 proto::close_code::too_many_connections);
  first.reset();
  EXPECT_TRUE(wait_until([&] {
    try {
      return accepted(server, token_for("alice")).user == "alice";
    } catch (const std::exception&) {
      return false;
    }
  }));
  expect_nothing_pending(*second);
}

TEST(ServerAuth, ZeroMaxConnectionsPerUserMeansNoLimit) {
  server_process server({"--max-connections-per-user", "0"});
  std::vector<std::unique_ptr<wire_client>> sessions;
  for (int i = 0; i < 34; ++i) sessions.push_back(signed_in(server, "alice"));  // default is 32
  expect_nothing_pending(*sessions.back());
}

// ---- tenants ----------------------------------------------------------------------------------------

TEST(ServerAuth, AnotherTenantCannotReachARoomByWebSocketOrRest) {
  key_set_dir keys;
  server_process server(key_set_args(keys.write({&rs256()})));
  auto alice = std::make_unique<wire_client>(server.port());
  alice->hello(rs256().sign(valid_claims("alice", "acme")));
  alice->send(proto::create_room{1, "board", true});
  EXPECT_EQ(alice->expect<proto::ok>().id, 1u);
  join_room(*alice, "board");
  post(*alice, "board", "b1", "acme board only");
  const std::string path = "/api/v1/rooms/board/messages";
  ASSERT_EQ(http_request(server.port(), "GET", path, rs256().sign(valid_claims("alice", "acme")))
                .status,
            200u);
  // In acme a non-member is forbidden (403); in another tenant the room does not exist (404),
  // even for a user of the same name.
  EXPECT_EQ(http_request(server.port(), "GET", path, rs256().sign(valid_claims("bob", "acme")))
                .status,
            403u);
  for (const char* user : {"alice", "mallory"}) {
    const auto rest =
        http_request(server.port(), "GET", path, rs256().sign(valid_claims(user, "umbrella")));
    EXPECT_EQ(rest.status, 404u) << rest.body;
    EXPECT_STREQ(json_of(rest)["error"].GetString(), "not_found");
  }

  wire_client mallory(server.port());
  mallory.hello(rs256().sign(valid_claims("alice", "umbrella")));
  mallory.send(proto::history{2, "board", std::nullopt, std::nullopt, 10});
  EXPECT_EQ(mallory.expect<proto::error>().code, proto::error_code::not_found);
  mallory.send(proto::add_member{3, "board", "alice"});
  EXPECT_EQ(mallory.expect<proto::error>().code, proto::error_code::not_found);
  // Joining creates umbrella's own "board": empty, and acme's traffic never reaches it.
  const auto joined = join_room(mallory, "board");
  EXPECT_EQ(joined.head, 0u);
  post(*alice, "board", "b2", "still acme only");
  expect_nothing_pending(mallory);
  const auto rest =
      http_request(server.port(), "GET", path, rs256().sign(valid_claims("alice", "umbrella")));
  ASSERT_EQ(rest.status, 200u) << rest.body;
  EXPECT_EQ(json_of(rest)["events"].Size(), 0u);
  // A token that claims acme but is not signed by a key of the server gets nowhere.
  EXPECT_EQ(http_request(server.port(), "GET", path,
                         rsa_key(rs256().kid).sign(valid_claims("alice", "acme")))
                .status,
            401u);
}

// ---- key set files ------------------------------------------------------------------------------------

TEST(ServerAuth, ABadKeySetStopsTheServerWithExit2NamingTheKey) {
  key_set_dir keys;
  const auto a = hmac_key("dup", "first-secret");
  const auto b = hmac_key("dup", "second-secret");
  const auto repeated = expect_startup_failure(key_set_args(keys.write({&a, &b})));
  EXPECT_EQ(repeated.exit_status, 2) << repeated.log;
  EXPECT_NE(repeated.log.find(R"(key "dup": kid "dup" is already in use)"), std::string::npos)
      << repeated.log;
  const auto keyless = expect_startup_failure({"--jwt-secret="});
  EXPECT_EQ(keyless.exit_status, 2) << keyless.log;
  EXPECT_NE(keyless.log.find("no JWT key"), std::string::npos) << keyless.log;
}

/// The config_error loading `json` as a key set gives, or "" if it loads.
std::string key_set_error(const key_set_dir& keys, const std::string& json) {
  server::jwt_keyring ring;
  try {
    ring.load_key_set(keys.write_file("keys.json", json));
  } catch (const server::config_error& e) {
    return e.what();
  }
  return {};
}

TEST(JwtKeyring, KeySetMistakesAreConfigErrorsNamingTheKey) {
  key_set_dir keys;
  keys.write_file("rs.pem", rs256().public_pem());
  keys.write_file("es.pem", es256().public_pem());
  keys.write_file("small.pem", rsa_key("", 1024).public_pem());
  keys.write_file("p384.pem", ec_key("", "P-384").public_pem());
  keys.write_file("garbage.pem", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n");
  EXPECT_EQ(key_set_error(keys, R"({"keys":[{"kid":"r","alg":"RS256","public_key_file":"rs.pem"},
                                           {"kid":"e","alg":"ES256","public_key_file":"es.pem"},
                                           {"alg":"HS256","secret":"s"}]})"),
            "");
  const std::vector<std::pair<std::string, std::string>> cases{
      {R"({"keys":[{"kid":"k1","alg":"RS256","public_key_file":"rs.pem","use":"sig"}]})",
       R"(key "k1": unknown member "use")"},
      {R"({"keys":[{"kid":"k2","alg":"RS256","public_key_file":"missing.pem"}]})",
       R"(key "k2": cannot read public_key_file)"},
      {R"({"keys":[{"kid":"k3","alg":"RS256","public_key_file":"garbage.pem"}]})",
       R"(key "k3")"},
      {R"({"keys":[{"kid":"k4","alg":"RS256","public_key_file":"small.pem"}]})",
       "RSA key of 1024 bits"},
      {R"({"keys":[{"kid":"k5","alg":"ES256","public_key_file":"p384.pem"}]})",
       "ES256 needs P-256"},
      {R"({"keys":[{"kid":"k6","alg":"ES256","public_key_file":"rs.pem"}]})",
       "ES256 needs an EC public key"},
      {R"({"keys":[{"kid":"k7","alg":"RS256","public_key_file":"es.pem"}]})",
       "RS256 needs an RSA public key"},
      {R"({"keys":[{"kid":"k8","alg":"HS256","public_key_file":"rs.pem"}]})",
       R"(key "k8": HS256 takes "secret")"},
      {R"({"keys":[{"kid":"k9","alg":"RS256","secret":"s"}]})", R"(key "k9": RS256 takes)"},
      {R"({"keys":[{"kid":"k10","alg":"none"}]})", R"(key "k10": alg must be)"},
      {R"({"keys":[{"kid":"","alg":"HS256","secret":"s"}]})", "empty kid"},
      {R"({"keys":[{"kid":"k11","alg":"HS256","secret":""}]})", R"(key "k11": an HS256 secret)"},
      {R"({"keys":[{"kid":"d","alg":"HS256","secret":"a"},{"kid":"d","alg":"HS256","secret":"b"}]})",
       R"(key "d": kid "d" is already in use)"},
      {R"({"keys":[{"alg":"HS256","secret":"a"},{"alg":"HS256","kid":5}]})",
       R"(key #2: "kid" must be a string)"},
      {R"({"keys":[],"extra":1})", R"(unexpected member "extra")"},
      {R"({"keys":[]})", "lists no keys"},
      {R"({"keys":{}})", R"("keys" must be an array)"},
      {R"([1,2])", "not a JSON object"},
  };
  for (const auto& [json, expected] : cases) {
    const std::string error = key_set_error(keys, json);
    EXPECT_NE(error.find(expected), std::string::npos) << json << "\n -> " << error;
    EXPECT_NE(error.find("keys.json"), std::string::npos) << error;
    if (json.find(R"("kid":"k)") != std::string::npos) {
      EXPECT_NE(error.find(R"(key "k)"), std::string::npos) << error;
    }
  }
}

TEST(JwtKeyring, EachHostileHeaderGetsItsOwnRefusal) {
  server::jwt_keyring ring;
  ring.add_public_key(rs256().kid, server::jwt_alg::rs256, rs256().public_pem());
  ring.add_public_key(es256().kid, server::jwt_alg::es256, es256().public_pem());
  ring.add_secret({}, "kidless-secret");
  const std::int64_t now = 1'700'000'000;
  const std::string payload = claims("alice", "acme", now + 60);
  const auto refusal = [&](const std::string& token) {
    const auto result = ring.verify(token, now);
    EXPECT_FALSE(result.claims.has_value()) << token;
    return result.error;
  };
  using server::jwt_errc;
  ASSERT_TRUE(ring.verify(rs256().sign(payload), now).claims);
  ASSERT_TRUE(ring.verify(es256().sign(payload), now).claims);
  ASSERT_TRUE(ring.verify(hmac_key("", "kidless-secret").sign(payload), now).claims);

  EXPECT_EQ(refusal(hmac_key(rs256().kid, rs256().public_pem()).sign(payload)),
            jwt_errc::alg_mismatch);
  EXPECT_EQ(refusal(hmac_key("", rs256().public_pem()).sign(payload)), jwt_errc::bad_signature);
  auto rs_without_kid = rs256();
  rs_without_kid.kid.clear();
  EXPECT_EQ(refusal(rs_without_kid.sign(payload)), jwt_errc::alg_mismatch);
  auto es_as_rs = es256();
  es_as_rs.kid = rs256().kid;
  EXPECT_EQ(refusal(es_as_rs.sign(payload)), jwt_errc::alg_mismatch);
  EXPECT_EQ(refusal(rsa_key("other").sign(payload)), jwt_errc::unknown_key);
  EXPECT_EQ(refusal(rs256().sign(payload, R"({"alg":"RS256","kid":""})")), jwt_errc::unknown_key);
  EXPECT_EQ(refusal(rs256().sign(payload, R"({"alg":"none","kid":"2026-11"})")),
            jwt_errc::unsupported_alg);
  EXPECT_EQ(refusal(rs256().sign(payload, R"({"alg":"RS384","kid":"2026-11"})")),
            jwt_errc::unsupported_alg);
  EXPECT_EQ(refusal(rs256().sign(payload, R"({"kid":"2026-11"})")), jwt_errc::unsupported_alg);
  EXPECT_EQ(refusal(rs256().sign(payload, R"({"alg":"RS256","kid":["2026-11"]})")),
            jwt_errc::malformed);
  EXPECT_EQ(refusal(rsa_key(rs256().kid).sign(payload)), jwt_errc::bad_signature);
  EXPECT_EQ(refusal(rs256().sign(claims("alice", "acme", now))), jwt_errc::expired);
  EXPECT_EQ(refusal(es256().sign(claims("alice", "acme", now + 60, now + 1))),
            jwt_errc::not_yet_valid);

  // Without kid every kid-less key of the token's alg is tried: rotation of jwt_secret-like keys.
  server::jwt_keyring rotating;
  rotating.add_secret({}, "old");
  rotating.add_secret({}, "new");
  EXPECT_TRUE(rotating.verify(hmac_key("", "old").sign(payload), now).claims);
  EXPECT_TRUE(rotating.verify(hmac_key("", "new").sign(payload), now).claims);
  EXPECT_EQ(rotating.verify(hmac_key("", "other").sign(payload), now).error,
            jwt_errc::bad_signature);
  EXPECT_EQ(rotating.verify(rs256().sign(payload), now).error, jwt_errc::unknown_key);
}

}  // namespace
}  // namespace parley::test
