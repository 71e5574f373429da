// fuzz_frame: the codec on arbitrary bytes.
//
// Invariants: decode_frame never crashes or allocates out of proportion (ASan, -rss_limit_mb);
// whatever decodes re-encodes, message by message and as one batch, to bytes that decode to the
// same values (the encoder and decoder agree on every value the decoder accepts); and the
// re-encoding is canonical (encoding the decoded values again gives the same bytes).
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "parley/protocol/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace {

namespace proto = parley::proto;
using parley::fuzz::expect;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame(reinterpret_cast<const char*>(data), size);
  const auto limits = parley::fuzz::client_decode_limits();
  const auto decoded = proto::decode_frame(frame, limits);
  if (!decoded) {
    expect(decoded.messages.empty(), "a rejected frame yields no messages");
    return 0;
  }
  expect(!decoded.messages.empty(), "an accepted frame holds at least one message");

  std::string batch;
  for (const auto& m : decoded.messages) {
    const std::string alone = proto::encode(m);
    const auto again = proto::decode_frame(alone, limits);
    expect(again && again.messages.size() == 1, "an encoded message decodes");
    expect(again.messages.front() == m, "decode(encode(m)) == m");
    expect(proto::encode(again.messages.front()) == alone, "encoding is canonical");
    expect(proto::type_of(m) != 0, "every message has a positive type");
    proto::encode(m, batch);
  }
  const auto rebatched = proto::decode_frame(batch, limits);
  expect(rebatched && rebatched.messages == decoded.messages, "a re-encoded batch round-trips");
  return 0;
}
