#include "address_limits.hpp"

#include <utility>

namespace parley::server {
namespace {

namespace ip = boost::asio::ip;

ip::address canonical(const ip::address& address) {
  if (!address.is_v6()) return address;
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return ip::make_address_v4(ip::v4_mapped, v6);
  // One IPv6 host normally holds a whole /64 (SLAAC, privacy addresses) and can pick a fresh
  // address in it for every connection: the network, not the address, is what one host is.
  auto bytes = v6.to_bytes();
  for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
  return ip::address_v6(bytes);
}

}  // namespace

connection_slot::connection_slot(connection_slot&& other) noexcept
    : owner_(std::exchange(other.owner_, nullptr)), address_(other.address_) {}

connection_slot& connection_slot::operator=(connection_slot&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = std::exchange(other.owner_, nullptr);
    address_ = other.address_;
  }
  return *this;
}

connection_slot::~connection_slot() { release(); }

void connection_slot::release() {
  if (owner_ != nullptr) std::exchange(owner_, nullptr)->release(address_);
}

std::optional<connection_slot> address_limits::open(const ip::address& address) {
  if (limit_ == 0) return connection_slot{};
  const ip::address key = canonical(address);
  auto& count = open_[key];  // a fresh entry is 0, below any limit, so none is left at 0
  if (count >= limit_) return std::nullopt;
  ++count;
  return connection_slot(*this, key);
}

std::uint32_t address_limits::open_from(const ip::address& address) const {
  const auto it = open_.find(canonical(address));
  return it == open_.end() ? 0 : it->second;
}

void address_limits::release(const ip::address& address) {
  const auto it = open_.find(address);
  if (it == open_.end()) return;
  if (--it->second == 0) open_.erase(it);
}

}  // namespace parley::server
