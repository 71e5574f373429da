#include "handshake.hpp"

#include <openssl/evp.h>

#include <array>
#include <string>

namespace parley::server {
namespace {

/// RFC 6455 §1.3: appended to the client's key before hashing.
constexpr std::string_view accept_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A Sec-WebSocket-Key is the base64 of 16 random bytes: 22 characters of the alphabet and
/// "==" (RFC 4648 allows '=' only as the final padding).
bool valid_key(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  const auto in_alphabet = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/';
  };
  for (const char c : key.substr(0, 22)) {
    if (!in_alphabet(c)) return false;
  }
  return true;
}

}  // namespace

upgrade_answer answer_upgrade(const upgrade_request& request) {
  if (request.version != "13") return {upgrade_answer::kind::bad_version, {}};
  if (!valid_key(request.key)) return {upgrade_answer::kind::bad_key, {}};
  return {upgrade_answer::kind::accept, websocket_accept_key(request.key)};
}

std::string websocket_accept_key(std::string_view key) {
  std::string input(key);
  input += accept_guid;
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int digest_size = 0;
  EVP_Digest(input.data(), input.size(), digest.data(), &digest_size, EVP_sha1(), nullptr);
  std::array<unsigned char, 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1> encoded{};
  const int size = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<std::size_t>(size));
}

}  // namespace parley::server
