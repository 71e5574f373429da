// The server's room_index<Member> (server/src/room_index.hpp) on its own: the fan-out loop over
// a room's members, and the cost of a join (add) and a leave (remove) in rooms of 10, 1,000 and
// 10,000 members. Fan-out is reported per member (ns_per_member); add/remove per operation.
//
// The member type stands in for session_logic: what the server does per member (queue a shared
// buffer) is not measured here, only the index's own walk, as in shared_state::broadcast.
#include "room_index.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace {

using parley::server::room_index;
using parley::server::room_key;

struct member {
  std::uint64_t delivered = 0;
  char padding[120];  // members are separate heap objects of a realistic size
};

/// A room of `size` members in an index that also holds `other_rooms` rooms of 10 members of
/// the same tenant, so the room lookup walks a realistic map.
struct fixture {
  room_index<member> index;
  std::vector<std::unique_ptr<member>> members;
  room_key room{"acme", "general"};

  fixture(std::size_t size, std::size_t other_rooms = 100) {
    for (std::size_t i = 0; i < size; ++i) {
      members.push_back(std::make_unique<member>());
      index.add(room, members.back().get());
    }
    for (std::size_t r = 0; r < other_rooms; ++r) {
      const room_key other{"acme", "room-" + std::to_string(r)};
      for (int i = 0; i < 10; ++i) {
        members.push_back(std::make_unique<member>());
        index.add(other, members.back().get());
      }
    }
  }
};

void BM_fanout(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  fixture f(size);
  for (auto _ : state) {
    // shared_state::broadcast: look the room up, then touch every member once.
    for (member* m : f.index.members(f.room)) ++m->delivered;
    benchmark::ClobberMemory();
  }
  const auto n = static_cast<std::int64_t>(size) * state.iterations();
  state.SetItemsProcessed(n);
  state.counters["ns_per_member"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

/// A join: one more member in a room of N (add scans the room for a duplicate first). The
/// member leaves again outside the timed region so the room keeps its size.
void BM_add(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  fixture f(size);
  member newcomer;
  for (auto _ : state) {
    const bool added = f.index.add(f.room, &newcomer);
    benchmark::DoNotOptimize(added);
    state.PauseTiming();
    f.index.remove(f.room, &newcomer);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations());
}

/// A leave of a member at a random position (remove scans for it, then swaps with the last).
/// The member rejoins outside the timed region (at the end of the list, where swap-and-pop
/// moved it from), so successive iterations remove members at spread-out positions.
void BM_remove(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  fixture f(size);
  std::uint64_t rng = 0x9e3779b97f4a7c15;
  for (auto _ : state) {
    state.PauseTiming();
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;  // xorshift64
    member* leaving = f.members[rng % size].get();
    state.ResumeTiming();
    const bool removed = f.index.remove(f.room, leaving);
    benchmark::DoNotOptimize(removed);
    state.PauseTiming();
    f.index.add(f.room, leaving);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations());
}

/// add + remove of one member, both timed: no PauseTiming overhead (which is ~100s of ns and
/// dominates the small rooms above), so this is the figure to quote for small rooms.
void BM_add_remove_pair(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  fixture f(size);
  member newcomer;
  for (auto _ : state) {
    benchmark::DoNotOptimize(f.index.add(f.room, &newcomer));
    benchmark::DoNotOptimize(f.index.remove(f.room, &newcomer));
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_fanout)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_add)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_remove)->Arg(10)->Arg(1000)->Arg(10000);
BENCHMARK(BM_add_remove_pair)->Arg(10)->Arg(1000)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
