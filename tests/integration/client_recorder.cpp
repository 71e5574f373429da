#include "client_recorder.hpp"

#include "server_process.hpp"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace parley::test {

bool client_log::ready() const {
  return !states.empty() && states.back().state == client::connection_state::ready;
}

std::vector<proto::room_event> client_log::in_room(std::string_view room) const {
  std::vector<proto::room_event> out;
  std::copy_if(messages.begin(), messages.end(), std::back_inserter(out),
               [room](const proto::room_event& e) { return e.room == room; });
  return out;
}

std::size_t client_log::joins_of(std::string_view room) const {
  return static_cast<std::size_t>(
      std::count_if(joins.begin(), joins.end(), [room](const auto& j) { return j.room == room; }));
}

bool client_log::answered(std::uint32_t request) const {
  const auto is = [request](const auto& answer) { return answer.request == request; };
  return std::find(done.begin(), done.end(), request) != done.end() ||
         std::any_of(histories.begin(), histories.end(), is) ||
         std::any_of(room_lists.begin(), room_lists.end(), is) ||
         std::any_of(errors.begin(), errors.end(), is);
}

client::client_options fast_options(std::string url, std::string token) {
  client::client_options options{.url = std::move(url), .token = std::move(token)};
  options.backoff = {.base = std::chrono::milliseconds(20), .cap = std::chrono::milliseconds(200)};
  options.connect_timeout = std::chrono::seconds(5);
  return options;
}

template <class Event>
std::function<void(const Event&)> recorded_client::append_to(std::vector<Event> client_log::*list) {
  return [this, list](const Event& e) {
    std::lock_guard lock(mutex_);
    (log_.*list).push_back(e);
    changed_.notify_all();
  };
}

recorded_client::recorded_client(client::client_options options)
    : chat_(std::move(options), client::client_callbacks{
                                    .on_message = append_to(&client_log::messages),
                                    .on_ack = append_to(&client_log::acks),
                                    .on_typing = append_to(&client_log::typing),
                                    .on_presence = append_to(&client_log::presence),
                                    .on_state = append_to(&client_log::states),
                                    .on_room_joined = append_to(&client_log::joins),
                                    .on_room_reset = append_to(&client_log::resets),
                                    .on_history = append_to(&client_log::histories),
                                    .on_rooms = append_to(&client_log::room_lists),
                                    .on_done = append_to(&client_log::done),
                                    .on_error = append_to(&client_log::errors),
                                    .on_transport_error =
                                        append_to(&client_log::transport_errors),
                                }) {}

recorded_client::recorded_client(std::string url, std::string user)
    : recorded_client(fast_options(std::move(url), token_for(std::move(user)))) {}

bool recorded_client::wait_until(const std::function<bool(const client_log&)>& condition,
                                 std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return condition(log_); });
}

client_log recorded_client::log() const {
  std::lock_guard lock(mutex_);
  return log_;
}

bool recorded_client::join(const std::string& room) {
  const auto before = log().joins_of(room);
  chat_.join(room);
  return wait_until([&](const client_log& l) { return l.joins_of(room) > before; });
}

bool recorded_client::start_in(const std::string& room) {
  chat_.start();
  return join(room);
}

std::vector<proto::room_event> recorded_client::read_room(const std::string& room) {
  // Pages go backwards from the newest; a room of a test has far fewer than 100 pages.
  constexpr int max_pages = 100;
  constexpr std::uint32_t page_size = 200;
  std::vector<proto::room_event> events;
  std::uint64_t before = 0;
  for (int page = 0; page < max_pages; ++page) {
    const auto id = chat_.fetch_history(room, before, page_size);
    if (!wait_until([id](const client_log& l) { return l.answered(id); })) {
      throw std::runtime_error("history request not answered");
    }
    const auto histories = log().histories;
    const auto answer_it = std::find_if(histories.begin(), histories.end(),
                                        [id](const auto& h) { return h.request == id; });
    if (answer_it == histories.end()) throw std::runtime_error("history request refused");
    const auto& answer = *answer_it;
    events.insert(events.begin(), answer.events.begin(), answer.events.end());
    if (!answer.more || answer.events.empty()) return events;
    before = answer.events.front().seq;
  }
  throw std::runtime_error("room " + room + " has more history than a test expects");
}

std::function<bool(const client_log&)> acked_at_least(std::size_t n) {
  return [n](const client_log& l) { return l.acks.size() >= n; };
}

std::function<bool(const client_log&)> delivered_at_least(std::string room, std::size_t n) {
  return [room = std::move(room), n](const client_log& l) { return l.in_room(room).size() >= n; };
}

std::function<bool(const client_log&)> typing_seen(std::string user, bool typing,
                                                   std::size_t times) {
  return [user = std::move(user), typing, times](const client_log& l) {
    return static_cast<std::size_t>(std::count_if(
               l.typing.begin(), l.typing.end(),
               [&](const auto& t) { return t.user == user && t.typing == typing; })) >= times;
  };
}

std::vector<std::string> numbered_texts(const std::string& prefix, int count) {
  std::vector<std::string> texts;
  for (int i = 0; i < count; ++i) texts.push_back(prefix + " " + std::to_string(i));
  return texts;
}

std::vector<std::string> texts_of(const std::vector<proto::room_event>& events) {
  std::vector<std::string> texts;
  for (const auto& e : events) texts.push_back(e.text);
  return texts;
}

testing::AssertionResult consecutive_from(std::uint64_t first,
                                          const std::vector<proto::room_event>& events) {
  for (std::size_t i = 0; i < events.size(); ++i) {
    if (events[i].seq != first + i) {
      return testing::AssertionFailure() << "event " << i << " has seq " << events[i].seq
                                         << ", expected " << first + i;
    }
  }
  return testing::AssertionSuccess();
}

testing::AssertionResult distinct_cids(const std::vector<client::message_acked>& acks) {
  std::set<std::string> seen;
  for (const auto& a : acks) {
    if (!seen.insert(a.cid).second) {
      return testing::AssertionFailure() << "cid " << a.cid << " acked twice";
    }
  }
  return testing::AssertionSuccess();
}

}  // namespace parley::test
