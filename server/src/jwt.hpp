// JSON Web Tokens signed with HS256: what the server accepts from clients and what the dev
// token endpoint and the tests mint. Crypto and base64 come from OpenSSL, JSON from rapidjson.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::server {

/// The claims Parley reads: sub = user id, tid = tenant id, times in seconds since Unix epoch.
struct jwt_claims {
  std::string sub, tid;
  std::int64_t exp = 0, nbf = 0, iat = 0;
};

/// Why a token was refused.
enum class jwt_errc {
  malformed,       // not three base64url parts of JSON objects
  unsupported_alg, // header alg is not exactly "HS256" (this refuses "none")
  bad_signature,   // HMAC does not match
  missing_claim,   // sub, tid or exp absent, empty or of the wrong type
  expired,         // exp <= now
  not_yet_valid,   // nbf > now
};

/// Outcome of jwt_verify_hs256: claims, or (when claims is empty) the reason for refusal.
struct jwt_verification {
  std::optional<jwt_claims> claims;
  jwt_errc error = jwt_errc::malformed;  // meaningful only without claims
};

/// Signs the claims (header {"alg":"HS256","typ":"JWT"}); exp, nbf and iat are written only
/// when non-zero (so tests can mint a token without exp).
std::string jwt_sign_hs256(const jwt_claims& claims, std::string_view secret);

/// Checks structure, algorithm, signature (constant time) and the time claims at `now_s`.
jwt_verification jwt_verify_hs256(std::string_view token, std::string_view secret,
                                  std::int64_t now_s);

/// Short description of a refusal, for error.msg and logs.
std::string_view jwt_error_text(jwt_errc error);

}  // namespace parley::server
