// What the CLI shows: client events turned into console lines, each room's recent history
// before its live messages, and the count of messages not yet acknowledged.
#pragma once

#include "terminal.hpp"

#include "parley/client/client.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace parley::cli {

/// Renders one user's chat. Event handlers run on the client's thread; the public methods are
/// for the input loop. The view never holds its lock while the input loop calls the client.
class chat_view {
 public:
  /// How many past messages a room shows when it is joined.
  static constexpr std::uint32_t history_lines = 20;

  explicit chat_view(console& out) : out_(out) {}
  /// Callbacks for the chat_client; they refer to this view, which must outlive the client.
  client::client_callbacks callbacks();
  /// The client the view asks for history; set before the client starts.
  void attach(client::chat_client& client) { client_ = &client; }

  /// The room typed lines go to.
  std::string room();
  /// Make `room` the one typed lines go to; call before joining it so its history is awaited.
  void enter_room(std::string room);
  /// A line is about to be sent: show it pending and count it until acked or refused.
  void sending(const std::string& text);
  /// Wait until entered rooms show their history and every counted send is acked or refused:
  /// true then; false at `deadline` or as soon as the server refuses the connection for good.
  /// Lets a script exit as soon as its work is done.
  bool wait_until_idle(std::chrono::steady_clock::time_point deadline);
  /// Print a line of the CLI's own (help, notices).
  void notice(std::string_view line) { out_.print(line); }

 private:
  // Live messages wait in `held` until the page of recent history is shown.
  struct room_log {
    bool history_shown = false;
    std::vector<proto::room_event> held;
  };

  void on_state(const client::connection_status& s);
  void on_room_joined(const client::room_joined& j);
  void on_room_reset(const client::room_reset& r);
  void on_history(const client::history_loaded& h);
  void on_message(const proto::room_event& e);
  void on_ack();
  void on_error(const client::client_error& e);
  void on_typing(const client::typing_changed& t);
  void on_presence(const proto::presence_entry& p);
  void on_rooms(const client::rooms_listed& r);

  void load_history(const std::string& room, std::uint64_t head);  // caller holds mutex_
  void show(const proto::room_event& e);                            // caller holds mutex_
  std::string where(const std::string& room) const;  // "" for the current room, else "#room "
  void settle_one_send();                            // caller holds mutex_
  void settle_room(const std::string& room);         // caller holds mutex_
  void update_prompt();                              // caller holds mutex_

  console& out_;
  client::chat_client* client_ = nullptr;
  std::mutex mutex_;
  std::condition_variable settled_;  // a send or a room's history settled
  std::string room_;
  std::string me_;  // user id from the welcome
  std::map<std::string, room_log, std::less<>> rooms_;
  // (room, user) shown as typing; a message from the user ends it without a "stopped" line.
  std::set<std::pair<std::string, std::string>> typing_;
  std::set<std::string, std::less<>> awaiting_history_;  // entered, history not shown yet
  int unsent_ = 0;
  bool refused_ = false;  // the server refused the connection; nothing will settle
};

}  // namespace parley::cli
