#include "frame_reader.hpp"

#include <parley/protocol/codec.hpp>

#include <cstring>

namespace parley::server {
namespace {

enum opcode : unsigned {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

/// Largest payload of a control frame (RFC 6455 §5.5).
constexpr std::size_t max_control = 125;

/// Codes a peer may send in a close frame (RFC 6455 §7.4; 1012-1014 registered since).
bool valid_close_code(std::uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

/// XORs `size` bytes with the 4-byte client mask, eight at a time where it can.
void unmask(char* bytes, std::size_t size, const unsigned char* key) {
  unsigned char key8[8];
  for (int i = 0; i < 8; ++i) key8[i] = key[i % 4];
  std::uint64_t wide;
  std::memcpy(&wide, key8, 8);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t word;
    std::memcpy(&word, bytes + i, 8);
    word ^= wide;
    std::memcpy(bytes + i, &word, 8);
  }
  for (; i < size; ++i) bytes[i] = static_cast<char>(bytes[i] ^ key[i % 4]);
}

}  // namespace

void frame_reader::handle_input(std::span<char> bytes) {
  if (done_) return;
  cursor_ = 0;
  if (partial_.empty()) {
    // The common case: parse (and unmask) right where the driver read the bytes.
    data_ = bytes.data();
    size_ = bytes.size();
    in_partial_ = false;
  } else {
    partial_.append(bytes.data(), bytes.size());
    data_ = partial_.data();
    size_ = partial_.size();
    in_partial_ = true;
  }
}

std::optional<frame_event> frame_reader::poll_event() {
  if (message_out_) {
    message_out_ = false;
    std::string().swap(message_);  // given back: a long message is rare
  }
  if (data_ == nullptr) return std::nullopt;
  while (!done_) {
    const std::size_t available = size_ - cursor_;
    if (available < 2) break;
    const auto* head = reinterpret_cast<const unsigned char*>(data_ + cursor_);
    const bool fin = (head[0] & 0x80) != 0;
    const unsigned op = head[0] & 0x0F;
    const unsigned length7 = head[1] & 0x7F;
    // Everything the first two bytes can tell is checked before waiting for more.
    if ((head[0] & 0x70) != 0) return fail(ws_close::protocol_error, "reserved bits set");
    if (op >= 0x8) {
      if (op != close && op != ping && op != pong) {
        return fail(ws_close::protocol_error, "unknown control opcode");
      }
      if (!fin) return fail(ws_close::protocol_error, "fragmented control frame");
      if (length7 > max_control) return fail(ws_close::protocol_error, "control frame over 125 bytes");
    } else if (op == text) {
      return fail(ws_close::unsupported_data, "text message (Parley frames are binary)");
    } else if (op == binary) {
      if (fragmented_) return fail(ws_close::protocol_error, "new message inside a fragmented one");
    } else if (op == continuation) {
      if (!fragmented_) return fail(ws_close::protocol_error, "continuation without a message");
    } else {
      return fail(ws_close::protocol_error, "unknown data opcode");
    }
    if ((head[1] & 0x80) == 0) return fail(ws_close::protocol_error, "client frame not masked");

    const std::size_t extended = length7 == 126 ? 2 : length7 == 127 ? 8 : 0;
    const std::size_t header_size = 2 + extended + 4;
    if (available < header_size) break;
    std::uint64_t length = length7;
    if (extended != 0) {
      length = 0;
      for (std::size_t i = 0; i < extended; ++i) length = (length << 8) | head[2 + i];
      if (length7 == 127 && (length >> 63) != 0) {
        return fail(ws_close::protocol_error, "64-bit length with its top bit set");
      }
      if (length < 126 || (length7 == 127 && length <= 0xFFFF)) {
        return fail(ws_close::protocol_error, "length not minimally encoded");
      }
    }
    // Refused from the header alone: a client cannot make the server hold a frame it will not
    // accept. message_ never exceeds max_message_, so the subtraction cannot wrap.
    if (op < 0x8 && length > max_message_ - message_.size()) {
      return fail(ws_close::too_big, "message over max_frame");
    }
    if (available - header_size < length) break;
    const auto size = static_cast<std::size_t>(length);
    auto event = take_frame(header_size, size, head + header_size - 4, fin, op);
    cursor_ += header_size + size;
    if (event) return event;
  }
  keep_rest();
  return std::nullopt;
}

std::optional<frame_event> frame_reader::take_frame(std::size_t header_size, std::size_t length,
                                                     const unsigned char* mask, bool fin,
                                                     int op) {
  char* payload = data_ + cursor_ + header_size;
  unmask(payload, length, mask);
  const std::string_view bytes(payload, length);
  switch (op) {
    case ping:
      return frame_event{frame_event::kind::ping, bytes};
    case pong:
      return frame_event{frame_event::kind::pong, bytes};
    case close: {
      if (length == 0) {
        done_ = true;
        return frame_event{frame_event::kind::close, {}, ws_close::no_status};
      }
      if (length == 1) return fail(ws_close::protocol_error, "close frame of one byte");
      const auto code = static_cast<std::uint16_t>(
          (static_cast<unsigned char>(payload[0]) << 8) | static_cast<unsigned char>(payload[1]));
      if (!valid_close_code(code)) return fail(ws_close::protocol_error, "invalid close code");
      const auto reason = bytes.substr(2);
      if (!proto::valid_utf8(reason)) {
        return fail(ws_close::invalid_payload, "close reason not UTF-8");
      }
      done_ = true;
      return frame_event{frame_event::kind::close, reason, code};
    }
    default:
      break;
  }
  if (fin && !fragmented_) return frame_event{frame_event::kind::message, bytes};
  message_.append(bytes);
  fragmented_ = !fin;
  if (!fin) return std::nullopt;
  message_out_ = true;
  return frame_event{frame_event::kind::message, message_};
}

frame_event frame_reader::fail(std::uint16_t code, std::string_view why) {
  done_ = true;
  return frame_event{frame_event::kind::fail, why, code};
}

void frame_reader::keep_rest() {
  if (done_) {
    std::string().swap(partial_);
    std::string().swap(message_);
  } else if (in_partial_) {
    partial_.erase(0, cursor_);
  } else {
    partial_.assign(data_ + cursor_, size_ - cursor_);
  }
  // A quiet connection keeps no buffer: most inputs end on a frame boundary.
  if (partial_.empty()) std::string().swap(partial_);
  data_ = nullptr;
  size_ = cursor_ = 0;
  in_partial_ = false;
}

}  // namespace parley::server
