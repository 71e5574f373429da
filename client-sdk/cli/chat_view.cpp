#include "chat_view.hpp"

#include "parley/protocol/codec.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace parley::cli {

namespace {

using client::connection_state;

// Server times are ms since the Unix epoch; shown in local time, "12:03:04" or "12:03".
std::string clock_time(std::uint64_t unix_ms, bool seconds) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm local{};
  ::localtime_r(&t, &local);
  char text[16];
  std::strftime(text, sizeof text, seconds ? "%H:%M:%S" : "%H:%M", &local);
  return text;
}

std::string seconds_until(std::chrono::steady_clock::time_point when) {
  const auto left = std::chrono::duration<double>(when - std::chrono::steady_clock::now());
  char text[32];
  std::snprintf(text, sizeof text, "%.1f s", std::max(0.0, left.count()));
  return text;
}

std::string presence_line(const proto::presence_entry& p) {
  switch (p.status) {
    case proto::presence_status::online: return p.user + " is online";
    case proto::presence_status::away: return p.user + " is away";
    case proto::presence_status::offline: break;
  }
  return p.user + " is offline" +
         (p.last_seen != 0 ? " (last seen " + clock_time(p.last_seen, false) + ")" : "");
}

}  // namespace

client::client_callbacks chat_view::callbacks() {
  client::client_callbacks cb;
  cb.on_state = [this](const client::connection_status& s) { on_state(s); };
  cb.on_room_joined = [this](const client::room_joined& j) { on_room_joined(j); };
  cb.on_room_reset = [this](const client::room_reset& r) { on_room_reset(r); };
  cb.on_history = [this](const client::history_loaded& h) { on_history(h); };
  cb.on_message = [this](const proto::room_event& e) { on_message(e); };
  cb.on_ack = [this](const client::message_acked&) { on_ack(); };
  cb.on_error = [this](const client::client_error& e) { on_error(e); };
  cb.on_typing = [this](const client::typing_changed& t) { on_typing(t); };
  cb.on_presence = [this](const proto::presence_entry& p) { on_presence(p); };
  cb.on_rooms = [this](const client::rooms_listed& r) { on_rooms(r); };
  cb.on_transport_error = [this](const std::string& why) { out_.print("  (" + why + ")"); };
  return cb;
}

std::string chat_view::room() {
  std::lock_guard lock(mutex_);
  return room_;
}

void chat_view::enter_room(std::string room) {
  std::lock_guard lock(mutex_);
  if (!rooms_.contains(room)) awaiting_history_.insert(room);
  room_ = std::move(room);
  update_prompt();
}

void chat_view::sending(const std::string& text) {
  std::lock_guard lock(mutex_);
  ++unsent_;
  out_.print("  (sending…) " + text);
  update_prompt();
}

bool chat_view::wait_until_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  const auto done = [this] { return unsent_ == 0 && awaiting_history_.empty(); };
  settled_.wait_until(lock, deadline, [&] { return refused_ || done(); });
  return done();
}

void chat_view::on_state(const client::connection_status& s) {
  std::lock_guard lock(mutex_);
  switch (s.state) {
    case connection_state::connecting:
      out_.print("connecting…");
      break;
    case connection_state::ready:
      me_ = client_->user();
      out_.print("connected as " + me_);
      break;
    case connection_state::backing_off:
      out_.print("disconnected; reconnecting in " + seconds_until(s.retry_at));
      break;
    case connection_state::failed:
      out_.print("the server refused the connection: " +
                 std::string(proto::error_name(s.reason)) + " (restart with a valid --token)");
      refused_ = true;
      settled_.notify_all();
      break;
    case connection_state::idle:
    case connection_state::handshaking:
      break;
  }
}

void chat_view::on_room_joined(const client::room_joined& j) {
  std::lock_guard lock(mutex_);
  // Rejoins after a reconnect resume the log; only the first join shows history.
  if (rooms_.contains(j.room)) return;
  std::string online;
  for (const auto& m : j.members) {
    if (m.status == proto::presence_status::offline) continue;
    online += (online.empty() ? "" : ", ") + m.user;
  }
  out_.print("joined #" + j.room + (online.empty() ? "" : " · online: " + online));
  load_history(j.room, j.head);
}

void chat_view::on_room_reset(const client::room_reset& r) {
  std::lock_guard lock(mutex_);
  out_.print("#" + r.room + " could not be resumed; reloading its history");
  load_history(r.room, r.head);
}

void chat_view::load_history(const std::string& room, std::uint64_t head) {
  rooms_[room] = room_log{};
  // Everything up to head; live messages (after head) are held until this page is shown.
  client_->fetch_history(room, head + 1, history_lines);
}

void chat_view::on_history(const client::history_loaded& h) {
  std::lock_guard lock(mutex_);
  auto log = rooms_.find(h.room);
  if (log == rooms_.end() || log->second.history_shown) return;
  if (h.events.empty()) out_.print("(no messages yet in #" + h.room + ")");
  for (const auto& e : h.events) show(e);
  log->second.history_shown = true;
  for (const auto& e : log->second.held) show(e);
  log->second.held.clear();
  settle_room(h.room);
}

void chat_view::on_message(const proto::room_event& e) {
  std::lock_guard lock(mutex_);
  typing_.erase({e.room, e.from});
  auto log = rooms_.find(e.room);
  if (log != rooms_.end() && !log->second.history_shown) {
    log->second.held.push_back(e);
  } else {
    show(e);
  }
}

void chat_view::show(const proto::room_event& e) {
  out_.print("[" + clock_time(e.ts, true) + "] " + where(e.room) + e.from + ": " + e.text);
}

void chat_view::on_ack() {
  std::lock_guard lock(mutex_);
  settle_one_send();
}

void chat_view::on_error(const client::client_error& e) {
  std::lock_guard lock(mutex_);
  const std::string why = std::string(proto::error_name(e.code)) +
                          (e.message.empty() ? "" : ": " + e.message);
  if (e.cid.empty()) {
    out_.print("! " + where(e.room) + why);
    settle_room(e.room);  // e.g. a refused join: its history will never come
  } else {
    out_.print("! message not sent: " + why);
    settle_one_send();
  }
}

void chat_view::on_typing(const client::typing_changed& t) {
  std::lock_guard lock(mutex_);
  if (t.typing) {
    if (typing_.insert({t.room, t.user}).second) {
      out_.print("  " + where(t.room) + t.user + " is typing…");
    }
  } else if (typing_.erase({t.room, t.user}) != 0) {
    out_.print("  " + where(t.room) + t.user + " stopped typing");
  }
}

void chat_view::on_presence(const proto::presence_entry& p) {
  std::lock_guard lock(mutex_);
  if (p.user != me_) out_.print(presence_line(p));
}

void chat_view::on_rooms(const client::rooms_listed& r) {
  std::lock_guard lock(mutex_);
  if (r.rooms.empty()) out_.print("no rooms yet");
  for (const auto& info : r.rooms) {
    out_.print("  #" + info.room + (info.is_private ? " (private)" : "") + " · " +
               std::to_string(info.head) + " messages" + (info.joined ? " · joined" : ""));
  }
}

std::string chat_view::where(const std::string& room) const {
  return room == room_ ? "" : "#" + room + " ";
}

void chat_view::settle_one_send() {
  if (unsent_ > 0) --unsent_;
  settled_.notify_all();
  update_prompt();
}

void chat_view::settle_room(const std::string& room) {
  if (awaiting_history_.erase(room) != 0) settled_.notify_all();
}

void chat_view::update_prompt() {
  out_.set_prompt("#" + room_ + (unsent_ > 0 ? " (" + std::to_string(unsent_) + " unsent)" : "") +
                  "> ");
}

}  // namespace parley::cli
