// JSON Web Tokens: the keyring the server verifies client tokens with (HS256 secrets, RS256 and
// ES256 public keys), and HS256 signing for the dev token endpoint and the tests. Crypto and
// base64 come from OpenSSL 3 (EVP), JSON from rapidjson.
#pragma once

#include <openssl/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::server {

/// The claims Parley reads: sub = user id, tid = tenant id, times in seconds since Unix epoch.
struct jwt_claims {
  std::string sub, tid;
  std::int64_t exp = 0, nbf = 0, iat = 0;
};

/// Why a token was refused.
enum class jwt_errc {
  malformed,        // not three canonical base64url parts of JSON objects, a non-string kid, crit
  unsupported_alg,  // header alg is not HS256, RS256 or ES256 (this refuses "none")
  unknown_key,      // the kid names no key, or there is a kid and no key without one
  alg_mismatch,     // header alg differs from the alg of the key it selects
  bad_signature,    // the signature does not verify under the selected key
  missing_claim,    // sub, tid or exp absent, empty or of the wrong type; nbf of the wrong type
  expired,          // exp <= now
  not_yet_valid,    // nbf > now
};

/// Outcome of a verification: claims, or (when claims is empty) the reason for refusal.
struct jwt_verification {
  std::optional<jwt_claims> claims;
  jwt_errc error = jwt_errc::malformed;  // meaningful only without claims
};

/// The signature algorithms a key can have (JWS "alg", RFC 7518 §3.1).
enum class jwt_alg { hs256, rs256, es256 };

/// The keys client tokens may be signed with, and the one verifier that checks tokens against
/// them. Each key is {kid, alg, material}: an HS256 secret or an RS256 / ES256 public key.
///
/// Selection is strict, because letting the token choose how it is checked is how JWT
/// verifiers get fooled: a token whose header has a `kid` is checked with exactly that key; a
/// token without one with the keys that have no kid (typically jwt_secret). The header's `alg`
/// must then equal the key's alg: an HS256 token "signed" with an RSA key's public PEM as the
/// HMAC secret meets an RS256 key and is refused (algorithm confusion); "none" and every other
/// alg are refused outright. Rotation is listing the old and the new key: tokens signed by
/// either verify until the old one is removed.
///
/// Key set file (server option jwt_keys):
///   {"keys": [
///     {"kid": "2026-11", "alg": "RS256", "public_key_file": "rs256.pub.pem"},
///     {"kid": "edge",    "alg": "ES256", "public_key_file": "/etc/parley/es256.pub.pem"},
///     {"kid": "old",     "alg": "HS256", "secret": "..."}
///   ]}
/// `kid` is optional (a key without one serves tokens without one) and unique when given;
/// `secret` belongs to HS256 keys, `public_key_file` (a PEM "PUBLIC KEY", as `openssl pkey
/// -pubout` writes it; relative paths are resolved against the key set file's directory) to
/// RS256 (RSA, 2048 bits or more) and ES256 (EC on P-256) keys. Any other member, a missing
/// file, a PEM that is not such a key or a repeated kid is a config_error naming the key.
class jwt_keyring {
 public:
  /// Adds an HS256 secret; `kid` empty: a key for tokens without kid. Throws config_error
  /// for an empty secret or a kid already present.
  void add_secret(std::string kid, std::string secret);
  /// Adds an RS256 or ES256 public key from PEM text. Throws config_error (naming the kid)
  /// when the PEM is not a public key `alg` can use (RSA under 2048 bits, EC off P-256, the
  /// other key type) or the kid is already present.
  void add_public_key(std::string kid, jwt_alg alg, std::string_view pem);
  /// Adds every key of a key set file (format above). Throws config_error naming the file
  /// and the key.
  void load_key_set(const std::filesystem::path& file);

  /// No key at all: every token is refused.
  bool empty() const { return keys_.empty(); }
  std::size_t size() const { return keys_.size(); }

  /// Checks structure, key selection, algorithm, signature (HMAC in constant time) and the
  /// claims at `now_s`.
  jwt_verification verify(std::string_view token, std::int64_t now_s) const;

 private:
  struct key {
    std::string kid;  // empty: serves tokens without kid
    jwt_alg alg = jwt_alg::hs256;
    std::string secret;                  // HS256
    std::shared_ptr<EVP_PKEY> public_key;  // RS256, ES256
  };

  /// Adds `k` unless its kid is taken or its secret empty; `label` names it in the error.
  void add(key k, const std::string& label);
  /// Whether `signature` signs `signing_input` under `k` (alg already matched).
  static bool signature_matches(const key& k, std::string_view signing_input,
                                std::string_view signature);

  std::vector<key> keys_;
};

/// The JWS building blocks, shared by the verifier, the signer and every test or tool that
/// writes tokens by hand (hostile headers, other algorithms).
/// Base64url without padding (RFC 7515 §2).
std::string jwt_base64url(std::string_view bytes);
/// The inverse, for the canonical spelling only (what jwt_base64url writes); nullopt otherwise.
std::optional<std::string> jwt_base64url_decode(std::string_view text);
/// HMAC-SHA-256 of `data` under `key`: the HS256 signature of a signing input.
std::string jwt_hmac_sha256(std::string_view key, std::string_view data);

/// Signs the claims (header {"alg":"HS256","typ":"JWT"}, no kid); exp, nbf and iat are written
/// only when non-zero (so tests can mint a token without exp).
std::string jwt_sign_hs256(const jwt_claims& claims, std::string_view secret);

/// Verifies against one HS256 secret without kid: shorthand for a one-key jwt_keyring, for
/// tests that check the HS256 path alone.
jwt_verification jwt_verify_hs256(std::string_view token, std::string_view secret,
                                  std::int64_t now_s);

/// Short description of a refusal, for error.msg and logs.
std::string_view jwt_error_text(jwt_errc error);

}  // namespace parley::server
