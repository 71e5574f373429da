#include "metrics.hpp"

#include <cstdio>

namespace parley::server {
namespace {

void family(std::string& out, const char* name, const char* type, const char* help) {
  out += "# HELP ";
  out += name;
  out += ' ';
  out += help;
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type;
  out += '\n';
}

void sample(std::string& out, const char* name, std::string_view labels, double value) {
  char number[64];
  std::snprintf(number, sizeof number, "%.17g", value);
  out += name;
  out += labels;
  out += ' ';
  out += number;
  out += '\n';
}

void counter(std::string& out, const char* name, const char* help, double value) {
  family(out, name, "counter", help);
  sample(out, name, "", value);
}

}  // namespace

void metrics::frame_in(std::size_t bytes, std::size_t messages) {
  bytes_in_ += bytes;
  messages_in_ += messages;
}

void metrics::frame_out(std::size_t bytes, std::size_t messages) {
  bytes_out_ += bytes;
  messages_out_ += messages;
}

void metrics::error(std::string_view code) {
  auto it = errors_.find(code);
  if (it == errors_.end()) it = errors_.emplace(std::string(code), 0).first;
  ++it->second;
}

void metrics::store_write(double seconds) {
  for (std::size_t i = 0; i < write_buckets.size(); ++i) {
    if (seconds <= write_buckets[i]) ++write_counts_[i];
  }
  ++write_total_;
  write_sum_ += seconds;
}

std::string metrics::render(std::size_t rooms) const {
  std::string out;
  family(out, "parley_connections", "gauge", "Open WebSocket sessions.");
  sample(out, "parley_connections", "", static_cast<double>(connections_));
  family(out, "parley_rooms", "gauge", "Rooms with at least one joined session.");
  sample(out, "parley_rooms", "", static_cast<double>(rooms));
  counter(out, "parley_messages_in_total", "Messages received from clients.",
          static_cast<double>(messages_in_));
  counter(out, "parley_messages_out_total", "Messages written to clients.",
          static_cast<double>(messages_out_));
  counter(out, "parley_bytes_in_total", "WebSocket payload bytes received.",
          static_cast<double>(bytes_in_));
  counter(out, "parley_bytes_out_total", "WebSocket payload bytes written.",
          static_cast<double>(bytes_out_));
  family(out, "parley_errors_total", "counter", "Errors answered and sessions closed, by code.");
  for (const auto& [code, count] : errors_) {
    sample(out, "parley_errors_total", "{code=\"" + code + "\"}", static_cast<double>(count));
  }
  family(out, "parley_store_write_seconds", "histogram", "Duration of store write transactions.");
  for (std::size_t i = 0; i < write_buckets.size(); ++i) {
    char label[48];
    std::snprintf(label, sizeof label, "{le=\"%g\"}", write_buckets[i]);
    sample(out, "parley_store_write_seconds_bucket", label, static_cast<double>(write_counts_[i]));
  }
  sample(out, "parley_store_write_seconds_bucket", "{le=\"+Inf\"}",
         static_cast<double>(write_total_));
  sample(out, "parley_store_write_seconds_sum", "", write_sum_);
  sample(out, "parley_store_write_seconds_count", "", static_cast<double>(write_total_));
  return out;
}

}  // namespace parley::server
