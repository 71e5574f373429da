// fuzz_jwt: the server's JWT verifier, jwt_keyring (server/src/jwt.hpp), holding the kinds of
// keys a deployment has: an HS256 secret without kid (jwt_secret), an HS256 key with a kid, and
// an RS256 and an ES256 public key with kids, generated once per process.
//
// Each run does one of four things, chosen by the script (fuzz_input.hpp):
//  - verifies arbitrary bytes as a token: never crashes, and anything accepted names a user and
//    a tenant, is current, and its header's alg is that of the key its kid (or its lack of one)
//    selects;
//  - signs claims with one of the keys and mutates the token (flip, insert, delete, replace,
//    anywhere): the intact token verifies to the same claims exactly when they are valid at
//    `now`, the same token is refused by a keyring with the same kids but other key material,
//    and no different string verifies at all;
//  - signs arbitrary header and payload JSON itself with one of the keys: the verifier accepts
//    exactly when an independent rapidjson check says the header selects that very key, names
//    its alg, and the claims are present, typed and current;
//  - forges algorithm confusion: a token naming a key (by kid or by having none) but another
//    alg, signed as that alg would be (HMAC keyed with the RSA/EC key's public PEM, or another
//    key pair): refused as alg_mismatch.
// Signing here is done with OpenSSL directly, not with the server's code.
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "jwt.hpp"

#include "parley/protocol/rules.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace {

namespace server = parley::server;
using parley::fuzz::expect;
using parley::fuzz::fuzz_input;

constexpr std::int64_t now_s = parley::fuzz::jwt_now_s;

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

/// SHA-256 signature with a private key: PKCS#1 v1.5 for RSA, r || s (JWS form) for EC.
std::string digest_sign(EVP_PKEY* key, std::string_view input) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                     EVP_MD_CTX_free);
  std::size_t size = 0;
  expect(EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
             EVP_DigestSign(ctx.get(), nullptr, &size, bytes(input), input.size()) == 1,
         "the fixture can sign");
  std::string signature(size, '\0');
  expect(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                        bytes(input), input.size()) == 1,
         "the fixture can sign");
  signature.resize(size);
  if (!EVP_PKEY_is_a(key, "EC")) return signature;
  const auto* der = bytes(signature);
  const std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> sig(
      d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size())), ECDSA_SIG_free);
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(64, '\0');
  BN_bn2binpad(r, reinterpret_cast<unsigned char*>(raw.data()), 32);
  BN_bn2binpad(s, reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
  return raw;
}

constexpr std::array<std::string_view, 3> alg_names{"HS256", "RS256", "ES256"};

/// One key as its issuer holds it: the secret or the private key, and the public PEM.
struct issuer {
  std::string kid;  // empty: its tokens carry no kid
  std::size_t alg = 0;  // index into alg_names
  std::string secret;
  std::shared_ptr<EVP_PKEY> pair;
  std::string public_pem;

  std::string_view alg_name() const { return alg_names[alg]; }
  std::string header() const { return header_for(alg_names[alg]); }
  /// A header naming this key (by kid, or by having none) and `alg`.
  std::string header_for(std::string_view name) const {
    return R"({"alg":")" + std::string(name) + R"(","typ":"JWT")" +
           (kid.empty() ? "" : R"(,"kid":")" + kid + '"') + "}";
  }
  std::string signature(std::string_view input) const {
    return alg == 0 ? server::jwt_hmac_sha256(secret, input) : digest_sign(pair.get(), input);
  }
  /// "header.payload.signature" over exactly these JSON texts, signed with this key.
  std::string sign(std::string_view header_json, std::string_view payload_json) const {
    const std::string input = server::jwt_base64url(header_json) + "." + server::jwt_base64url(payload_json);
    return input + "." + server::jwt_base64url(signature(input));
  }
};

issuer hs256(std::string kid, std::string secret) {
  return {std::move(kid), 0, std::move(secret), nullptr, {}};
}

issuer asymmetric(std::string kid, std::size_t alg) {
  EVP_PKEY* key = alg == 1 ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{2048})
                           : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", const_cast<char*>("P-256"));
  expect(key != nullptr, "the fixture can generate keys");
  issuer out{std::move(kid), alg, {}, std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free), {}};
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  out.public_pem.assign(data, static_cast<std::size_t>(size));
  return out;
}

/// The keys, a keyring that trusts them, and a keyring with the same kids and algs but other
/// material (a server that must not accept these issuers' tokens).
struct fixture {
  std::array<issuer, 4> issuers{
      hs256("", parley::fuzz::jwt_secret),  // jwt_secret: HS256 without kid
      hs256("hs", "fuzz-kid-secret"),
      asymmetric("rs", 1),
      asymmetric("es", 2),
  };
  std::array<issuer, 4> strangers{
      hs256("", "another-secret"),
      hs256("hs", "another-kid-secret"),
      asymmetric("rs", 1),
      asymmetric("es", 2),
  };
  server::jwt_keyring ring = keyring_of(issuers);
  server::jwt_keyring stranger_ring = keyring_of(strangers);

  static server::jwt_keyring keyring_of(const std::array<issuer, 4>& keys) {
    server::jwt_keyring ring;
    for (const auto& key : keys) {
      if (key.alg == 0) {
        ring.add_secret(key.kid, key.secret);
      } else {
        ring.add_public_key(key.kid, key.alg == 1 ? server::jwt_alg::rs256 : server::jwt_alg::es256,
                            key.public_pem);
      }
    }
    return ring;
  }

  /// The key a header selects, judged here: its kid's, or the kid-less one; null if none.
  const issuer* selected_by(const rapidjson::Value& header) const {
    if (!header.HasMember("kid")) return &issuers[0];
    const auto& kid = header["kid"];
    if (!kid.IsString()) return nullptr;
    const std::string_view wanted(kid.GetString(), kid.GetStringLength());
    for (const auto& key : issuers) {
      if (!key.kid.empty() && key.kid == wanted) return &key;
    }
    return nullptr;
  }
};

const fixture& keys() {
  static const fixture instance;
  return instance;
}

std::optional<std::string_view> string_of(const rapidjson::Value& object, const char* name) {
  // HasMember and operator[] rather than FindMember: comparing rapidjson's member iterators is
  // ambiguous in C++20.
  if (!object.HasMember(name) || !object[name].IsString()) return std::nullopt;
  return std::string_view(object[name].GetString(), object[name].GetStringLength());
}

/// Parsed as the verifier must accept it: a JSON object without repeated member names.
std::optional<rapidjson::Document> json_object(std::string_view text) {
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  std::set<std::string> names;
  const rapidjson::Value& object = doc;  // const: non-const member iterators compare ambiguously
  for (const auto& member : object.GetObject()) {
    if (!names.emplace(member.name.GetString(), member.name.GetStringLength()).second) {
      return std::nullopt;
    }
  }
  return doc;
}

/// The claims the server relies on, and the key selection, for anything the verifier accepted.
void check_accepted(std::string_view token, const server::jwt_claims& claims) {
  expect(!claims.sub.empty() && !claims.tid.empty(), "accepted tokens name a user and tenant");
  expect(claims.exp > now_s, "accepted tokens have not expired");
  expect(claims.nbf <= now_s, "accepted tokens are already valid");
  const auto header = json_object(server::jwt_base64url_decode(token.substr(0, token.find('.'))).value_or(""));
  expect(header.has_value(), "accepted tokens have a JSON object header");
  const issuer* key = keys().selected_by(*header);
  expect(key != nullptr, "accepted tokens select a key");
  expect(string_of(*header, "alg") == key->alg_name(),
         "accepted tokens name the alg of the key they select");
}

void verify_arbitrary(fuzz_input& in) {
  const std::string token = in.bytes();
  const auto result = keys().ring.verify(token, now_s);
  if (result.claims) check_accepted(token, *result.claims);
}

/// An id as the dev token endpoint allows it (1..64 printable ASCII), else `fallback`.
std::string identity(fuzz_input& in, std::string fallback) {
  auto id = in.bytes(64);
  return parley::proto::valid_client_id(id) ? id : fallback;
}

const issuer& pick_issuer(fuzz_input& in) {
  return keys().issuers[in.number<std::size_t>(0, keys().issuers.size() - 1)];
}

std::string claims_json(const server::jwt_claims& claims) {
  rapidjson::Document payload(rapidjson::kObjectType);
  auto& alloc = payload.GetAllocator();
  payload.AddMember("sub", rapidjson::Value(claims.sub.c_str(), alloc), alloc);
  payload.AddMember("tid", rapidjson::Value(claims.tid.c_str(), alloc), alloc);
  payload.AddMember("exp", claims.exp, alloc);
  if (claims.nbf != 0) payload.AddMember("nbf", claims.nbf, alloc);
  if (claims.iat != 0) payload.AddMember("iat", claims.iat, alloc);
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  payload.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

void mutate_signed(fuzz_input& in) {
  const issuer& key = pick_issuer(in);
  server::jwt_claims claims;
  claims.sub = identity(in, "alice");
  claims.tid = identity(in, "acme");
  claims.exp = now_s + in.number<std::int64_t>(-100, 100);
  claims.nbf = in.flag() ? now_s + in.number<std::int64_t>(-100, 100) : 0;
  claims.iat = in.flag() ? now_s : 0;
  const std::string token = key.sign(key.header(), claims_json(claims));

  const auto intact = keys().ring.verify(token, now_s);
  const bool valid = claims.exp > now_s && claims.nbf <= now_s;
  expect(intact.claims.has_value() == valid, "a signed token verifies iff its times are valid");
  if (intact.claims) {
    check_accepted(token, *intact.claims);
    expect(intact.claims->sub == claims.sub && intact.claims->tid == claims.tid &&
               intact.claims->exp == claims.exp && intact.claims->nbf == claims.nbf &&
               intact.claims->iat == claims.iat,
           "verification returns the signed claims");
  }
  expect(!keys().stranger_ring.verify(token, now_s).claims,
         "a token is refused by keys of the same kids and algs but other material");

  std::string mutated = token;
  const int edits = in.number(1, 4);
  for (int i = 0; i < edits; ++i) {
    const auto at = in.number<std::size_t>(0, mutated.size());
    const char c = static_cast<char>(in.number<int>(0, 255));
    switch (in.number(0, 3)) {
      case 0:
        if (at < mutated.size()) mutated[at] = static_cast<char>(mutated[at] ^ (c | 1));
        break;
      case 1: mutated.insert(mutated.begin() + static_cast<std::ptrdiff_t>(at), c); break;
      case 2:
        if (at < mutated.size()) mutated.erase(at, 1);
        break;
      default:
        if (at < mutated.size()) mutated[at] = c;
        break;
    }
  }
  if (mutated == token) return;
  expect(!keys().ring.verify(mutated, now_s).claims,
         "no string but the signed token itself verifies");
}

/// The verifier's rules, restated: a header without crit that selects `signer` (by kid, or
/// the kid-less key) and names its alg; sub and tid non-empty strings; exp an integer after
/// now; nbf, if present, an integer not after now.
bool acceptable(std::string_view header_json, std::string_view payload_json,
                const issuer& signer) {
  const auto header = json_object(header_json);
  const auto payload = json_object(payload_json);
  if (!header || !payload || header->HasMember("crit")) return false;
  if (keys().selected_by(*header) != &signer || string_of(*header, "alg") != signer.alg_name()) {
    return false;
  }
  const auto integer_of = [&](const char* name) {
    return payload->HasMember(name) && (*payload)[name].IsInt64()
               ? std::optional<std::int64_t>((*payload)[name].GetInt64())
               : std::nullopt;
  };
  const auto sub = string_of(*payload, "sub");
  const auto tid = string_of(*payload, "tid");
  const auto exp = integer_of("exp");
  return sub && !sub->empty() && tid && !tid->empty() && exp && *exp > now_s &&
         (!payload->HasMember("nbf") || integer_of("nbf").value_or(now_s + 1) <= now_s);
}

void sign_arbitrary(fuzz_input& in) {
  const issuer& signer = pick_issuer(in);
  const std::string header = in.flag() ? signer.header() : in.bytes(200);
  const std::string payload = in.bytes();
  const std::string token = signer.sign(header, payload);
  const auto result = keys().ring.verify(token, now_s);
  expect(result.claims.has_value() == acceptable(header, payload, signer),
         "a correctly signed token verifies iff its header selects the signing key and names "
         "its alg, and its claims are acceptable");
  if (result.claims) check_accepted(token, *result.claims);
}

void confuse_alg(fuzz_input& in) {
  const issuer& target = pick_issuer(in);
  // Another alg than the target key's, signed the way that alg is verified: HS256 keyed with
  // what an attacker knows of the key (its public PEM), RS256 / ES256 with a key pair of theirs.
  const std::size_t alg = (target.alg + in.number<std::size_t>(1, 2)) % alg_names.size();
  const std::string header = target.header_for(alg_names[alg]);
  const std::string payload = in.flag() ? std::string(R"({"sub":"alice","tid":"acme","exp":)") +
                                              std::to_string(now_s + 60) + "}"
                                        : in.bytes();
  const std::string input = server::jwt_base64url(header) + "." + server::jwt_base64url(payload);
  const std::string signature = alg == 0 ? server::jwt_hmac_sha256(target.public_pem, input)
                                          : keys().strangers[alg + 1].signature(input);
  const auto result = keys().ring.verify(input + "." + server::jwt_base64url(signature), now_s);
  expect(!result.claims, "a token naming another alg than its key's is refused");
  if (json_object(payload)) {
    expect(result.error == server::jwt_errc::alg_mismatch, "the refusal says alg_mismatch");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  keys();  // key generation takes a while: not inside the first run's timing
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in(data, size);
  switch (in.number(0, 3)) {
    case 0: verify_arbitrary(in); break;
    case 1: mutate_signed(in); break;
    case 2: sign_arbitrary(in); break;
    default: confuse_alg(in); break;
  }
  return 0;
}
