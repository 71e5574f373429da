// The outbox: sends not yet acknowledged, in the order the app made them.
//
// Entries keep their client id for life, so a retransmission after a reconnect (or after the
// host persisted and restored the outbox across a restart or a page reload) is recognised by
// the server's dedup record and takes effect exactly once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::client {

struct outbox_entry {
  std::string room;
  std::string cid;
  std::string text;
};

class outbox {
 public:
  explicit outbox(std::size_t capacity = 1000) : capacity_(capacity) {}

  /// Append; false if full.
  bool push(outbox_entry e);
  /// Remove the entry with this cid (acked or refused); returns it if it was there.
  std::optional<outbox_entry> remove(std::string_view cid);
  const std::vector<outbox_entry>& entries() const { return entries_; }
  bool empty() const { return entries_.empty(); }
  std::size_t size() const { return entries_.size(); }
  std::size_t capacity() const { return capacity_; }

  /// Serialise to bytes a host can store (MessagePack; format documented in PROTOCOL.md).
  std::string export_bytes() const;
  /// Merge entries from export_bytes() output, skipping cids already present.
  /// False (and nothing changed) if the bytes are not a valid export, or if the merged
  /// entries would not fit the capacity (dropping some would lose messages silently).
  bool import_bytes(std::string_view bytes);

 private:
  std::size_t capacity_;
  std::vector<outbox_entry> entries_;
};

}  // namespace parley::client
