// A fixed-size log-linear histogram of nanosecond values (HdrHistogram's layout with 64
// sub-buckets per power of two: every value is kept within 1/64 ≈ 1.6 %). Recording never
// allocates, so receivers can record every delivery; histograms of several threads merge.
#pragma once

#include <array>
#include <bit>
#include <cstdint>

namespace parley::bench {

class latency_histogram {
 public:
  /// Records one value (negative values count as 0).
  void record(std::int64_t ns) {
    const auto v = static_cast<std::uint64_t>(ns < 0 ? 0 : ns);
    ++counts_[index_of(v)];
    ++total_;
    if (v > max_) max_ = v;
  }

  void merge(const latency_histogram& other) {
    for (std::size_t i = 0; i < buckets; ++i) counts_[i] += other.counts_[i];
    total_ += other.total_;
    if (other.max_ > max_) max_ = other.max_;
  }

  void clear() { *this = latency_histogram{}; }

  std::uint64_t count() const { return total_; }
  std::uint64_t max() const { return max_; }

  /// The value at quantile q (0..1): the upper edge of the bucket holding it, capped at max().
  std::uint64_t quantile(double q) const {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * static_cast<double>(total_));
    if (rank >= total_) rank = total_ - 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < buckets; ++i) {
      seen += counts_[i];
      if (seen > rank) {
        const std::uint64_t upper = upper_edge(i);
        return upper < max_ ? upper : max_;
      }
    }
    return max_;
  }

 private:
  static constexpr unsigned sub_bits = 6;  // 64 sub-buckets per octave
  static constexpr std::size_t buckets = (64 - sub_bits) * (1u << sub_bits) + (2u << sub_bits);

  /// Values below 128 map to themselves; above, an octave e keeps the top 7 bits of the value.
  static std::size_t index_of(std::uint64_t v) {
    const int msb = 63 - std::countl_zero(v | 1);
    const int shift = msb > static_cast<int>(sub_bits) ? msb - static_cast<int>(sub_bits) : 0;
    return (static_cast<std::size_t>(shift) << sub_bits) + (v >> shift);
  }

  static std::uint64_t upper_edge(std::size_t index) {
    if (index < (2u << sub_bits)) return index;
    const std::size_t shift = (index >> sub_bits) - 1;
    const std::uint64_t top = index - (shift << sub_bits);
    return ((top + 1) << shift) - 1;
  }

  std::array<std::uint64_t, buckets> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace parley::bench
