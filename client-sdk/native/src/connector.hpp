// WebSocket connections (ws:// and wss://) for the driver, behind an interface free of Beast
// types: only connector.cpp pays Beast's and OpenSSL's compile cost.
#pragma once

#include "parley/client/client.hpp"
#include "parley/client/endpoint.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace boost::asio::ssl {
class context;
}

namespace parley::client {

/// What a link reports, always on the io_context's thread.
struct link_events {
  std::function<void()> opened;                         // the WebSocket handshake completed
  std::function<void(std::string_view frame)> received;  // one whole binary or text message
  std::function<void(const std::string& why)> lost;     // attempt failed or connection dropped
};

/// One connection attempt and, once open, the connection. After close() it reports nothing,
/// because whoever closed it already knows.
class link {
 public:
  virtual ~link() = default;
  /// Queue one binary frame; frames leave in order with one write in flight.
  virtual void send(std::string frame) = 0;
  /// Send a close frame with `code` when open, else abandon the attempt.
  virtual void close(std::uint16_t code) = 0;
};

/// Opens links to one endpoint; keeps the TLS context every wss:// attempt shares.
class connector {
 public:
  /// Throws std::system_error if the TLS settings cannot be applied (unreadable CA file).
  connector(boost::asio::io_context& ioc, endpoint where, const tls_options& tls);
  ~connector();
  connector(const connector&) = delete;
  connector& operator=(const connector&) = delete;

  /// Start resolving, connecting and handshaking; `events` fire as that progresses.
  std::shared_ptr<link> connect(link_events events);

 private:
  boost::asio::io_context& ioc_;
  endpoint where_;
  bool verify_peer_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // only for wss://
};

}  // namespace parley::client
