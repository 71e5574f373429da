// MessagePack encoding and strict, bounded decoding of Parley frames.
//
// A frame is one WebSocket binary message holding one or more encoded messages back to back.
// Decoding never throws and never allocates more than a small multiple of the input: msgpack
// unpack limits are derived from the input size, nesting depth is capped, and every text field
// is checked for UTF-8. Errors are values (decode_error), so both the server and the browser
// can answer them without exceptions crossing a boundary.
#pragma once

#include "parley/protocol/messages.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace parley::proto {

/// Why a frame could not be decoded.
enum class decode_errc : std::uint32_t {
  empty = 1,          // zero bytes
  truncated,          // input ended inside a value
  malformed,          // not MessagePack, or a message is not `[uint type, map body]`
  too_large,          // frame over max_frame, batch over max_batch, or a field over its bound
  too_deep,           // nesting deeper than max_depth
  wrong_type,         // a known field has the wrong MessagePack type
  missing_field,      // a required field is absent
  invalid_utf8,       // a text field is not UTF-8
  out_of_range,       // a number does not fit its field
};

/// Bounds applied while decoding. Defaults match server_params' defaults.
struct decode_limits {
  std::size_t max_frame = 65536;  // bytes per frame
  std::size_t max_batch = 64;     // messages per frame
  std::size_t max_depth = 6;      // deepest message is joined.members[i] (depth 4)
  std::size_t max_string = 65536; // bytes per string field
  std::size_t max_array = 10000;  // elements per array field (members, events, rooms)
};

struct decode_error {
  decode_errc code = decode_errc::malformed;
  std::string detail;          // e.g. the field name; for logs and error.message
  std::size_t index = 0;       // which message of the batch failed (0-based)
  // When the failing message is a `send` whose own room and cid are valid, they are kept here
  // so the error can name the refused send (PROTOCOL.md §7.2); empty otherwise.
  std::string room, cid;
};

/// Either decoded messages or the first error. Messages before a failing one are dropped:
/// a frame is accepted or rejected whole.
struct decode_result {
  std::vector<message> messages;
  std::optional<decode_error> error;
  explicit operator bool() const { return !error.has_value(); }
};

/// Decode a whole frame (one or more concatenated messages).
decode_result decode_frame(std::string_view frame, const decode_limits& limits = {});

/// Append the encoding of `m` to `out`. Appending several messages to one string makes a batch.
void encode(const message& m, std::string& out);

/// Encoding of one message as its own frame.
std::string encode(const message& m);

/// Protocol name of a message type ("hello", "event", ...), or "unknown".
std::string_view type_name(std::uint32_t type);

/// The msg_type number of a message variant (unknown_message carries its own).
std::uint32_t type_of(const message& m);

/// Stable lowercase name of an error code ("rate_limited"), used in metrics and logs.
std::string_view error_name(error_code code);

/// Map a decode failure to the error a server answers with.
error_code error_for(decode_errc code);

/// True if `s` is valid UTF-8 (no overlongs, no surrogates, max U+10FFFF).
bool valid_utf8(std::string_view s);

}  // namespace parley::proto
