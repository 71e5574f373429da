#include "jwt.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <array>

namespace parley::server {
namespace {

std::string base64url_encode(std::string_view data) {
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

std::optional<std::string> base64url_decode(std::string_view text) {
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
  if (base64url_encode(out) != text) return std::nullopt;
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac.data(), &length);
  return std::string(reinterpret_cast<const char*>(mac.data()), length);
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
  if (doc.HasParseError() || !doc.IsObject()) return std::nullopt;
  return doc;
}

std::string string_claim(const rapidjson::Document& doc, const char* name) {
  const auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsString()) return {};
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

/// Reads a NumericDate claim; nullopt when absent or not an integer.
std::optional<std::int64_t> time_claim(const rapidjson::Document& doc, const char* name) {
  const auto it = doc.FindMember(name);
  if (it == doc.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
  return it->value.GetInt64();
}

jwt_verification refused(jwt_errc error) { return {std::nullopt, error}; }

}  // namespace

std::string jwt_sign_hs256(const jwt_claims& claims, std::string_view secret) {
  rapidjson::Document payload(rapidjson::kObjectType);
  auto& alloc = payload.GetAllocator();
  payload.AddMember("sub", rapidjson::Value(claims.sub.c_str(), alloc), alloc);
  payload.AddMember("tid", rapidjson::Value(claims.tid.c_str(), alloc), alloc);
  if (claims.exp != 0) payload.AddMember("exp", claims.exp, alloc);
  if (claims.nbf != 0) payload.AddMember("nbf", claims.nbf, alloc);
  if (claims.iat != 0) payload.AddMember("iat", claims.iat, alloc);
  const std::string signing_input =
      base64url_encode(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url_encode(to_json(payload));
  return signing_input + "." + base64url_encode(hmac_sha256(secret, signing_input));
}

jwt_verification jwt_verify_hs256(std::string_view token, std::string_view secret,
                                  std::int64_t now_s) {
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return refused(jwt_errc::malformed);
  }
  const auto header_json = base64url_decode(token.substr(0, first));
  const auto payload_json = base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = base64url_decode(token.substr(second + 1));
  if (!header_json || !payload_json || !signature) return refused(jwt_errc::malformed);
  const auto header = parse_object(*header_json);
  const auto payload = parse_object(*payload_json);
  if (!header || !payload) return refused(jwt_errc::malformed);

  // The algorithm is fixed by the server, never chosen by the token: anything but HS256
  // (notably "none") is refused before the signature is even looked at.
  if (string_claim(*header, "alg") != "HS256") return refused(jwt_errc::unsupported_alg);
  const std::string expected = hmac_sha256(secret, token.substr(0, second));
  if (signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0) {
    return refused(jwt_errc::bad_signature);
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

std::string_view jwt_error_text(jwt_errc error) {
  switch (error) {
    case jwt_errc::malformed: return "token is not a well-formed JWT";
    case jwt_errc::unsupported_alg: return "token algorithm must be HS256";
    case jwt_errc::bad_signature: return "token signature does not match";
    case jwt_errc::missing_claim: return "token lacks sub, tid or exp";
    case jwt_errc::expired: return "token expired";
    case jwt_errc::not_yet_valid: return "token not valid yet (nbf)";
  }
  return "token refused";
}

}  // namespace parley::server
