// CPU per operation read over one-second slices of a measured window, as well as over the whole.
//
// On a shared machine, other work makes some seconds of a run dearer (caches and memory shared
// with a neighbour, interrupts, steal), and almost never cheaper. Over a whole window the mean
// of runs made minutes apart moves by 20 % and more here, so two programs cannot be compared
// to 10 % that way. The median of a run's seconds resists such spells, and its cheapest second
// is the nearest reading of the cost itself: fanout and floor both report the two, measured on
// the same clock (the scheduler's runtime, exact to the ns).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace parley::bench {

/// Length of one slice.
inline constexpr std::int64_t slice_ns = 1'000'000'000;
/// Slices shorter than this (the window's tail) are not counted: too few operations.
inline constexpr std::int64_t min_slice_ns = slice_ns / 2;

/// Median and minimum of per-slice costs (µs per operation); -1 when there were none.
struct slice_spread {
  double median_us = -1;
  double min_us = -1;
  std::size_t slices = 0;
};

/// One slice's cost: CPU ns over operations, in µs per operation; -1 if nothing happened.
inline double slice_cost(std::int64_t cpu_ns, std::uint64_t ops) {
  return ops == 0 || cpu_ns < 0 ? -1 : static_cast<double>(cpu_ns) / 1e3 / static_cast<double>(ops);
}

/// The spread of `costs` (per-slice µs per operation; negative entries are skipped).
inline slice_spread spread_of(std::vector<double> costs) {
  std::erase_if(costs, [](double c) { return c < 0; });
  slice_spread s;
  s.slices = costs.size();
  if (costs.empty()) return s;
  std::sort(costs.begin(), costs.end());
  const std::size_t n = costs.size();
  s.median_us = n % 2 == 1 ? costs[n / 2] : (costs[n / 2 - 1] + costs[n / 2]) / 2;
  s.min_us = costs.front();
  return s;
}

}  // namespace parley::bench
