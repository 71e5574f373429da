#include "report.hpp"

#include <algorithm>
#include <cmath>

namespace parley::bench {

namespace {

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

}  // namespace

void json_line::key(std::string_view k) {
  if (!body_.empty()) body_ += ',';
  body_ += quoted(k);
  body_ += ':';
}

json_line& json_line::add(std::string_view k, std::string_view value) {
  key(k);
  body_ += quoted(value);
  return *this;
}

json_line& json_line::add(std::string_view k, double value, int decimals) {
  key(k);
  body_ += std::isfinite(value) ? fixed(value, decimals) : "null";
  return *this;
}

json_line& json_line::add(std::string_view k, std::int64_t value) {
  key(k);
  body_ += std::to_string(value);
  return *this;
}

json_line& json_line::add(std::string_view k, std::uint64_t value) {
  key(k);
  body_ += std::to_string(value);
  return *this;
}

json_line& json_line::add(std::string_view k, bool value) {
  key(k);
  body_ += value ? "true" : "false";
  return *this;
}

json_line& json_line::raw(std::string_view k, std::string_view json) {
  key(k);
  body_ += json;
  return *this;
}

std::string fixed(double value, int decimals) {
  if (!std::isfinite(value)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  return buf;
}

void text_table::print(std::FILE* out, std::string_view title) const {
  std::vector<std::size_t> width;
  for (const auto& r : rows_) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  std::fprintf(out, "%.*s\n", static_cast<int>(title.size()), title.data());
  for (const auto& r : rows_) {
    std::string line;
    for (std::size_t i = 0; i < r.size(); ++i) {
      line += std::string(width[i] - r[i].size() + (i == 0 ? 0 : 2), ' ');
      line += r[i];
    }
    std::fprintf(out, "%s\n", line.c_str());
  }
  std::fflush(out);
}

}  // namespace parley::bench
