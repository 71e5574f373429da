// HS256 tokens for the simulated users, in the server's format (server/src/jwt.hpp): header
// {"alg":"HS256","typ":"JWT"}, claims {"sub","tid","exp","iat"}. Minted here with OpenSSL so
// the bench does not link the server's code.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::bench {

/// A JWT for `user` of `tenant`, valid from `now_s` for `lifetime_s` seconds. User and tenant
/// are written as JSON strings (the bench only uses [A-Za-z0-9._-] names).
std::string mint_token(std::string_view user, std::string_view tenant, std::string_view secret,
                       std::int64_t now_s, std::int64_t lifetime_s);

}  // namespace parley::bench
