// The server side of the WebSocket opening handshake (RFC 6455 §4.2), sans-I/O: whether an
// upgrade request may become a WebSocket, and the Sec-WebSocket-Accept value of the answer.
// http_session writes the 101 itself and hands the bare stream to websocket_session, so no
// Beast websocket::stream (and none of its per-connection state) is ever made.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace parley::server {

/// The parts of an upgrade request the handshake looks at (RFC 6455 §4.2.1); the caller has
/// already checked GET, HTTP/1.1, `Connection: upgrade` and `Upgrade: websocket`.
struct upgrade_request {
  std::string_view key;      // Sec-WebSocket-Key
  std::string_view version;  // Sec-WebSocket-Version
};

/// How an upgrade request is answered.
struct upgrade_answer {
  enum class kind {
    accept,            // 101 with Sec-WebSocket-Accept: `accept_key`
    bad_version,       // 426 with Sec-WebSocket-Version: 13
    bad_key,           // 400: the key is not the base64 of 16 bytes
  };
  kind result;
  std::string accept_key;
};

upgrade_answer answer_upgrade(const upgrade_request& request);

/// base64(SHA-1(key + the RFC's GUID)): the proof, in the 101, that the server read the key.
std::string websocket_accept_key(std::string_view key);

}  // namespace parley::server
