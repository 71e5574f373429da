// Test helpers that take a valid encoded message and change one key of its body at the
// MessagePack level, to produce inputs our encoder would never write.
#pragma once

#include <msgpack.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

/// MessagePack bytes of one value.
template <class T>
std::string packed(const T& value) {
  msgpack::sbuffer buffer;
  msgpack::pack(buffer, value);
  return std::string(buffer.data(), buffer.size());
}

/// A body key of an encoded message and the MessagePack type of its value.
struct body_key {
  std::string key;
  msgpack::type::object_type type;
};

/// The keys of the body of the single message in `bytes`.
std::vector<body_key> body_keys(std::string_view bytes);

/// `bytes` (one message) with body key `key` set to the raw MessagePack `value` (added if
/// absent), or removed when `value` is nullopt.
std::string with_key(std::string_view bytes, std::string_view key,
                     const std::optional<std::string>& value);

}  // namespace parley::test
