#include "load_client.hpp"

#include "clock.hpp"
#include "payload.hpp"

#include "parley/protocol/codec.hpp"
#include "parley/protocol/messages.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <bit>
#include <deque>
#include <future>
#include <random>
#include <thread>
#include <utility>

namespace parley::bench {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using boost::system::error_code;
// The io_context's own executor rather than the type-erased any_io_executor: every handler of
// a generator runs on its one io_context, and the erasure costs on every operation.
using tcp_stream = beast::basic_stream<tcp, net::io_context::executor_type>;

namespace {

/// How long a connect plus WebSocket upgrade may take before the client counts as failed.
constexpr std::chrono::seconds connect_timeout{30};
/// The protocol's batch bound: messages per client frame.
constexpr std::size_t max_batch = 64;

std::string hex16(std::uint64_t v) {
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[static_cast<std::size_t>(i)] = "0123456789abcdef"[v & 15];
  return s;
}

net::steady_timer::time_point at_ns(std::int64_t ns) {
  return net::steady_timer::time_point(std::chrono::nanoseconds(ns));
}

}  // namespace

bool delivery_tally::add(std::uint64_t n) {
  const std::size_t word = static_cast<std::size_t>(n / 64);
  if (word >= seen.size()) seen.resize(std::max(word + 1, seen.size() * 2 + 16), 0);
  const std::uint64_t bit = std::uint64_t{1} << (n % 64);
  if ((seen[word] & bit) != 0) {
    ++duplicates;
    return false;
  }
  seen[word] |= bit;
  ++unique;
  if (n + 1 < next) {
    ++reordered;
  } else {
    next = n + 1;
  }
  return true;
}

std::uint64_t delivery_tally::count_range(std::uint64_t from, std::uint64_t to) const {
  std::uint64_t n = 0;
  for (std::uint64_t i = from; i < to;) {
    const std::size_t word = static_cast<std::size_t>(i / 64);
    if (word >= seen.size()) break;
    const std::uint64_t lo = i % 64;
    const std::uint64_t hi = std::min<std::uint64_t>(64, lo + (to - i));
    std::uint64_t mask = hi == 64 ? ~std::uint64_t{0} : ((std::uint64_t{1} << hi) - 1);
    mask &= ~((std::uint64_t{1} << lo) - 1);
    n += static_cast<std::uint64_t>(std::popcount(seen[word] & mask));
    i += hi - lo;
  }
  return n;
}

const char* phase_name(phase p) {
  switch (p) {
    case phase::idle: return "idle";
    case phase::connecting: return "connecting";
    case phase::hello_sent: return "hello_sent";
    case phase::join_sent: return "join_sent";
    case phase::joined: return "joined";
    case phase::dropped: return "dropped";
    case phase::closed: return "closed";
    case phase::failed: return "failed";
  }
  return "?";
}

class connection;

struct load_generator::impl {
  impl(std::string n, target s, run_marks& m) : name(std::move(n)), server(std::move(s)), marks(m) {
    endpoint = tcp::endpoint(net::ip::make_address(server.host), server.port);
    host_header = server.host + ":" + std::to_string(server.port);
    // Server frames coalesce up to the send queue bound (1 MiB) plus one message; the
    // reference client's bounds (PROTOCOL.md §2), doubled for slack.
    limits.max_frame = 8u << 20;
    limits.max_batch = 65536;
  }

  /// Starts queued opens while fewer than max_in_flight are under way.
  void pump_open();
  /// One opening attempt ended (joined, failed or closed).
  void opening_done() {
    if (in_flight > 0) --in_flight;
    pump_open();
  }

  std::string name;
  target server;
  run_marks& marks;
  tcp::endpoint endpoint;
  std::string host_header;
  proto::decode_limits limits;
  net::io_context ioc{1};
  net::executor_work_guard<net::io_context::executor_type> work{ioc.get_executor()};
  generator_counters counters;
  latency_histogram latency;
  std::vector<std::unique_ptr<connection>> clients;
  std::deque<connection*> to_open;
  std::size_t in_flight = 0;
  std::size_t max_in_flight = 1;
  bool pumping = false;
  std::thread thread;
};

/// One client: a WebSocket link (replaced on reconnect) plus its status and publisher state.
class connection {
 public:
  connection(load_generator::impl& g, client_spec spec)
      : g_(g), spec_(std::move(spec)), timer_(g.ioc) {
    if (spec_.publisher) {
      // A per-run random prefix keeps cids unique per user even against a long-lived server.
      std::random_device rd;
      const std::uint64_t nonce = (std::uint64_t{rd()} << 32) ^ rd();
      proto::send s;
      s.room = spec_.room;
      s.cid = hex16(nonce) + hex16(0);
      init_payload(s.text);
      send_ = std::move(s);
    }
  }

  client_status status;

  bool is_publisher() const { return spec_.publisher; }

  void open() {
    const bool resume = status.state == phase::dropped && status.epoch != 0;
    auto l = std::make_shared<link>(g_.ioc);
    link_ = l;
    resume_ = resume;
    opening_ = true;
    status.state = phase::connecting;
    status.opened_ns = now_ns();
    auto& socket = l->ws.next_layer().socket();
    error_code ec;
    socket.open(tcp::v4(), ec);
    if (!ec && !spec_.source.empty()) {
      // Let connect() pick the port, so each source address has the whole ephemeral range
      // per destination instead of sharing one pool of bound ports.
      const int one = 1;
      ::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      socket.bind(tcp::endpoint(net::ip::make_address(spec_.source, ec), 0), ec);
    }
    if (ec) {
      fail("socket: " + ec.message());
      return;
    }
    l->ws.next_layer().expires_after(connect_timeout);
    l->ws.next_layer().async_connect(g_.endpoint, [this, l](error_code e) { on_connect(l, e); });
  }

  /// A network drop: the socket closes at once, no close handshake.
  void drop() {
    if (!link_) return;
    auto l = std::move(link_);
    l->ws.next_layer().close();
    if (status.state == phase::joined) --g_.counters.joined;
    if (opening_) {
      opening_ = false;
      g_.opening_done();
    }
    catching_up_ = false;
    status.state = phase::dropped;
  }

  void publish(const pacing& p) {
    pacing_ = p;
    call_sent_ = 0;
    measuring_ = false;
    g_.counters.publishing = true;
    timer_.expires_at(at_ns(p.start_ns));
    timer_.async_wait([this](error_code ec) { tick(ec); });
  }

 private:
  struct link {
    explicit link(net::io_context& ioc) : ws(ioc.get_executor()) {}
    websocket::stream<tcp_stream> ws;
    beast::flat_buffer buffer;
    std::string pending;  // encoded messages waiting for the write in flight
    std::string writing;  // the frame in flight (kept alive until its write completes)
    std::size_t pending_messages = 0;
    bool write_in_flight = false;
  };
  using link_ptr = std::shared_ptr<link>;

  void on_connect(const link_ptr& l, error_code ec) {
    if (l != link_) return;
    if (ec) {
      lost(l, ec, "connect");
      return;
    }
    l->ws.next_layer().socket().set_option(tcp::no_delay(true), ec);
    l->ws.read_message_max(g_.limits.max_frame);
    l->ws.auto_fragment(false);
    l->ws.binary(true);
    l->ws.async_handshake(g_.host_header, "/ws", [this, l](error_code e) { on_handshake(l, e); });
  }

  void on_handshake(const link_ptr& l, error_code ec) {
    if (l != link_) return;
    if (ec) {
      lost(l, ec, "websocket upgrade");
      return;
    }
    l->ws.next_layer().expires_never();
    proto::hello h;
    h.token = spec_.token;
    h.client = "parley-bench/0.1";
    queue(l, h);
    status.state = phase::hello_sent;
    flush(l);
    do_read(l);
  }

  void do_read(const link_ptr& l) {
    l->ws.async_read(l->buffer, [this, l](error_code ec, std::size_t) { on_read(l, ec); });
  }

  void on_read(const link_ptr& l, error_code ec) {
    if (l != link_) return;
    if (ec) {
      lost(l, ec, "read");
      return;
    }
    const std::int64_t now = now_ns();
    const auto data = l->buffer.cdata();
    auto result = proto::decode_frame(
        std::string_view(static_cast<const char*>(data.data()), data.size()), g_.limits);
    l->buffer.consume(l->buffer.size());
    if (!result) {
      fail("undecodable server frame: " + result.error->detail);
      return;
    }
    std::uint64_t fresh = 0;
    for (const auto& m : result.messages) {
      handle(l, m, now, fresh);
      if (l != link_) return;
    }
    if (fresh != 0 && !spec_.publisher) g_.counters.deliveries.fetch_add(fresh, std::memory_order_relaxed);
    flush(l);
    do_read(l);
  }

  void handle(const link_ptr& l, const proto::message& m, std::int64_t now, std::uint64_t& fresh) {
    if (const auto* e = std::get_if<proto::event>(&m)) {
      on_event(e->ev, now, fresh);
    } else if (const auto* p = std::get_if<proto::ping>(&m)) {
      queue(l, proto::pong{p->nonce});
    } else if (std::holds_alternative<proto::ack>(m)) {
      ++status.acked;
      g_.counters.acked.fetch_add(1, std::memory_order_relaxed);
    } else if (std::holds_alternative<proto::welcome>(m)) {
      if (status.state != phase::hello_sent) return fail("unexpected welcome");
      proto::join j;
      j.id = 1;
      j.room = spec_.room;
      if (resume_) j.resume = proto::resume_point{status.epoch, status.last_seq};
      queue(l, j);
      status.state = phase::join_sent;
    } else if (const auto* j = std::get_if<proto::joined>(&m)) {
      on_joined(*j, now);
    } else if (const auto* err = std::get_if<proto::error>(&m)) {
      ++status.errors;
      if (err->code == proto::error_code::rate_limited) ++status.rate_limited;
      if (status.failure.empty()) {
        status.failure = "error " + std::string(proto::error_name(err->code)) + ": " + err->message;
      }
      if (status.state == phase::hello_sent || status.state == phase::join_sent) {
        fail(status.failure);
      }
    }
    // presence, typing_update, ok, ...: not part of what the bench measures.
  }

  void on_joined(const proto::joined& j, std::int64_t now) {
    if (status.state != phase::join_sent || j.room != spec_.room) return fail("unexpected joined");
    if (resume_ && (!j.resumed || j.epoch != status.epoch)) {
      return fail("join with resume{epoch " + std::to_string(status.epoch) + ", seq " +
                  std::to_string(status.last_seq) + "} was not resumed");
    }
    status.joined_ns = now;
    status.epoch = j.epoch;
    status.head = j.head;
    status.resumed = j.resumed;
    status.replayed = 0;
    if (!j.resumed) status.last_seq = j.head;  // live from head on
    status.state = phase::joined;
    ++g_.counters.joined;
    if (status.last_seq >= j.head) {
      caught_up(now);
    } else {
      catching_up_ = true;
    }
    opening_ = false;
    g_.opening_done();
  }

  void on_event(const proto::room_event& ev, std::int64_t now, std::uint64_t& fresh) {
    if (ev.room != spec_.room || status.state != phase::joined) return;
    if (ev.seq == status.last_seq + 1) {
      status.last_seq = ev.seq;
    } else if (ev.seq <= status.last_seq) {
      ++status.seq_repeats;
    } else {
      ++status.seq_gaps;
      status.last_seq = ev.seq;
    }
    if (catching_up_) {
      ++status.replayed;
      if (status.last_seq >= status.head) caught_up(now);
    }
    std::uint64_t counter = 0;
    std::int64_t sent_ns = 0;
    if (!read_payload(ev.text, counter, sent_ns)) return;
    if (!status.tally.add(counter)) return;
    ++fresh;
    if (counter >= g_.marks.measure_from.load(std::memory_order_relaxed) &&
        counter < g_.marks.measure_to.load(std::memory_order_relaxed)) {
      g_.latency.record(now - sent_ns);
    }
  }

  void caught_up(std::int64_t now) {
    catching_up_ = false;
    status.caught_up_ns = now;
    ++g_.counters.caught_up;
  }

  void tick(error_code ec) {
    if (ec) return;
    const auto l = link_;
    if (!l || status.state != phase::joined) return end_publish();
    const std::int64_t now = now_ns();
    const double ns_per_msg = 1e9 / pacing_.rate;
    auto due_at = [&](std::uint64_t i) {
      return pacing_.start_ns + static_cast<std::int64_t>(static_cast<double>(i) * ns_per_msg);
    };
    while (call_sent_ < pacing_.limit && l->pending_messages < max_batch) {
      const std::int64_t due = due_at(call_sent_);
      if (due > now || due >= pacing_.end_ns) break;
      status.max_lag_ns = std::max(status.max_lag_ns, now - due);
      if (!measuring_ && due >= pacing_.measure_ns) {
        g_.marks.measure_from = status.sent;
        measuring_ = true;
      }
      auto& s = std::get<proto::send>(send_);
      write_payload(s.text, status.sent, now_ns());
      payload_detail::put_hex(s.cid, 16, status.sent);
      proto::encode(send_, l->pending);
      ++l->pending_messages;
      ++status.sent;
      ++call_sent_;
    }
    flush(l);
    const std::int64_t next = due_at(call_sent_);
    if (call_sent_ >= pacing_.limit || next >= pacing_.end_ns) return end_publish();
    // A full batch waits for the write in flight: look again shortly.
    timer_.expires_at(at_ns(l->pending_messages >= max_batch ? now + 100'000 : next));
    timer_.async_wait([this](error_code e) { tick(e); });
  }

  void end_publish() {
    g_.marks.measure_to = measuring_ ? status.sent : run_marks::none;
    g_.counters.publishing = false;
  }

  void queue(const link_ptr& l, const proto::message& m) {
    proto::encode(m, l->pending);
    ++l->pending_messages;
  }

  void flush(const link_ptr& l) {
    if (l->write_in_flight || l->pending.empty()) return;
    std::swap(l->pending, l->writing);
    l->pending.clear();
    l->pending_messages = 0;
    l->write_in_flight = true;
    l->ws.async_write(net::buffer(l->writing), [this, l](error_code ec, std::size_t) {
      l->write_in_flight = false;
      if (l != link_) return;
      if (ec) return lost(l, ec, "write");
      flush(l);
    });
  }

  /// The connection ended without drop(): the server closed it or the network failed.
  void lost(const link_ptr& l, error_code ec, const std::string& what) {
    const int code = l->ws.reason().code;
    status.close_code = code;
    std::string text = what + ": " + ec.message();
    if (code != 0) text += " (close code " + std::to_string(code) + ")";
    if (opening_) return fail(text);
    link_.reset();
    l->ws.next_layer().close();
    if (status.state == phase::joined) --g_.counters.joined;
    if (status.failure.empty()) status.failure = text;
    status.state = phase::closed;
    ++g_.counters.closed;
  }

  void fail(const std::string& text) {
    if (link_) {
      link_->ws.next_layer().close();
      link_.reset();
    }
    if (status.state == phase::joined) --g_.counters.joined;
    if (status.failure.empty() || status.state != phase::joined) status.failure = text;
    status.state = phase::failed;
    ++g_.counters.failed;
    catching_up_ = false;
    if (opening_) {
      opening_ = false;
      g_.opening_done();
    }
  }

  load_generator::impl& g_;
  client_spec spec_;
  link_ptr link_;
  bool opening_ = false;      // between open() and joined/failure: holds an in-flight slot
  bool resume_ = false;       // this attempt joins with a resume point
  bool catching_up_ = false;  // joined, replay not yet complete
  // Publisher.
  net::steady_timer timer_;
  proto::message send_;  // reused: only the cid and text digits change per message
  pacing pacing_;
  std::uint64_t call_sent_ = 0;
  bool measuring_ = false;
};

void load_generator::impl::pump_open() {
  // open() can fail at once and call back into here: the outer loop carries on instead of
  // recursing once per failing client.
  if (pumping) return;
  pumping = true;
  while (in_flight < max_in_flight && !to_open.empty()) {
    connection* c = to_open.front();
    to_open.pop_front();
    ++in_flight;
    c->open();
  }
  pumping = false;
}

load_generator::load_generator(std::string name, target server, run_marks& marks)
    : impl_(std::make_unique<impl>(std::move(name), std::move(server), marks)) {
  impl_->thread = std::thread([g = impl_.get()] { g->ioc.run(); });
}

load_generator::~load_generator() {
  impl_->work.reset();
  impl_->ioc.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  impl_->clients.clear();
}

void load_generator::add(std::vector<client_spec> specs) {
  net::post(impl_->ioc, [g = impl_.get(), specs = std::move(specs)]() mutable {
    for (auto& s : specs) g->clients.push_back(std::make_unique<connection>(*g, std::move(s)));
  });
}

void load_generator::open(std::size_t in_flight) {
  net::post(impl_->ioc, [g = impl_.get(), in_flight] {
    g->counters.caught_up = 0;
    g->max_in_flight = std::max<std::size_t>(1, in_flight);
    for (auto& c : g->clients) {
      if (c->status.state == phase::idle || c->status.state == phase::dropped) {
        g->to_open.push_back(c.get());
      }
    }
    g->pump_open();
  });
}

void load_generator::drop() {
  net::post(impl_->ioc, [g = impl_.get()] {
    g->to_open.clear();
    for (auto& c : g->clients) c->drop();
    g->counters.caught_up = 0;
  });
}

void load_generator::publish(const pacing& p) {
  impl_->counters.publishing = true;  // visible at once, before the post runs
  net::post(impl_->ioc, [g = impl_.get(), p] {
    for (auto& c : g->clients) {
      if (c->is_publisher() && c->status.state == phase::joined) {
        c->publish(p);
        return;
      }
    }
    g->counters.publishing = false;
  });
}

void load_generator::clear_latency() {
  net::post(impl_->ioc, [g = impl_.get()] { g->latency.clear(); });
}

const generator_counters& load_generator::counters() const { return impl_->counters; }

const std::string& load_generator::name() const { return impl_->name; }

bool load_generator::inspect(const inspector& fn, std::chrono::milliseconds timeout) {
  auto done = std::make_shared<std::promise<void>>();
  auto ready = done->get_future();
  net::post(impl_->ioc, [g = impl_.get(), &fn, done] {
    std::vector<const client_status*> all;
    all.reserve(g->clients.size());
    for (const auto& c : g->clients) all.push_back(&c->status);
    fn(all, g->latency);
    done->set_value();
  });
  return ready.wait_for(timeout) == std::future_status::ready;
}

}  // namespace parley::bench
