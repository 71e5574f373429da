// A native client for tests: its callbacks record everything, and tests wait (always with a
// deadline) for what they expect to appear in that record.
#pragma once

#include "parley/client/client.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

/// Long enough for a loaded 2-core machine, short enough to fail a broken test quickly.
inline constexpr std::chrono::seconds default_wait{20};

/// Server arguments that let bursts of test messages through the per-connection rate limit.
inline const std::vector<std::string> generous_rate_limit = {"--rate-per-sec", "5000",
                                                             "--rate-burst", "5000"};

/// Everything a client's callbacks reported, in arrival order.
struct client_log {
  std::vector<proto::room_event> messages;
  std::vector<client::message_acked> acks;
  std::vector<client::typing_changed> typing;
  std::vector<proto::presence_entry> presence;
  std::vector<client::connection_status> states;
  std::vector<client::room_joined> joins;
  std::vector<client::room_reset> resets;
  std::vector<client::history_loaded> histories;
  std::vector<client::rooms_listed> room_lists;
  std::vector<std::uint32_t> done;  // requests that succeeded without a richer answer
  std::vector<client::client_error> errors;
  std::vector<std::string> transport_errors;

  /// The last reported state is ready.
  bool ready() const;
  /// Messages delivered for one room, in delivery order.
  std::vector<proto::room_event> in_room(std::string_view room) const;
  /// How many joins of `room` were answered (rejoins after reconnects count).
  std::size_t joins_of(std::string_view room) const;
  /// The request was answered: done, a page, a room list, or an error.
  bool answered(std::uint32_t request) const;
};

/// Options that keep tests quick: reconnect backoff in tens of milliseconds.
client::client_options fast_options(std::string url, std::string token);

/// A chat_client whose callbacks fill a client_log.
class recorded_client {
 public:
  explicit recorded_client(client::client_options options);
  /// Connects to `url` as `user` of the default tenant with a token from the test secret.
  recorded_client(std::string url, std::string user);

  /// The client itself, to issue commands.
  client::chat_client& chat() { return chat_; }
  /// Wait until `condition` holds for the log or `timeout` passes; true if it holds.
  bool wait_until(const std::function<bool(const client_log&)>& condition,
                  std::chrono::milliseconds timeout = default_wait);
  /// A copy of the log so far.
  client_log log() const;
  /// Join `room` and wait for the answer (the client must be started); true once joined.
  bool join(const std::string& room);
  /// start(), then join(room).
  bool start_in(const std::string& room);
  /// Every event stored in `room`, ascending, read with paged history requests.
  std::vector<proto::room_event> read_room(const std::string& room);

 private:
  template <class Event>
  std::function<void(const Event&)> append_to(std::vector<Event> client_log::*list);

  mutable std::mutex mutex_;
  std::condition_variable changed_;
  client_log log_;
  client::chat_client chat_;  // last: destroyed (and its thread joined) before the log
};

/// Condition: at least `n` acks arrived.
std::function<bool(const client_log&)> acked_at_least(std::size_t n);
/// Condition: at least `n` messages of `room` were delivered.
std::function<bool(const client_log&)> delivered_at_least(std::string room, std::size_t n);
/// Condition: `user` was reported typing (or stopping, with typing false) `times` times.
std::function<bool(const client_log&)> typing_seen(std::string user, bool typing,
                                                   std::size_t times = 1);

/// Texts "<prefix> 0" ... "<prefix> count-1": what a test sends, in order.
std::vector<std::string> numbered_texts(const std::string& prefix, int count);
/// The texts of events, in order.
std::vector<std::string> texts_of(const std::vector<proto::room_event>& events);
/// Seqs run first, first+1, ... with no gap or repeat: each event once, in log order.
testing::AssertionResult consecutive_from(std::uint64_t first,
                                          const std::vector<proto::room_event>& events);
/// No client id appears twice among the acks.
testing::AssertionResult distinct_cids(const std::vector<client::message_acked>& acks);

}  // namespace parley::test
