// Open TCP connections per remote address, capped at max_connections_per_ip so that one host
// cannot take all of the server's file descriptors. Sans-I/O (an address in, a slot or a refusal
// out) and single-threaded like the rest of the server, so no locks.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <cstdint>
#include <map>
#include <optional>

namespace parley::server {

class address_limits;

/// One open connection's place in its address's count, held from accept until the socket is
/// closed (the http_session, then the websocket_session, carries it); destroying it gives the
/// place back. Move-only.
class connection_slot {
 public:
  /// A slot that holds no place (nothing is counted when there is no limit).
  connection_slot() = default;
  connection_slot(connection_slot&& other) noexcept;
  connection_slot& operator=(connection_slot&& other) noexcept;
  connection_slot(const connection_slot&) = delete;
  connection_slot& operator=(const connection_slot&) = delete;
  ~connection_slot();

 private:
  friend class address_limits;
  connection_slot(address_limits& owner, const boost::asio::ip::address& address)
      : owner_(&owner), address_(address) {}
  void release();

  address_limits* owner_ = nullptr;
  boost::asio::ip::address address_;
};

/// The per-address connection counts and their cap. Must outlive every slot it hands out.
class address_limits {
 public:
  /// At most `limit` open connections per address; 0 = no limit (and nothing is counted).
  explicit address_limits(std::uint32_t limit) : limit_(limit) {}
  address_limits(const address_limits&) = delete;
  address_limits& operator=(const address_limits&) = delete;

  /// A slot for a new connection from `address`, or nullopt when that address already holds
  /// `limit` connections. An IPv4-mapped IPv6 address counts as its IPv4 address, so a
  /// dual-stack listener cannot be used to double a host's share; any other IPv6 address
  /// counts as its /64 network, which one host can hold whole.
  std::optional<connection_slot> open(const boost::asio::ip::address& address);
  /// Connections currently counted for `address` (always 0 without a limit).
  std::uint32_t open_from(const boost::asio::ip::address& address) const;
  /// Addresses with at least one counted connection (the map never keeps zero entries).
  std::size_t addresses() const { return open_.size(); }

 private:
  friend class connection_slot;
  void release(const boost::asio::ip::address& address);

  std::uint32_t limit_;
  std::map<boost::asio::ip::address, std::uint32_t> open_;
};

}  // namespace parley::server
