#include "parley/client/outbox.hpp"

#include "parley/protocol/codec.hpp"
#include "parley/protocol/rules.hpp"

#include <msgpack.hpp>

#include <algorithm>
#include <set>
#include <utility>

namespace parley::client {
namespace {

// Export format (PROTOCOL.md, "Outbox export"): a MessagePack array of [room, cid, text].
constexpr std::uint32_t entry_fields = 3;

// Reads one [room, cid, text] triple; nullopt if its shape or content is not what export
// writes (a host may hand back bytes from a different build, or corrupted storage).
std::optional<outbox_entry> read_entry(const msgpack::object& o) {
  if (o.type != msgpack::type::ARRAY || o.via.array.size != entry_fields) return std::nullopt;
  const auto* f = o.via.array.ptr;
  for (std::uint32_t i = 0; i < entry_fields; ++i)
    if (f[i].type != msgpack::type::STR) return std::nullopt;
  outbox_entry e{std::string(f[0].via.str.ptr, f[0].via.str.size),
                 std::string(f[1].via.str.ptr, f[1].via.str.size),
                 std::string(f[2].via.str.ptr, f[2].via.str.size)};
  if (!proto::valid_room_id(e.room) || !proto::valid_client_id(e.cid) ||
      !proto::valid_utf8(e.text))
    return std::nullopt;
  return e;
}

// Decodes a whole export, or nullopt. The unpack limits follow the input size, so a few
// hostile bytes cannot make msgpack reserve a huge array (TOOLCHAIN.md, Fuzzing).
std::optional<std::vector<outbox_entry>> read_export(std::string_view bytes) {
  const std::size_t n = bytes.size();
  const msgpack::unpack_limit limits(n, n, n, n, n, 3);
  try {
    std::size_t offset = 0;
    const auto handle = msgpack::unpack(bytes.data(), n, offset, nullptr, nullptr, limits);
    if (offset != n) return std::nullopt;  // trailing bytes: not something export wrote
    const auto& root = handle.get();
    if (root.type != msgpack::type::ARRAY) return std::nullopt;
    std::vector<outbox_entry> out;
    out.reserve(root.via.array.size);
    for (std::uint32_t i = 0; i < root.via.array.size; ++i) {
      auto e = read_entry(root.via.array.ptr[i]);
      if (!e) return std::nullopt;
      out.push_back(std::move(*e));
    }
    return out;
  } catch (const std::exception&) {
    return std::nullopt;  // msgpack reports malformed input by throwing
  }
}

}  // namespace

bool outbox::push(outbox_entry e) {
  if (entries_.size() >= capacity_) return false;
  entries_.push_back(std::move(e));
  return true;
}

std::optional<outbox_entry> outbox::remove(std::string_view cid) {
  auto it = std::find_if(entries_.begin(), entries_.end(),
                         [&](const outbox_entry& e) { return e.cid == cid; });
  if (it == entries_.end()) return std::nullopt;
  outbox_entry e = std::move(*it);
  entries_.erase(it);
  return e;
}

std::string outbox::export_bytes() const {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_array(static_cast<std::uint32_t>(entries_.size()));
  for (const auto& e : entries_) {
    pk.pack_array(entry_fields);
    pk.pack(e.room);
    pk.pack(e.cid);
    pk.pack(e.text);
  }
  return std::string(buf.data(), buf.size());
}

bool outbox::import_bytes(std::string_view bytes) {
  auto imported = read_export(bytes);
  if (!imported) return false;
  std::set<std::string, std::less<>> known;
  for (const auto& e : entries_) known.insert(e.cid);
  std::vector<outbox_entry> fresh;
  for (auto& e : *imported)
    if (known.insert(e.cid).second) fresh.push_back(std::move(e));
  // All or nothing: dropping part of a restored outbox would lose messages without a trace.
  if (entries_.size() + fresh.size() > capacity_) return false;
  for (auto& e : fresh) entries_.push_back(std::move(e));
  return true;
}

}  // namespace parley::client
