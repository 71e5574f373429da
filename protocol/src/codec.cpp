// Encoder and decoder: two walkers over the key tables in schema.hpp.
//
// Decoding happens in two steps. msgpack-c parses one value into a zone with every size limit
// derived from the bytes that are left (a container cannot hold more elements than there are
// bytes, a string cannot be longer than the input) and a depth cap, so a few hostile bytes
// cannot make it allocate much. The typed walker then checks shape, types, ranges and UTF-8.
// Failures travel as an internal exception and leave decode_frame as a decode_error value.
#include "parley/protocol/codec.hpp"
#include "parley/protocol/rules.hpp"

#include "schema.hpp"

#include <msgpack.hpp>

#include <array>
#include <cmath>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

namespace parley::proto {
namespace {

using wire::need;
using wire::schema;

// The variant lists the messages in msg_type order, so a type number is its index + 1.
constexpr std::size_t known_types = std::variant_size_v<message> - 1;
static_assert(std::is_same_v<std::variant_alternative_t<0, message>, hello>);
static_assert(std::is_same_v<std::variant_alternative_t<9, message>, event>);
static_assert(std::is_same_v<std::variant_alternative_t<22, message>, add_member>);
static_assert(static_cast<std::size_t>(msg_type::add_member) == known_types);
static_assert(std::is_same_v<std::variant_alternative_t<known_types, message>, unknown_message>);

// Protocol names, indexed by type number - 1 (docs/PROTOCOL.md §2).
constexpr std::array<std::string_view, known_types> type_names{
    "hello", "welcome", "join", "joined", "leave", "list_rooms", "room_list", "send", "ack",
    "event", "history", "history_page", "typing", "typing_update", "set_presence", "presence",
    "ping", "pong", "error", "ok", "refresh", "create_room", "add_member",
};

/// Largest integer every peer can hold exactly (JavaScript numbers are doubles).
constexpr std::uint64_t max_safe_integer = (std::uint64_t{1} << 53) - 1;

// ---- encoding ---------------------------------------------------------------------------------

/// msgpack-c output stream that appends straight into the caller's string (no staging buffer).
struct string_sink {
  std::string* out;
  void write(const char* data, std::size_t size) { out->append(data, size); }
};
using packer = msgpack::packer<string_sink>;

template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

void pack_text(packer& pk, std::string_view text) {
  pk.pack_str(static_cast<std::uint32_t>(text.size()));
  pk.pack_str_body(text.data(), static_cast<std::uint32_t>(text.size()));
}

template <class T>
void pack_map(packer& pk, const T& value);

template <class T>
void pack_value(packer& pk, const T& value) {
  if constexpr (std::is_same_v<T, bool>) {
    value ? pk.pack_true() : pk.pack_false();
  } else if constexpr (std::is_enum_v<T>) {
    pk.pack_uint32(static_cast<std::uint32_t>(value));
  } else if constexpr (std::is_same_v<T, std::uint32_t>) {
    pk.pack_uint32(value);
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    pk.pack_uint64(value);
  } else if constexpr (std::is_same_v<T, std::string>) {
    pack_text(pk, value);
  } else if constexpr (is_optional<T>::value) {
    pack_value(pk, *value);
  } else if constexpr (is_vector<T>::value) {
    pk.pack_array(static_cast<std::uint32_t>(value.size()));
    for (const auto& item : value) pack_value(pk, item);
  } else {
    static_assert(wire::has_schema<T>, "no wire encoding for this member type");
    pack_map(pk, value);
  }
}

/// True if the member holds its default, so an optional key is left out.
template <class T>
bool holds_default(const T& value, const T& fallback) {
  if constexpr (is_optional<T>::value) {
    return !value.has_value();
  } else if constexpr (is_vector<T>::value) {
    return value.empty();
  } else if constexpr (wire::has_schema<T>) {
    return false;  // nested maps are never optional-with-default
  } else {
    return value == fallback;
  }
}

template <class T>
void pack_map(packer& pk, const T& value) {
  static const T defaults{};
  const auto written = [&](const auto& f) {
    return f.presence == need::required || !holds_default(value.*f.member, defaults.*f.member);
  };
  std::uint32_t count = 0;
  std::apply([&](const auto&... f) { ((count += written(f) ? 1 : 0), ...); },
             schema<T>::fields);
  pk.pack_map(count);
  const auto pack_field = [&](const auto& f) {
    if (!written(f)) return;
    pack_text(pk, f.key);
    pack_value(pk, value.*f.member);
  };
  std::apply([&](const auto&... f) { (pack_field(f), ...); }, schema<T>::fields);
}

// ---- decoding ---------------------------------------------------------------------------------

/// Internal carrier of a decode failure; never escapes decode_frame.
struct decode_failure {
  decode_errc code;
  std::string detail;
  std::string room, cid;  // of a failing send, when those two fields are themselves valid
};

[[noreturn]] void fail(decode_errc code, std::string detail = {}) {
  throw decode_failure{code, std::move(detail), {}, {}};
}

std::uint64_t read_uint(const msgpack::object& o, std::uint64_t max) {
  if (o.type == msgpack::type::FLOAT32 || o.type == msgpack::type::FLOAT64) {
    // Some JavaScript encoders write numbers over 2^32 as float64: accept a float that holds
    // an exact integer, refuse fractions, NaN and infinities.
    const double d = o.via.f64;
    if (!(d == std::floor(d)) || std::isinf(d)) fail(decode_errc::wrong_type);
    if (d < 0) fail(decode_errc::out_of_range);
    if (d > static_cast<double>(max_safe_integer) || static_cast<std::uint64_t>(d) > max) {
      fail(decode_errc::out_of_range);
    }
    return static_cast<std::uint64_t>(d);
  }
  if (o.type == msgpack::type::NEGATIVE_INTEGER) fail(decode_errc::out_of_range);
  if (o.type != msgpack::type::POSITIVE_INTEGER) fail(decode_errc::wrong_type);
  if (o.via.u64 > max) fail(decode_errc::out_of_range);
  return o.via.u64;
}

std::string_view read_str(const msgpack::object& o, const decode_limits& limits) {
  if (o.type != msgpack::type::STR) fail(decode_errc::wrong_type);
  std::string_view text(o.via.str.ptr, o.via.str.size);
  if (text.size() > limits.max_string) fail(decode_errc::too_large);
  if (!valid_utf8(text)) fail(decode_errc::invalid_utf8);
  return text;
}

template <class T>
void read_map(const msgpack::object& o, T& out, const decode_limits& limits);

template <class T>
void read_value(const msgpack::object& o, T& out, const decode_limits& limits) {
  if constexpr (std::is_same_v<T, bool>) {
    if (o.type != msgpack::type::BOOLEAN) fail(decode_errc::wrong_type);
    out = o.via.boolean;
  } else if constexpr (std::is_same_v<T, presence_status>) {
    out = static_cast<T>(read_uint(o, static_cast<std::uint64_t>(presence_status::offline)));
  } else if constexpr (std::is_enum_v<T>) {
    // Unknown error codes pass through: a newer server may add codes an older client
    // handles generically.
    out = static_cast<T>(read_uint(o, std::numeric_limits<std::uint32_t>::max()));
  } else if constexpr (std::is_same_v<T, std::uint32_t>) {
    out = static_cast<std::uint32_t>(read_uint(o, std::numeric_limits<std::uint32_t>::max()));
  } else if constexpr (std::is_same_v<T, std::uint64_t>) {
    out = read_uint(o, max_safe_integer);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out = read_str(o, limits);
  } else if constexpr (is_optional<T>::value) {
    read_value(o, out.emplace(), limits);
  } else if constexpr (is_vector<T>::value) {
    if (o.type != msgpack::type::ARRAY) fail(decode_errc::wrong_type);
    if (o.via.array.size > limits.max_array) fail(decode_errc::too_large);
    out.resize(o.via.array.size);
    for (std::uint32_t i = 0; i < o.via.array.size; ++i) {
      try {
        read_value(o.via.array.ptr[i], out[i], limits);
      } catch (decode_failure& f) {
        f.detail = "[" + std::to_string(i) + "]" + (f.detail.empty() ? "" : "." + f.detail);
        throw;
      }
    }
  } else {
    static_assert(wire::has_schema<T>, "no wire decoding for this member type");
    if (o.type != msgpack::type::MAP) fail(decode_errc::wrong_type);
    read_map(o, out, limits);
  }
}

/// The value stored under `key`, or nullptr if the key is absent or nil (nil means absent, so
/// encoders that turn "undefined" into nil interoperate). A repeated key is malformed.
const msgpack::object* find_key(const msgpack::object_map& map, std::string_view key) {
  const msgpack::object* found = nullptr;
  for (std::uint32_t i = 0; i < map.size; ++i) {
    const msgpack::object& k = map.ptr[i].key;
    if (std::string_view(k.via.str.ptr, k.via.str.size) != key) continue;
    if (found != nullptr) fail(decode_errc::malformed, "repeated key");
    found = &map.ptr[i].val;
  }
  if (found != nullptr && found->type == msgpack::type::NIL) return nullptr;
  return found;
}

template <class T>
void read_map(const msgpack::object& o, T& out, const decode_limits& limits) {
  const msgpack::object_map& map = o.via.map;
  for (std::uint32_t i = 0; i < map.size; ++i) {
    if (map.ptr[i].key.type != msgpack::type::STR) fail(decode_errc::malformed, "non-string key");
  }
  const auto read_field = [&](const auto& f) {
    try {
      const msgpack::object* value = find_key(map, f.key);
      if (value == nullptr) {
        if (f.presence == need::required) fail(decode_errc::missing_field);
        return;
      }
      read_value(*value, out.*f.member, limits);
    } catch (decode_failure& failure) {
      const bool index_next = !failure.detail.empty() && failure.detail.front() == '[';
      failure.detail = std::string(f.key) + (failure.detail.empty() || index_next ? "" : ".") +
                       failure.detail;
      throw;
    }
  };
  std::apply([&](const auto&... f) { (read_field(f), ...); }, schema<T>::fields);
}

template <std::size_t I>
message read_known(const msgpack::object& body, const decode_limits& limits) {
  std::variant_alternative_t<I, message> m{};
  read_map(body, wire::body_of(m), limits);
  return m;
}

using body_reader = message (*)(const msgpack::object&, const decode_limits&);

template <std::size_t... I>
constexpr std::array<body_reader, sizeof...(I)> make_readers(std::index_sequence<I...>) {
  return {&read_known<I>...};
}
constexpr auto body_readers = make_readers(std::make_index_sequence<known_types>{});

/// A send refused for its text (or any other field) still names its room and cid, so the
/// sender can tie the error to the outbox entry instead of resending it forever.
void name_the_send(const msgpack::object& body, decode_failure& f) {
  const auto text_of = [&](std::string_view key) -> std::string_view {
    for (std::uint32_t i = 0; i < body.via.map.size; ++i) {
      const auto& k = body.via.map.ptr[i].key;
      const auto& v = body.via.map.ptr[i].val;
      if (k.type == msgpack::type::STR && std::string_view(k.via.str.ptr, k.via.str.size) == key &&
          v.type == msgpack::type::STR) {
        return {v.via.str.ptr, v.via.str.size};
      }
    }
    return {};
  };
  const auto room = text_of("room");
  const auto cid = text_of("cid");
  if (valid_room_id(room) && valid_client_id(cid)) {
    f.room = std::string(room);
    f.cid = std::string(cid);
  }
}

/// `[type, body]` → message. Unknown types need the same shape.
message read_message(const msgpack::object& o, const decode_limits& limits) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != 2) {
    fail(decode_errc::malformed, "message is not [type, body]");
  }
  const msgpack::object& type = o.via.array.ptr[0];
  const msgpack::object& body = o.via.array.ptr[1];
  if (type.type != msgpack::type::POSITIVE_INTEGER || type.via.u64 == 0) {
    fail(decode_errc::malformed, "type is not a positive integer");
  }
  if (type.via.u64 > std::numeric_limits<std::uint32_t>::max()) {
    fail(decode_errc::out_of_range, "type");
  }
  if (body.type != msgpack::type::MAP) fail(decode_errc::malformed, "body is not a map");
  const auto number = static_cast<std::uint32_t>(type.via.u64);
  if (number > known_types) return unknown_message{number};
  try {
    return body_readers[number - 1](body, limits);
  } catch (decode_failure& f) {
    f.detail = std::string(type_names[number - 1]) + "." + f.detail;
    if (number == static_cast<std::uint32_t>(msg_type::send)) name_the_send(body, f);
    throw;
  }
}

/// Parses the next MessagePack value of the frame, bounded by what is left of it.
msgpack::object unpack_next(msgpack::zone& zone, std::string_view frame, std::size_t& offset,
                            const decode_limits& limits) {
  const std::size_t left = frame.size() - offset;
  // An array needs a byte per element, a map two per pair: more than that cannot be in the
  // input, so the declared count is refused before msgpack-c allocates for it.
  const std::size_t max_array = std::min(left, limits.max_array);
  const std::size_t max_map = std::min(left / 2, limits.max_array);
  const std::size_t max_str = std::min(left, limits.max_string);
  const msgpack::unpack_limit bounds(max_array, max_map, max_str, left, left, limits.max_depth);
  // A count over what is left means the input ended early; over a configured limit, too large.
  const auto overflow = [&](std::size_t configured, std::size_t structural) {
    return configured < structural ? decode_errc::too_large : decode_errc::truncated;
  };
  const auto reference_input = [](msgpack::type::object_type, std::size_t, void*) {
    return true;  // strings point into the frame; the walker copies what it keeps
  };
  try {
    return msgpack::unpack(zone, frame.data(), frame.size(), offset, reference_input, nullptr,
                           bounds);
  } catch (const msgpack::insufficient_bytes&) {
    fail(decode_errc::truncated);
  } catch (const msgpack::depth_size_overflow&) {
    fail(decode_errc::too_deep);
  } catch (const msgpack::array_size_overflow&) {
    fail(overflow(limits.max_array, left), "array");
  } catch (const msgpack::map_size_overflow&) {
    fail(overflow(limits.max_array, left / 2), "map");
  } catch (const msgpack::str_size_overflow&) {
    fail(overflow(limits.max_string, left), "string");
  } catch (const msgpack::size_overflow&) {
    fail(decode_errc::truncated, "bin/ext");
  } catch (const std::bad_alloc&) {
    fail(decode_errc::too_large);
  } catch (const std::exception&) {
    fail(decode_errc::malformed);
  }
}

}  // namespace

decode_result decode_frame(std::string_view frame, const decode_limits& limits) {
  decode_result result;
  if (frame.empty()) {
    result.error = decode_error{decode_errc::empty, "empty frame", 0, {}, {}};
    return result;
  }
  if (frame.size() > limits.max_frame) {
    result.error = decode_error{decode_errc::too_large, "frame", 0, {}, {}};
    return result;
  }
  msgpack::zone zone;  // one arena for the whole frame
  std::size_t offset = 0;
  std::size_t index = 0;
  try {
    for (; offset < frame.size(); ++index) {
      if (index == limits.max_batch) fail(decode_errc::too_large, "batch");
      const msgpack::object value = unpack_next(zone, frame, offset, limits);
      result.messages.push_back(read_message(value, limits));
    }
  } catch (decode_failure& f) {
    result.messages.clear();
    result.error =
        decode_error{f.code, std::move(f.detail), index, std::move(f.room), std::move(f.cid)};
  } catch (const std::bad_alloc&) {
    result.messages.clear();
    result.error = decode_error{decode_errc::too_large, "out of memory", index, {}, {}};
  }
  return result;
}

void encode(const message& m, std::string& out) {
  string_sink sink{&out};
  packer pk(sink);
  pk.pack_array(2);
  pk.pack_uint32(type_of(m));
  std::visit(
      [&](const auto& alternative) {
        using T = std::decay_t<decltype(alternative)>;
        if constexpr (std::is_same_v<T, unknown_message>) {
          pk.pack_map(0);
        } else {
          pack_map(pk, wire::body_of(alternative));
        }
      },
      m);
}

std::string encode(const message& m) {
  std::string out;
  encode(m, out);
  return out;
}

std::string_view type_name(std::uint32_t type) {
  if (type == 0 || type > known_types) return "unknown";
  return type_names[type - 1];
}

std::uint32_t type_of(const message& m) {
  if (const auto* unknown = std::get_if<unknown_message>(&m)) return unknown->type;
  return static_cast<std::uint32_t>(m.index() + 1);
}

std::string_view error_name(error_code code) {
  switch (code) {
    case error_code::malformed: return "malformed";
    case error_code::unsupported: return "unsupported";
    case error_code::version_mismatch: return "version_mismatch";
    case error_code::unauthenticated: return "unauthenticated";
    case error_code::token_expired: return "token_expired";
    case error_code::forbidden: return "forbidden";
    case error_code::not_found: return "not_found";
    case error_code::rate_limited: return "rate_limited";
    case error_code::too_large: return "too_large";
    case error_code::invalid_utf8: return "invalid_utf8";
    case error_code::limit_exceeded: return "limit_exceeded";
    case error_code::not_joined: return "not_joined";
    case error_code::invalid_argument: return "invalid_argument";
    case error_code::internal: return "internal";
  }
  return "unknown";
}

error_code error_for(decode_errc code) {
  switch (code) {
    case decode_errc::too_large: return error_code::too_large;
    case decode_errc::invalid_utf8: return error_code::invalid_utf8;
    case decode_errc::out_of_range: return error_code::invalid_argument;
    case decode_errc::empty:
    case decode_errc::truncated:
    case decode_errc::malformed:
    case decode_errc::too_deep:
    case decode_errc::wrong_type:
    case decode_errc::missing_field: return error_code::malformed;
  }
  return error_code::malformed;
}

bool valid_utf8(std::string_view s) {
  // Table-free check after RFC 3629 §4: each lead byte fixes the length and the allowed range
  // of the first continuation byte, which rules out overlongs, surrogates and > U+10FFFF.
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    unsigned char low = 0x80;
    unsigned char high = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) low = 0xA0;   // overlong
      if (lead == 0xED) high = 0x9F;  // surrogates U+D800..U+DFFF
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) low = 0x90;   // overlong
      if (lead == 0xF4) high = 0x8F;  // over U+10FFFF
    } else {
      return false;  // continuation byte, C0/C1 overlong lead, or F5..FF
    }
    if (n - i < length) return false;
    const auto second = static_cast<unsigned char>(s[i + 1]);
    if (second < low || second > high) return false;
    for (std::size_t k = 2; k < length; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if (next < 0x80 || next > 0xBF) return false;
    }
    i += length;
  }
  return true;
}

}  // namespace parley::proto
