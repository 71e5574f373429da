// fuzz_jwt: the server's HS256 JWT verifier (server/src/jwt.hpp).
//
// Each run does one of three things, chosen by the script (fuzz_input.hpp):
//  - verifies arbitrary bytes as a token: never crashes, and anything accepted has the claims
//    the server relies on (sub, tid, exp > now, nbf <= now);
//  - signs claims with jwt_sign_hs256 and mutates the token (flip, insert, delete, replace,
//    anywhere): the intact token verifies to the same claims exactly when they are valid at
//    `now`, and no different string verifies at all;
//  - signs arbitrary header and payload JSON itself with the right key: the verifier accepts
//    exactly when the header says alg HS256 and the claims are present, typed and current,
//    judged independently here with rapidjson.
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "jwt.hpp"

#include "parley/protocol/rules.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace server = parley::server;
using parley::fuzz::expect;
using parley::fuzz::fuzz_input;

const std::string& secret = parley::fuzz::jwt_secret;
constexpr std::int64_t now_s = parley::fuzz::jwt_now_s;

/// Base64url without padding (RFC 7515 §2), as a JWT writer must produce it.
std::string base64url(std::string_view data) {
  std::string text(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                      reinterpret_cast<const unsigned char*>(data.data()),
                                      static_cast<int>(data.size()));
  text.resize(static_cast<std::size_t>(written));
  text.erase(text.find_last_not_of('=') + 1);
  for (char& c : text) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return text;
}

/// "header.payload.signature" over exactly these JSON texts, signed with `secret`.
std::string signed_token(std::string_view header_json, std::string_view payload_json) {
  const std::string input = base64url(header_json) + "." + base64url(payload_json);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac.data(), &size);
  return input + "." + base64url({reinterpret_cast<const char*>(mac.data()), size});
}

/// The claims the server relies on, for anything the verifier accepted.
void check_accepted(const server::jwt_claims& claims) {
  expect(!claims.sub.empty() && !claims.tid.empty(), "accepted tokens name a user and tenant");
  expect(claims.exp > now_s, "accepted tokens have not expired");
  expect(claims.nbf <= now_s, "accepted tokens are already valid");
}

void verify_arbitrary(fuzz_input& in) {
  const auto result = server::jwt_verify_hs256(in.bytes(), secret, now_s);
  if (result.claims) check_accepted(*result.claims);
}

/// An id as the dev token endpoint allows it (1..64 printable ASCII), else `fallback`.
std::string identity(fuzz_input& in, std::string fallback) {
  auto id = in.bytes(64);
  return parley::proto::valid_client_id(id) ? id : fallback;
}

void mutate_signed(fuzz_input& in) {
  server::jwt_claims claims;
  claims.sub = identity(in, "alice");
  claims.tid = identity(in, "acme");
  claims.exp = now_s + in.number<std::int64_t>(-100, 100);
  claims.nbf = in.flag() ? now_s + in.number<std::int64_t>(-100, 100) : 0;
  claims.iat = in.flag() ? now_s : 0;
  const std::string token = server::jwt_sign_hs256(claims, secret);

  const auto intact = server::jwt_verify_hs256(token, secret, now_s);
  const bool valid = claims.exp > now_s && claims.nbf <= now_s;
  expect(intact.claims.has_value() == valid, "a signed token verifies iff its times are valid");
  if (intact.claims) {
    expect(intact.claims->sub == claims.sub && intact.claims->tid == claims.tid &&
               intact.claims->exp == claims.exp && intact.claims->nbf == claims.nbf &&
               intact.claims->iat == claims.iat,
           "verification returns the signed claims");
  }
  expect(!server::jwt_verify_hs256(token, "another-secret", now_s).claims,
         "a token signed with another key is refused");

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
  expect(!server::jwt_verify_hs256(mutated, secret, now_s).claims,
         "no string but the signed token itself verifies");
}

/// The verifier's rules, restated: alg HS256; sub and tid non-empty strings; exp an integer
/// after now; nbf, if present, an integer not after now.
bool acceptable(std::string_view header_json, std::string_view payload_json) {
  rapidjson::Document header, payload;
  header.Parse(header_json.data(), header_json.size());
  payload.Parse(payload_json.data(), payload_json.size());
  if (header.HasParseError() || !header.IsObject() || payload.HasParseError() ||
      !payload.IsObject()) {
    return false;
  }
  // HasMember and operator[] rather than FindMember: comparing rapidjson's member iterators is
  // ambiguous in C++20.
  const auto string_of = [](const rapidjson::Value& object, const char* name) {
    return object.HasMember(name) && object[name].IsString()
               ? std::optional<std::string_view>(
                     std::in_place, object[name].GetString(), object[name].GetStringLength())
               : std::nullopt;
  };
  const auto integer_of = [&](const char* name) {
    return payload.HasMember(name) && payload[name].IsInt64()
               ? std::optional<std::int64_t>(payload[name].GetInt64())
               : std::nullopt;
  };
  const auto sub = string_of(payload, "sub");
  const auto tid = string_of(payload, "tid");
  const auto exp = integer_of("exp");
  return string_of(header, "alg") == "HS256" && sub && !sub->empty() && tid && !tid->empty() &&
         exp && *exp > now_s &&
         (!payload.HasMember("nbf") || integer_of("nbf").value_or(now_s + 1) <= now_s);
}

void sign_arbitrary(fuzz_input& in) {
  const std::string header = in.flag() ? R"({"alg":"HS256","typ":"JWT"})" : in.bytes(200);
  const std::string payload = in.bytes();
  const auto result = server::jwt_verify_hs256(signed_token(header, payload), secret, now_s);
  expect(result.claims.has_value() == acceptable(header, payload),
         "a correctly signed token verifies iff its header and claims are acceptable");
  if (result.claims) check_accepted(*result.claims);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in(data, size);
  switch (in.number(0, 2)) {
    case 0: verify_arbitrary(in); break;
    case 1: mutate_signed(in); break;
    default: sign_arbitrary(in); break;
  }
  return 0;
}
