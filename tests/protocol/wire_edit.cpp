#include "wire_edit.hpp"

#include <stdexcept>

namespace parley::test {
namespace {

msgpack::object_handle unpack_message(std::string_view bytes) {
  msgpack::object_handle handle = msgpack::unpack(bytes.data(), bytes.size());
  const msgpack::object& o = handle.get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2 ||
      o.via.array.ptr[1].type != msgpack::type::MAP) {
    throw std::invalid_argument("not a [type, body] message");
  }
  return handle;
}

std::string_view key_of(const msgpack::object_kv& kv) {
  return {kv.key.via.str.ptr, kv.key.via.str.size};
}

}  // namespace

std::vector<body_key> body_keys(std::string_view bytes) {
  const msgpack::object_handle handle = unpack_message(bytes);
  const msgpack::object_map& body = handle.get().via.array.ptr[1].via.map;
  std::vector<body_key> keys;
  for (std::uint32_t i = 0; i < body.size; ++i) {
    keys.push_back({std::string(key_of(body.ptr[i])), body.ptr[i].val.type});
  }
  return keys;
}

std::string with_key(std::string_view bytes, std::string_view key,
                     const std::optional<std::string>& value) {
  const msgpack::object_handle handle = unpack_message(bytes);
  const msgpack::object& message = handle.get();
  const msgpack::object_map& body = message.via.array.ptr[1].via.map;

  bool present = false;
  for (std::uint32_t i = 0; i < body.size; ++i) present = present || key_of(body.ptr[i]) == key;
  std::uint32_t count = body.size;
  if (present && !value) --count;
  if (!present && value) ++count;

  msgpack::sbuffer out;
  msgpack::packer<msgpack::sbuffer> pk(out);
  pk.pack_array(2);
  pk.pack(message.via.array.ptr[0]);
  pk.pack_map(count);
  for (std::uint32_t i = 0; i < body.size; ++i) {
    if (key_of(body.ptr[i]) != key) {
      pk.pack(body.ptr[i].key);
      pk.pack(body.ptr[i].val);
    } else if (value) {
      pk.pack(body.ptr[i].key);
      out.write(value->data(), value->size());
    }
  }
  if (!present && value) {
    pk.pack(std::string(key));
    out.write(value->data(), value->size());
  }
  return std::string(out.data(), out.size());
}

}  // namespace parley::test
