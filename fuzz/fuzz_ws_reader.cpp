// fuzz_ws_reader: the server's WebSocket frame reader (frame_reader) on client bytes that TCP
// cut at arbitrary points.
//
// The script: a message limit from a small pool, the byte stream, then the sizes of the inputs
// it arrives in (the last input takes whatever is left once the sizes run out). Each input is
// its own heap buffer, freed once drained, so ASan sees a reader that keeps a view into an input
// it was done with.
//
// Invariants: a message is at most the limit, a ping/pong/close payload at most 125 bytes; a
// failure carries one of the reader's codes and a close a code a client may send (or 1005 with
// no reason); the reader is done() exactly once it returned a close or a failure, and returns
// nothing after it; between inputs it keeps at most an unfinished message and one incomplete
// frame (limit + 131 bytes), nothing once done; and the events do not depend on the cuts: the
// stream fed as one input gives the same sequence (kinds, codes, payload bytes).
#include "fuzz_input.hpp"

#include "frame_reader.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using parley::fuzz::expect;
using parley::fuzz::fuzz_input;
using parley::server::frame_event;
using parley::server::frame_reader;

// 16 reaches "too big" in a few bytes; 4096 lets 16-bit lengths and fragments through.
constexpr std::array<std::size_t, 3> limit_pool{16, 300, 4096};
/// Longest stream: room for a message at the largest limit, its header and a few frames more.
constexpr std::size_t max_stream = 3 * 4096;
/// Largest input size a script can ask for (sizes are read as numbers in [0, max_input]).
constexpr std::size_t max_input = 8191;
/// Most a reader may keep beyond an unfinished message: one incomplete frame, at worst a
/// control frame (2-byte header, mask, 125 bytes) that arrived between two fragments. An
/// incomplete data frame is less: its payload counts against the limit with the message's.
constexpr std::size_t max_kept_frame = 2 + 4 + 125;

/// An event copied out of the reader, whose payload is only valid until its next call.
struct seen {
  frame_event::kind type;
  std::string payload;
  std::uint16_t code;
  bool operator==(const seen&) const = default;
};

bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/// Drains the reader after an input, checking each event and the state it leaves.
void drain(frame_reader& reader, std::size_t limit, std::vector<seen>& events) {
  using kind = frame_event::kind;
  while (const auto event = reader.poll_event()) {
    const bool ended =
        !events.empty() && (events.back().type == kind::close || events.back().type == kind::fail);
    expect(!ended, "no event after a close or a failure");
    switch (event->type) {
      case kind::message:
        expect(event->payload.size() <= limit, "a message is at most max_message");
        break;
      case kind::ping:
      case kind::pong:
        expect(event->payload.size() <= 125, "a control payload is at most 125 bytes");
        break;
      case kind::close:
        expect(event->payload.size() <= 123, "a close reason is at most 123 bytes");
        expect(valid_close_code(event->code) ||
                   (event->code == parley::server::ws_close::no_status && event->payload.empty()),
               "a close reports a code a client may send, or 1005 without a reason");
        break;
      case kind::fail:
        expect(event->code == 1002 || event->code == 1003 || event->code == 1007 ||
                   event->code == 1009,
               "a failure carries 1002, 1003, 1007 or 1009");
        break;
    }
    const bool ends = event->type == kind::close || event->type == kind::fail;
    expect(reader.done() == ends, "done() exactly once a close or failure was returned");
    events.push_back({event->type, std::string(event->payload), event->code});
  }
  expect(reader.buffered() <= limit + max_kept_frame,
         "between inputs, only an unfinished message and one incomplete frame are kept");
  expect(!reader.done() || reader.buffered() == 0, "a done reader keeps nothing");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in(data, size);
  const std::size_t limit = in.pick(limit_pool);
  const std::string stream = in.bytes(max_stream);

  // The stream in inputs of the sizes the script chooses.
  frame_reader split(limit);
  std::vector<seen> split_events;
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t rest = stream.size() - at;
    const std::size_t length =
        in.done() ? rest : std::min(rest, in.number<std::size_t>(0, max_input));
    auto input = std::make_unique<char[]>(length);
    std::copy_n(stream.data() + at, length, input.get());
    split.handle_input({input.get(), length});
    drain(split, limit, split_events);
    at += length;
  }

  // The same stream as one input (a copy: the reader unmasks in place).
  frame_reader whole(limit);
  std::vector<seen> whole_events;
  std::string copy = stream;
  whole.handle_input(copy);
  drain(whole, limit, whole_events);
  expect(split_events == whole_events, "the events do not depend on where the input was cut");
  expect(split.buffered() == whole.buffered(), "the same tail is kept however it was cut");
  return 0;
}
