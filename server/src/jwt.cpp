#include "jwt.hpp"

#include "config.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <iterator>
#include <set>

namespace parley::server {
namespace {

/// ES256 signatures in a JWS are r || s, each a 32-byte big-endian integer (RFC 7518 §3.4).
constexpr std::size_t es256_signature_size = 64;
/// RSA moduli below this are refused at load time (RFC 7518 §3.3 requires 2048 bits).
constexpr int rs256_min_bits = 2048;

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

/// SHA-256 signature check with a public key (RSASSA-PKCS1-v1_5 for RSA, DER ECDSA for EC).
bool digest_verify(EVP_PKEY* key, std::string_view data, std::string_view signature) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                     EVP_MD_CTX_free);
  const bool ok = ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(data),
                                   data.size()) == 1;
  // A refused signature leaves errors on this thread's queue; they say nothing we report.
  ERR_clear_error();
  return ok;
}

/// The DER ECDSA-Sig-Value OpenSSL verifies, from a JWS r || s; empty if it cannot be built.
std::string ecdsa_der(std::string_view raw) {
  const std::size_t half = raw.size() / 2;
  BIGNUM* r = BN_bin2bn(bytes(raw), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes(raw.substr(half)), static_cast<int>(half), nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return {};
  }
  unsigned char* der = nullptr;  // r and s now belong to sig
  const int length = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (length <= 0) return {};
  std::string out(reinterpret_cast<const char*>(der), static_cast<std::size_t>(length));
  OPENSSL_free(der);
  return out;
}

std::optional<jwt_alg> alg_named(std::string_view name) {
  if (name == "HS256") return jwt_alg::hs256;
  if (name == "RS256") return jwt_alg::rs256;
  if (name == "ES256") return jwt_alg::es256;
  return std::nullopt;
}

std::string_view string_of(const rapidjson::Value& value) {
  return {value.GetString(), value.GetStringLength()};
}

/// Two members of one name are read differently by different parsers (first or last wins),
/// so a token that has them means different things to different checkers: refused.
bool has_repeated_names(const rapidjson::Value& object) {
  std::set<std::string_view> seen;
  for (const auto& member : object.GetObject()) {
    if (!seen.insert(string_of(member.name)).second) return true;
  }
  return false;
}

std::string to_json(const rapidjson::Document& doc) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  doc.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::optional<rapidjson::Document> parse_object(std::string_view json) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject() || has_repeated_names(doc)) return std::nullopt;
  return doc;
}

std::string string_claim(const rapidjson::Document& doc, const char* name) {
  if (!doc.HasMember(name) || !doc[name].IsString()) return {};
  return std::string(string_of(doc[name]));
}

/// Reads a NumericDate claim; nullopt when absent or not an integer.
std::optional<std::int64_t> time_claim(const rapidjson::Document& doc, const char* name) {
  if (!doc.HasMember(name) || !doc[name].IsInt64()) return std::nullopt;
  return doc[name].GetInt64();
}

jwt_verification refused(jwt_errc error) { return {std::nullopt, error}; }

/// How errors name a key given in code (jwt_secret, tests); key set files name it themselves.
std::string key_label(std::string_view kid) {
  return kid.empty() ? "key without kid" : "key \"" + std::string(kid) + "\"";
}

/// Loads a PEM public key for `alg`, refusing keys it must not be used with.
std::shared_ptr<EVP_PKEY> read_public_key(jwt_alg alg, std::string_view pem,
                                          const std::string& label) {
  const std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  EVP_PKEY* raw = bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr;
  ERR_clear_error();
  if (raw == nullptr) {
    throw config_error(label + ": not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  std::shared_ptr<EVP_PKEY> key(raw, EVP_PKEY_free);
  const std::string type = EVP_PKEY_get0_type_name(raw) ? EVP_PKEY_get0_type_name(raw) : "?";
  if (alg == jwt_alg::rs256) {
    if (!EVP_PKEY_is_a(raw, "RSA")) {
      throw config_error(label + ": RS256 needs an RSA public key, the PEM holds " + type);
    }
    if (const int bits = EVP_PKEY_get_bits(raw); bits < rs256_min_bits) {
      throw config_error(label + ": RSA key of " + std::to_string(bits) +
                         " bits; RS256 needs at least " + std::to_string(rs256_min_bits));
    }
  } else if (alg == jwt_alg::es256) {
    if (!EVP_PKEY_is_a(raw, "EC")) {
      throw config_error(label + ": ES256 needs an EC public key on P-256, the PEM holds " + type);
    }
    std::array<char, 80> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(raw, OSSL_PKEY_PARAM_GROUP_NAME, group.data(),
                                       group.size(), &length) != 1 ||
        OBJ_sn2nid(group.data()) != NID_X9_62_prime256v1) {
      ERR_clear_error();
      throw config_error(label + ": EC key on " + (length > 0 ? group.data() : "an unnamed curve") +
                         "; ES256 needs P-256 (prime256v1)");
    }
  } else {
    throw config_error(label + ": HS256 takes a secret, not a public key");
  }
  return key;
}

}  // namespace

// ---- keys -----------------------------------------------------------------------------------

void jwt_keyring::add_secret(std::string kid, std::string secret) {
  const std::string label = key_label(kid);
  add({std::move(kid), jwt_alg::hs256, std::move(secret), nullptr}, label);
}

void jwt_keyring::add_public_key(std::string kid, jwt_alg alg, std::string_view pem) {
  const std::string label = key_label(kid);
  auto public_key = read_public_key(alg, pem, label);
  add({std::move(kid), alg, {}, std::move(public_key)}, label);
}

void jwt_keyring::add(key k, const std::string& label) {
  if (k.alg == jwt_alg::hs256 && k.secret.empty()) {
    throw config_error(label + ": an HS256 secret must not be empty");
  }
  if (!k.kid.empty() &&
      std::any_of(keys_.begin(), keys_.end(), [&](const key& other) { return other.kid == k.kid; })) {
    throw config_error(label + ": kid \"" + k.kid + "\" is already in use");
  }
  keys_.push_back(std::move(k));
}

void jwt_keyring::load_key_set(const std::filesystem::path& file) {
  const std::string where = "jwt_keys " + file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error(where + ": cannot open");
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  rapidjson::Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    throw config_error(where + ": not a JSON object {\"keys\": [...]}");
  }
  const rapidjson::Value* list = nullptr;
  // Through a const reference: the non-const member iterators compare ambiguously in C++20.
  const rapidjson::Value& root = doc;
  for (const auto& member : root.GetObject()) {
    // Unknown members are typos (or options this server does not have): refuse, not ignore.
    if (string_of(member.name) != "keys" || list != nullptr) {
      throw config_error(where + ": unexpected member \"" + std::string(string_of(member.name)) +
                         "\" (only \"keys\")");
    }
    list = &member.value;
  }
  if (list == nullptr || !list->IsArray()) {
    throw config_error(where + ": \"keys\" must be an array of keys");
  }
  // An empty set would refuse every token: surely not what the operator meant.
  if (list->Empty()) throw config_error(where + ": lists no keys");

  std::size_t position = 0;
  for (const auto& entry : list->GetArray()) {
    ++position;
    std::string label = where + ": key #" + std::to_string(position);
    if (!entry.IsObject()) throw config_error(label + ": not a JSON object");
    if (entry.HasMember("kid") && entry["kid"].IsString()) {
      label = where + ": key \"" + std::string(string_of(entry["kid"])) + "\"";
    }
    std::optional<std::string> kid, alg_name, secret, key_file;
    for (const auto& member : entry.GetObject()) {
      const std::string name(string_of(member.name));
      std::optional<std::string>* field = name == "kid"               ? &kid
                                          : name == "alg"             ? &alg_name
                                          : name == "secret"          ? &secret
                                          : name == "public_key_file" ? &key_file
                                                                      : nullptr;
      if (field == nullptr) {
        throw config_error(label + ": unknown member \"" + name +
                           "\" (kid, alg, secret, public_key_file)");
      }
      if (field->has_value()) throw config_error(label + ": \"" + name + "\" given twice");
      if (!member.value.IsString()) throw config_error(label + ": \"" + name + "\" must be a string");
      *field = std::string(string_of(member.value));
    }
    if (kid && kid->empty()) {
      throw config_error(label + ": empty kid (leave kid out for tokens without one)");
    }
    const auto alg = alg_named(alg_name.value_or(""));
    if (!alg) throw config_error(label + ": alg must be HS256, RS256 or ES256");

    if (*alg == jwt_alg::hs256) {
      if (key_file) throw config_error(label + ": HS256 takes \"secret\", not \"public_key_file\"");
      if (!secret) throw config_error(label + ": HS256 needs \"secret\"");
      add({kid.value_or(""), *alg, std::move(*secret), nullptr}, label);
      continue;
    }
    if (secret) throw config_error(label + ": " + *alg_name + " takes \"public_key_file\", not \"secret\"");
    if (!key_file || key_file->empty()) {
      throw config_error(label + ": " + *alg_name + " needs \"public_key_file\"");
    }
    // Relative to the key set file, so a key directory can be moved or mounted as a whole.
    const std::filesystem::path pem_path = file.parent_path() / *key_file;
    std::ifstream pem_in(pem_path, std::ios::binary);
    if (!pem_in) throw config_error(label + ": cannot read public_key_file " + pem_path.string());
    const std::string pem{std::istreambuf_iterator<char>(pem_in), std::istreambuf_iterator<char>()};
    add({kid.value_or(""), *alg, {}, read_public_key(*alg, pem, label + " (" + pem_path.string() + ")")},
        label);
  }
}

// ---- verification -----------------------------------------------------------------------------

bool jwt_keyring::signature_matches(const key& k, std::string_view signing_input,
                                    std::string_view signature) {
  switch (k.alg) {
    case jwt_alg::hs256: {
      const std::string expected = jwt_hmac_sha256(k.secret, signing_input);
      return signature.size() == expected.size() &&
             CRYPTO_memcmp(signature.data(), expected.data(), expected.size()) == 0;
    }
    case jwt_alg::rs256:
      return signature.size() == static_cast<std::size_t>(EVP_PKEY_get_size(k.public_key.get())) &&
             digest_verify(k.public_key.get(), signing_input, signature);
    case jwt_alg::es256: {
      // Only the fixed-size JWS form: a DER signature (what OpenSSL itself produces) or any
      // other length is refused rather than guessed at.
      if (signature.size() != es256_signature_size) return false;
      const std::string der = ecdsa_der(signature);
      return !der.empty() && digest_verify(k.public_key.get(), signing_input, der);
    }
  }
  return false;
}

jwt_verification jwt_keyring::verify(std::string_view token, std::int64_t now_s) const {
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return refused(jwt_errc::malformed);
  }
  const auto header_json = jwt_base64url_decode(token.substr(0, first));
  const auto payload_json = jwt_base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = jwt_base64url_decode(token.substr(second + 1));
  if (!header_json || !payload_json || !signature) return refused(jwt_errc::malformed);
  const auto header = parse_object(*header_json);
  const auto payload = parse_object(*payload_json);
  if (!header || !payload) return refused(jwt_errc::malformed);
  // "crit" lists extensions the verifier must understand (RFC 7515 §4.1.11); we know none.
  if (header->HasMember("crit")) return refused(jwt_errc::malformed);

  // The key decides how a token is checked, never the token: alg only has to agree with it.
  // jku, jwk, x5u and x5c are ignored on purpose: keys come from the server's configuration.
  const auto alg = alg_named(string_claim(*header, "alg"));
  if (!alg) return refused(jwt_errc::unsupported_alg);
  const std::string_view signing_input = token.substr(0, second);
  if (header->HasMember("kid")) {
    const auto& kid_value = (*header)["kid"];
    if (!kid_value.IsString()) return refused(jwt_errc::malformed);
    const std::string_view kid = string_of(kid_value);
    const auto k = std::find_if(keys_.begin(), keys_.end(), [&](const key& candidate) {
      return !candidate.kid.empty() && candidate.kid == kid;
    });
    if (k == keys_.end()) return refused(jwt_errc::unknown_key);
    if (k->alg != *alg) return refused(jwt_errc::alg_mismatch);
    if (!signature_matches(*k, signing_input, *signature)) return refused(jwt_errc::bad_signature);
  } else {
    bool keyless = false, same_alg = false, matched = false;
    for (const auto& k : keys_) {
      if (!k.kid.empty()) continue;
      keyless = true;
      if (k.alg != *alg) continue;
      same_alg = true;
      if (signature_matches(k, signing_input, *signature)) {
        matched = true;
        break;
      }
    }
    if (!keyless) return refused(jwt_errc::unknown_key);
    if (!same_alg) return refused(jwt_errc::alg_mismatch);
    if (!matched) return refused(jwt_errc::bad_signature);
  }

  jwt_claims claims;
  claims.sub = string_claim(*payload, "sub");
  claims.tid = string_claim(*payload, "tid");
  const auto exp = time_claim(*payload, "exp");
  if (claims.sub.empty() || claims.tid.empty() || !exp) return refused(jwt_errc::missing_claim);
  claims.exp = *exp;
  const bool has_nbf = payload->HasMember("nbf");
  const auto nbf = time_claim(*payload, "nbf");
  if (has_nbf && !nbf) return refused(jwt_errc::missing_claim);
  claims.nbf = nbf.value_or(0);
  claims.iat = time_claim(*payload, "iat").value_or(0);
  if (claims.exp <= now_s) return refused(jwt_errc::expired);
  if (claims.nbf > now_s) return refused(jwt_errc::not_yet_valid);
  return {std::move(claims), jwt_errc::malformed};
}

// ---- HS256 shorthands -------------------------------------------------------------------------

std::string jwt_base64url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(data.data()),
                                static_cast<int>(data.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  std::replace(out.begin(), out.end(), '+', '-');
  std::replace(out.begin(), out.end(), '/', '_');
  return out;
}

std::optional<std::string> jwt_base64url_decode(std::string_view text) {
  // EVP_DecodeBlock speaks standard base64 with padding: translate the url alphabet and
  // re-pad, rejecting anything outside it (it would otherwise skip whitespace).
  if (text.size() % 4 == 1) return std::nullopt;
  std::string standard;
  standard.reserve(text.size() + 3);
  for (char c : text) {
    const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (plain) standard += c;
    else if (c == '-') standard += '+';
    else if (c == '_') standard += '/';
    else return std::nullopt;
  }
  const std::size_t padding = (4 - standard.size() % 4) % 4;
  standard.append(padding, '=');
  std::string out(standard.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(standard.data()),
                                static_cast<int>(standard.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts the padding as zero bytes.
  out.resize(static_cast<std::size_t>(n) - padding);
  // Only the canonical spelling: the last character's unused bits would otherwise let one
  // token be written four ways (found by fuzz_jwt), which breaks anything keyed on the token.
  if (jwt_base64url(out) != text) return std::nullopt;
  return out;
}

std::string jwt_hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
       mac.data(), &length);
  return std::string(reinterpret_cast<const char*>(mac.data()), length);
}

std::string jwt_sign_hs256(const jwt_claims& claims, std::string_view secret) {
  rapidjson::Document payload(rapidjson::kObjectType);
  auto& alloc = payload.GetAllocator();
  payload.AddMember("sub", rapidjson::Value(claims.sub.c_str(), alloc), alloc);
  payload.AddMember("tid", rapidjson::Value(claims.tid.c_str(), alloc), alloc);
  if (claims.exp != 0) payload.AddMember("exp", claims.exp, alloc);
  if (claims.nbf != 0) payload.AddMember("nbf", claims.nbf, alloc);
  if (claims.iat != 0) payload.AddMember("iat", claims.iat, alloc);
  const std::string signing_input =
      jwt_base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + jwt_base64url(to_json(payload));
  return signing_input + "." + jwt_base64url(jwt_hmac_sha256(secret, signing_input));
}

jwt_verification jwt_verify_hs256(std::string_view token, std::string_view secret,
                                  std::int64_t now_s) {
  jwt_keyring keys;
  keys.add_secret({}, std::string(secret));
  return keys.verify(token, now_s);
}

std::string_view jwt_error_text(jwt_errc error) {
  switch (error) {
    case jwt_errc::malformed: return "token is not a well-formed JWT";
    case jwt_errc::unsupported_alg: return "token alg must be HS256, RS256 or ES256";
    case jwt_errc::unknown_key: return "token kid (or its absence) selects no key of this server";
    case jwt_errc::alg_mismatch: return "token alg differs from the alg of its key";
    case jwt_errc::bad_signature: return "token signature does not match";
    case jwt_errc::missing_claim: return "token lacks sub, tid or exp, or a claim has the wrong type";
    case jwt_errc::expired: return "token expired";
    case jwt_errc::not_yet_valid: return "token not valid yet: its nbf is in the future";
  }
  return "token refused";
}

}  // namespace parley::server
