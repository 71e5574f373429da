// chat_client and the driver loop that feeds the engine from Asio (see engine.hpp's header
// comment for the loop this implements).
#include "parley/client/client.hpp"

#include "connector.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <map>
#include <random>
#include <thread>
#include <type_traits>

namespace parley::client {

namespace {

namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

// The engine's clock is steady_clock in whole milliseconds since its epoch, so engine times
// convert straight back into timer expiries and the status times apps see.
millis now() { return std::chrono::duration_cast<millis>(steady::now().time_since_epoch()); }

steady::time_point to_time_point(millis t) {
  return steady::time_point(std::chrono::duration_cast<steady::duration>(t));
}

std::uint64_t random_seed() {
  std::random_device device;
  return (static_cast<std::uint64_t>(device()) << 32) ^ device();
}

endpoint endpoint_of(const std::string& url) {
  auto where = parse_endpoint(url);
  if (!where) throw std::invalid_argument("not a ws:// or wss:// URL: " + url);
  return *where;
}

engine_config engine_config_of(client_options& options) {
  engine_config config;
  config.token = std::move(options.token);
  config.client_name = std::move(options.client_name);
  config.seed = random_seed();
  config.backoff = options.backoff;
  config.connect_timeout = options.connect_timeout;
  config.max_outbox = options.max_outbox;
  return config;
}

template <class Callback, class... Args>
void notify(const Callback& callback, const Args&... args) {
  if (callback) callback(args...);
}

}  // namespace

send_refused::send_refused(client_error e)
    : std::runtime_error("send refused: " + e.message), error_(std::move(e)) {}

// Owns the client's thread and everything that lives on it: the engine, the current link and
// the one timer. Only run() and the destructor are called from other threads.
class engine_driver {
 public:
  engine_driver(client_options options, client_callbacks callbacks)
      : callbacks_(std::move(callbacks)),
        work_(asio::make_work_guard(ioc_)),
        timer_(ioc_),
        connector_(ioc_, endpoint_of(options.url), options.tls),
        engine_(engine_config_of(options)),
        thread_([this] { ioc_.run(); }) {}

  ~engine_driver() {
    run([this](engine& e, millis t) {
      e.stop(t);
      stopping_ = true;
      timer_.cancel();
    });
    // Nothing re-arms the timer now and the link's close handshake is bounded, so run()
    // returns once the last operation has ended.
    work_.reset();
    thread_.join();
  }

  engine_driver(const engine_driver&) = delete;
  engine_driver& operator=(const engine_driver&) = delete;

  // Runs command(engine, now) on the client's thread through apply() and returns its result.
  // Called from a callback it runs inline: the pump already in progress drains the outputs.
  template <class Command>
  std::invoke_result_t<Command&, engine&, millis> run(Command command) {
    auto task = [this, &command] { return apply(std::move(command)); };
    if (ioc_.get_executor().running_in_this_thread()) return task();
    std::packaged_task<decltype(task())()> packaged(task);
    auto done = packaged.get_future();
    asio::post(ioc_, [&packaged] { packaged(); });
    return done.get();
  }

  pending_send send(std::string room, std::string text) {
    return run([&](engine& e, millis t) {
      std::promise<message_acked> acked;
      pending_send out{e.send_message(room, std::move(text), t), acked.get_future()};
      if (out.cid.empty()) {
        acked.set_exception(std::make_exception_ptr(send_refused(client_error{
            .room = room, .code = proto::error_code::limit_exceeded, .message = "outbox full"})));
      } else {
        ack_promises_.emplace(out.cid, std::move(acked));
      }
      return out;
    });
  }

 private:
  // Gives the engine one input or command at the current time (on the client's thread), then
  // lets the outputs flow; returns what the step returned.
  template <class Step>
  std::invoke_result_t<Step&, engine&, millis> apply(Step step) {
    if constexpr (std::is_void_v<std::invoke_result_t<Step&, engine&, millis>>) {
      step(engine_, now());
      pump();
    } else {
      auto result = step(engine_, now());
      pump();
      return result;
    }
  }

  // Drains the engine's outputs after an input or a command, then re-arms the timer.
  void pump() {
    if (pumping_) return;
    pumping_ = true;
    // Callbacks may issue commands, which queue more outputs: loop until both queues are dry.
    bool drained = false;
    while (!drained) {
      drained = true;
      while (auto op = engine_.poll_transport()) {
        perform(*op);
        drained = false;
      }
      while (auto ev = engine_.poll_event()) {
        std::visit([this](auto& e) { deliver(e); }, *ev);
        drained = false;
      }
    }
    pumping_ = false;
    rearm_timer();
  }

  void perform(transport_op& op) {
    if (auto* frame = std::get_if<send_frame>(&op)) {
      if (link_) link_->send(std::move(frame->bytes));
    } else if (auto* close = std::get_if<close_transport>(&op)) {
      if (link_) link_->close(close->code);
      link_.reset();
    } else {
      if (link_) link_->close(1000);
      link_ = connector_.connect(link_events{
          .opened = [this] { apply([](engine& e, millis t) { e.handle_open(t); }); },
          .received = [this](std::string_view frame) {
            apply([frame](engine& e, millis t) { e.handle_bytes(frame, t); });
          },
          .lost = [this](const std::string& why) {
            link_.reset();
            notify(callbacks_.on_transport_error, why);
            apply([](engine& e, millis t) { e.handle_close(t); });
          },
      });
    }
  }

  void rearm_timer() {
    const auto deadline = stopping_ ? std::nullopt : engine_.poll_timeout();
    if (deadline == armed_deadline_) return;
    armed_deadline_ = deadline;
    if (!deadline) {
      timer_.cancel();
      return;
    }
    timer_.expires_at(to_time_point(*deadline));
    timer_.async_wait([this](boost::system::error_code ec) {
      if (ec == asio::error::operation_aborted) return;
      // An early handle_timeout is harmless, so a stale wait that raced a re-arm does no harm.
      armed_deadline_.reset();
      apply([](engine& e, millis t) { e.handle_timeout(t); });
    });
  }

  // ---- engine events to app callbacks ----
  void deliver(const state_changed& e) {
    notify(callbacks_.on_state, connection_status{e.state, to_time_point(e.retry_at), e.reason});
  }
  void deliver(const room_joined& e) { notify(callbacks_.on_room_joined, e); }
  void deliver(const room_reset& e) { notify(callbacks_.on_room_reset, e); }
  void deliver(const message_received& e) { notify(callbacks_.on_message, e.event); }
  void deliver(const message_acked& e) {
    if (auto waiter = ack_promises_.extract(e.cid)) waiter.mapped().set_value(e);
    notify(callbacks_.on_ack, e);
  }
  void deliver(const message_failed& e) {
    const client_error error{.room = e.room, .cid = e.cid, .code = e.code, .message = e.message};
    if (auto waiter = ack_promises_.extract(e.cid)) {
      waiter.mapped().set_exception(std::make_exception_ptr(send_refused(error)));
    }
    notify(callbacks_.on_error, error);
  }
  void deliver(const history_loaded& e) { notify(callbacks_.on_history, e); }
  void deliver(const typing_changed& e) { notify(callbacks_.on_typing, e); }
  void deliver(const presence_changed& e) { notify(callbacks_.on_presence, e.entry); }
  void deliver(const request_failed& e) {
    notify(callbacks_.on_error, client_error{.request = e.request, .room = e.room,
                                             .code = e.code, .message = e.message});
  }
  void deliver(const request_done& e) { notify(callbacks_.on_done, e.request); }
  void deliver(const rooms_listed& e) { notify(callbacks_.on_rooms, e); }

  client_callbacks callbacks_;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::steady_timer timer_;
  std::optional<millis> armed_deadline_;
  connector connector_;
  engine engine_;
  std::shared_ptr<link> link_;  // the open or opening connection, if any
  std::map<std::string, std::promise<message_acked>, std::less<>> ack_promises_;  // by cid
  bool pumping_ = false;
  bool stopping_ = false;
  std::thread thread_;  // last: it starts running once everything above exists
};

chat_client::chat_client(client_options options, client_callbacks callbacks)
    : driver_(std::make_unique<engine_driver>(std::move(options), std::move(callbacks))) {}

chat_client::~chat_client() = default;

void chat_client::start() {
  driver_->run([](engine& e, millis t) { e.start(t); });
}

void chat_client::stop() {
  driver_->run([](engine& e, millis t) { e.stop(t); });
}

void chat_client::set_token(std::string token) {
  driver_->run([&](engine& e, millis t) { e.set_token(std::move(token), t); });
}

std::uint32_t chat_client::join(std::string room) {
  return driver_->run([&](engine& e, millis t) { return e.join(std::move(room), t); });
}

std::uint32_t chat_client::leave(std::string room) {
  return driver_->run([&](engine& e, millis t) { return e.leave(std::move(room), t); });
}

pending_send chat_client::send(std::string room, std::string text) {
  return driver_->send(std::move(room), std::move(text));
}

void chat_client::set_typing(std::string room, bool typing) {
  driver_->run([&](engine& e, millis t) { e.set_typing(std::move(room), typing, t); });
}

void chat_client::set_presence(proto::presence_status status) {
  driver_->run([&](engine& e, millis t) { e.set_presence(status, t); });
}

std::uint32_t chat_client::fetch_history(std::string room, std::uint64_t before,
                                         std::uint32_t limit) {
  return driver_->run(
      [&](engine& e, millis t) { return e.fetch_history(std::move(room), before, limit, t); });
}

std::uint32_t chat_client::list_rooms() {
  return driver_->run([](engine& e, millis t) { return e.list_rooms(t); });
}

std::uint32_t chat_client::create_room(std::string room, bool is_private) {
  return driver_->run(
      [&](engine& e, millis t) { return e.create_room(std::move(room), is_private, t); });
}

std::uint32_t chat_client::add_member(std::string room, std::string user) {
  return driver_->run(
      [&](engine& e, millis t) { return e.add_member(std::move(room), std::move(user), t); });
}

std::string chat_client::export_outbox() const {
  return driver_->run([](engine& e, millis) { return e.pending().export_bytes(); });
}

bool chat_client::import_outbox(std::string_view bytes) {
  return driver_->run([bytes](engine& e, millis t) { return e.import_outbox(bytes, t); });
}

connection_state chat_client::state() const {
  return driver_->run([](engine& e, millis) { return e.state(); });
}

std::string chat_client::user() const {
  return driver_->run([](engine& e, millis) { return e.user(); });
}

}  // namespace parley::client
