// The per-second spread parley-bench prints next to each run's mean (`1s med`, `1s min`).
#include "slices.hpp"

#include <gtest/gtest.h>

namespace parley::bench {
namespace {

TEST(Slices, CostIsCpuMicrosecondsPerOperation) {
  EXPECT_DOUBLE_EQ(slice_cost(6'400'000, 1000), 6.4);
  EXPECT_DOUBLE_EQ(slice_cost(0, 5), 0.0);
}

TEST(Slices, ASliceWithoutOperationsOrWithABrokenClockHasNoCost) {
  EXPECT_LT(slice_cost(1'000'000, 0), 0);
  EXPECT_LT(slice_cost(-1, 100), 0);
}

TEST(Slices, MedianOfAnOddCountIsTheMiddleAndMinimumTheCheapest) {
  const slice_spread s = spread_of({7.0, 5.0, 9.0, 6.0, 8.0});
  EXPECT_EQ(s.slices, 5u);
  EXPECT_DOUBLE_EQ(s.median_us, 7.0);
  EXPECT_DOUBLE_EQ(s.min_us, 5.0);
}

TEST(Slices, MedianOfAnEvenCountIsTheMeanOfTheTwoMiddles) {
  const slice_spread s = spread_of({6.0, 9.0, 5.0, 7.0});
  EXPECT_EQ(s.slices, 4u);
  EXPECT_DOUBLE_EQ(s.median_us, 6.5);
  EXPECT_DOUBLE_EQ(s.min_us, 5.0);
}

TEST(Slices, SlicesWithoutACostAreLeftOut) {
  // An idle second (no operations) must not pull the median or the minimum towards -1.
  const slice_spread s = spread_of({-1.0, 6.0, -1.0, 4.0, 5.0});
  EXPECT_EQ(s.slices, 3u);
  EXPECT_DOUBLE_EQ(s.median_us, 5.0);
  EXPECT_DOUBLE_EQ(s.min_us, 4.0);
}

TEST(Slices, NoSlicesMeansNoFigure) {
  for (const auto& costs : {std::vector<double>{}, std::vector<double>{-1.0, -1.0}}) {
    const slice_spread s = spread_of(costs);
    EXPECT_EQ(s.slices, 0u);
    EXPECT_LT(s.median_us, 0);
    EXPECT_LT(s.min_us, 0);
  }
}

}  // namespace
}  // namespace parley::bench
