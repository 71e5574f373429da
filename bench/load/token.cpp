#include "token.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>

namespace parley::bench {

namespace {

std::string base64url(std::string_view data) {
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

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string mint_token(std::string_view user, std::string_view tenant, std::string_view secret,
                       std::int64_t now_s, std::int64_t lifetime_s) {
  const std::string header = R"({"alg":"HS256","typ":"JWT"})";
  const std::string claims = "{\"sub\":" + json_string(user) + ",\"tid\":" + json_string(tenant) +
                             ",\"exp\":" + std::to_string(now_s + lifetime_s) +
                             ",\"iat\":" + std::to_string(now_s) + "}";
  const std::string signing_input = base64url(header) + "." + base64url(claims);
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(),
       mac.data(), &length);
  return signing_input + "." +
         base64url(std::string_view(reinterpret_cast<const char*>(mac.data()), length));
}

}  // namespace parley::bench
