// The header of a server frame (RFC 6455 §5.2): final, unmasked (a server never masks), so a
// broadcast's header is the same for every recipient of that size. Used by the plain-TCP wire
// and by the TLS path of websocket_session.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace parley::server {

/// Server frame opcodes (RFC 6455 §5.2).
namespace ws_opcode {
inline constexpr unsigned binary = 0x2;
inline constexpr unsigned close = 0x8;
inline constexpr unsigned pong = 0xA;
}  // namespace ws_opcode

/// Writes the header of a final frame of `opcode` with `size` payload bytes; returns its size
/// (2, 4 or 10 bytes).
inline std::size_t frame_header(unsigned opcode, std::size_t size,
                                std::array<unsigned char, 10>& header) {
  header[0] = static_cast<unsigned char>(0x80 | opcode);  // FIN
  if (size < 126) {
    header[1] = static_cast<unsigned char>(size);
    return 2;
  }
  if (size <= 0xFFFF) {
    header[1] = 126;
    header[2] = static_cast<unsigned char>(size >> 8);
    header[3] = static_cast<unsigned char>(size);
    return 4;
  }
  header[1] = 127;
  for (int i = 0; i < 8; ++i) {
    header[2 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(size) >> (56 - 8 * i));
  }
  return 10;
}

}  // namespace parley::server
