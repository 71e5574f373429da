// The one way every Parley fuzz target reads its input, and the inverse used to write seeds.
//
// A structured target reads the fuzz data as a script of choices: numbers (operation codes,
// indexes, delays) come from the back of the data and byte strings (frames, texts, tokens) from
// the front, as LLVM's FuzzedDataProvider does. Mutating one number then leaves the strings in
// place and the other way round, which keeps the fuzzer's mutations local. fuzz_script writes
// the same layout, so fuzz_seeds can hand-build inputs that read back as intended sessions.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace parley::fuzz {

/// Longest byte string one choice reads, so a single choice cannot swallow the whole input.
inline constexpr std::size_t max_choice_bytes = 4096;

/// Stops the run with a message: libFuzzer (and ASan) record the input as a crash.
[[noreturn]] inline void violated(const char* invariant) {
  std::fprintf(stderr, "fuzz invariant violated: %s\n", invariant);
  std::abort();
}

/// Checks an invariant; the text says what should have held.
inline void expect(bool holds, const char* invariant) {
  if (!holds) violated(invariant);
}

/// Reader of a fuzz input as a script of choices. Exhausted input reads as zeros and "".
class fuzz_input {
 public:
  fuzz_input(const std::uint8_t* data, std::size_t size) : provider_(data, size) {}

  /// True once every byte was read.
  bool done() { return provider_.remaining_bytes() == 0; }
  /// A number in [lo, hi].
  template <class T>
  T number(T lo, T hi) {
    return provider_.ConsumeIntegralInRange<T>(lo, hi);
  }
  /// A yes/no choice.
  bool flag() { return provider_.ConsumeBool(); }
  /// A byte string of any length up to `max` (see fuzz_script::bytes for the encoding).
  std::string bytes(std::size_t max = max_choice_bytes) {
    return provider_.ConsumeRandomLengthString(max);
  }
  /// One element of a fixed pool (so that names repeat and state builds up).
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& pool) {
    return pool[number<std::size_t>(0, N - 1)];
  }
  /// One element of a growing list, or `fallback` when the list is empty.
  template <class T>
  T pick_from(const std::vector<T>& list, T fallback) {
    if (list.empty()) return fallback;
    return list[number<std::size_t>(0, list.size() - 1)];
  }

 private:
  FuzzedDataProvider provider_;
};

/// Writer of inputs that fuzz_input reads back choice for choice (for seed corpora).
class fuzz_script {
 public:
  /// Records `value`, read back by number(lo, hi). `value` must lie in [lo, hi].
  fuzz_script& number(std::int64_t value, std::int64_t lo, std::int64_t hi) {
    // FuzzedDataProvider takes one byte per 8 bits of the range, most significant first, each
    // from the current end of the data; `value - lo` is below the range, so the modulo it
    // applies leaves it unchanged.
    const auto range = static_cast<std::uint64_t>(hi) - static_cast<std::uint64_t>(lo);
    const auto offset = static_cast<std::uint64_t>(value) - static_cast<std::uint64_t>(lo);
    int bytes = 0;
    while (bytes < 8 && (range >> (8 * bytes)) > 0) ++bytes;
    for (int i = bytes - 1; i >= 0; --i) back_.push_back(static_cast<char>(offset >> (8 * i)));
    return *this;
  }
  /// Records a flag, read back by flag().
  fuzz_script& flag(bool value) { return number(value ? 1 : 0, 0, 255); }
  /// Records a byte string, read back by bytes() if shorter than its `max`: a backslash is
  /// doubled and "\;" ends it.
  fuzz_script& bytes(std::string_view text) {
    for (char c : text) {
      front_ += c;
      if (c == '\\') front_ += '\\';
    }
    front_ += "\\;";
    return *this;
  }
  /// The input: strings in order at the front, numbers from the end backwards.
  std::string finish() const { return front_ + std::string(back_.rbegin(), back_.rend()); }

 private:
  std::string front_;
  std::string back_;  // numbers in reading order; reversed onto the end by finish()
};

}  // namespace parley::fuzz
