// Output of parley-bench: one JSON object per scenario on its own line (for scripts and CI
// logs) and an aligned text table (for people).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace parley::bench {

/// A flat JSON object built key by key, in insertion order.
class json_line {
 public:
  json_line& add(std::string_view key, std::string_view value);
  json_line& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  json_line& add(std::string_view key, double value, int decimals);
  json_line& add(std::string_view key, std::int64_t value);
  json_line& add(std::string_view key, std::uint64_t value);
  json_line& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  json_line& add(std::string_view key, bool value);
  /// `json` is inserted as is (an array or object built elsewhere).
  json_line& raw(std::string_view key, std::string_view json);
  std::string str() const { return "{" + body_ + "}"; }

 private:
  void key(std::string_view k);
  std::string body_;
};

/// Columns of text, right-aligned, printed with a title.
class text_table {
 public:
  explicit text_table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  void print(std::FILE* out, std::string_view title) const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

/// `value` with `decimals` digits after the point; "-" for a negative value (unknown).
std::string fixed(double value, int decimals);

}  // namespace parley::bench
