// Encode and decode cost of the messages on the hot path: a client's `send`, the server's
// `ack` and `event`, and a coalesced frame of 10 events (what a session writes when events
// queue up behind a write in flight). Figures are per message (items_per_second, ns_per_msg);
// bytes_per_second is wire bytes.
#include "parley/protocol/codec.hpp"
#include "parley/protocol/messages.hpp"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace parley::proto;

/// A 100-byte text, the size parley-bench publishes.
const std::string text_100(100, 'x');
const std::string cid_32 = "0123456789abcdef0123456789abcdef";

message sample_send() { return send{"general", cid_32, text_100}; }

message sample_ack() { return ack{"general", cid_32, 4096, 44, 1700000000044, false}; }

message sample_event(std::uint64_t seq = 44) {
  room_event ev;
  ev.room = "general";
  ev.epoch = 4503599627370495;  // a typical random epoch: near 2^52, 8 bytes on the wire
  ev.seq = seq;
  ev.from = "user-000123";
  ev.cid = cid_32;
  ev.ts = 1700000000044;
  ev.text = text_100;
  return event{std::move(ev)};
}

/// Reports per-message rates: `messages` messages were handled in each iteration.
void per_message(benchmark::State& state, std::size_t messages, std::size_t bytes) {
  const auto n = static_cast<std::int64_t>(messages) * state.iterations();
  state.SetItemsProcessed(n);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes) * state.iterations());
  state.counters["ns_per_msg"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
  state.counters["wire_bytes"] = static_cast<double>(bytes / messages);
}

/// Encoding into a reused buffer (a client's write path: no allocation once warm).
void encode_reused(benchmark::State& state, const message& m) {
  std::string out;
  for (auto _ : state) {
    out.clear();
    encode(m, out);
    benchmark::DoNotOptimize(out.data());
  }
  per_message(state, 1, out.size());
}

/// Encoding into a fresh string (the server's broadcast path: proto::encode(message)).
void encode_fresh(benchmark::State& state, const message& m) {
  std::size_t size = 0;
  for (auto _ : state) {
    std::string out = encode(m);
    size = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  per_message(state, 1, size);
}

void decode(benchmark::State& state, const std::string& frame, std::size_t messages) {
  for (auto _ : state) {
    auto result = decode_frame(frame);
    if (!result || result.messages.size() != messages) {
      state.SkipWithError("decode failed");
      break;
    }
    benchmark::DoNotOptimize(result.messages.data());
  }
  per_message(state, messages, frame.size());
}

std::string batch_of_events(std::size_t count) {
  std::string frame;
  for (std::size_t i = 0; i < count; ++i) encode(sample_event(44 + i), frame);
  return frame;
}

void BM_encode_send(benchmark::State& s) { encode_reused(s, sample_send()); }
void BM_encode_ack(benchmark::State& s) { encode_reused(s, sample_ack()); }
void BM_encode_event(benchmark::State& s) { encode_reused(s, sample_event()); }
void BM_encode_event_fresh_string(benchmark::State& s) { encode_fresh(s, sample_event()); }

void BM_encode_batch10_events(benchmark::State& state) {
  std::vector<message> events;
  for (std::uint64_t i = 0; i < 10; ++i) events.push_back(sample_event(44 + i));
  std::string out;
  for (auto _ : state) {
    out.clear();
    for (const auto& m : events) encode(m, out);
    benchmark::DoNotOptimize(out.data());
  }
  per_message(state, events.size(), out.size());
}

void BM_decode_send(benchmark::State& s) { decode(s, encode(sample_send()), 1); }
void BM_decode_ack(benchmark::State& s) { decode(s, encode(sample_ack()), 1); }
void BM_decode_event(benchmark::State& s) { decode(s, encode(sample_event()), 1); }
void BM_decode_batch10_events(benchmark::State& s) { decode(s, batch_of_events(10), 10); }

BENCHMARK(BM_encode_send);
BENCHMARK(BM_encode_ack);
BENCHMARK(BM_encode_event);
BENCHMARK(BM_encode_event_fresh_string);
BENCHMARK(BM_encode_batch10_events);
BENCHMARK(BM_decode_send);
BENCHMARK(BM_decode_ack);
BENCHMARK(BM_decode_event);
BENCHMARK(BM_decode_batch10_events);

}  // namespace

BENCHMARK_MAIN();
