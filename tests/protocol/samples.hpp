// The documented example of every message and the shared test vectors built from them.
//
// docs/PROTOCOL.md shows these values and the bytes our encoder makes of them; tests/vectors/
// holds the same bytes as hex files. protocol_vectors regenerates the files from this list and
// protocol_test fails if the files or the page drift from it.
#pragma once

#include "parley/protocol/codec.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

/// One test vector: a file name (without .hex), its bytes, and what decoding them gives.
struct test_vector {
  std::string name;
  std::string bytes;
  std::vector<proto::message> values;         // decoded messages when the vector is valid
  std::optional<proto::decode_errc> failure;  // the error when it is not
};

/// The documented example value of every message type, in msg_type order.
std::vector<proto::message> documented_messages();

/// Every vector in tests/vectors: one per message type, a batch, an unknown type, bad inputs.
std::vector<test_vector> all_vectors();

/// Stable name of a decode error, as written in tests/vectors/manifest.txt ("truncated").
std::string_view errc_name(proto::decode_errc code);

/// Bytes as lowercase hex pairs separated by spaces, 16 per line, each line ending in '\n'.
std::string to_hex(std::string_view bytes);

/// Inverse of to_hex; ignores whitespace. Returns nullopt on a non-hex character or odd count.
std::optional<std::string> from_hex(std::string_view hex);

/// The MessagePack values in `bytes`, one per line, in msgpack-c's JSON-like notation (as
/// docs/PROTOCOL.md shows them above each vector).
std::string notation(std::string_view bytes);

/// The manifest.txt text: one `name expectation` line per vector (`ok` or an errc_name).
std::string manifest(const std::vector<test_vector>& vectors);

}  // namespace parley::test
