// Connections that cost the server without ever becoming clients: slowloris, silence, a half
// upgrade, no hello, and too many connections from one address. Each is cut within its bound
// while a normal client keeps chatting. Bounds are generous (3x and more): a shared 2-core
// machine runs these under ASan too.
#include "address_limits.hpp"
#include "server_fixture.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <functional>

namespace parley::test {
namespace {

using namespace std::chrono_literals;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using error_code = boost::system::error_code;
using clock_type = std::chrono::steady_clock;

/// The options every test here runs with: one second to send a whole request or hello.
const std::vector<std::string> short_timeouts = {"--request-timeout-ms", "1000",
                                                 "--hello-timeout-ms", "1000"};
/// How long a test waits for a one-second timeout to cut a connection.
constexpr auto cut_wait = 6s;

/// Whatever arrived before the server closed the connection (or the wait ended).
struct reading {
  std::string bytes;
  bool closed = false;  // the server closed (EOF or reset); false if the wait ran out first
};

/// A bare TCP connection driven by hand, as a slowloris, a silent or a half-speaking client
/// would; every wait is bounded.
class raw_connection {
 public:
  /// Connects to 127.0.0.1:<port> from `source` (any 127.x.y.z address is this host).
  explicit raw_connection(std::uint16_t port, const std::string& source = "127.0.0.1") {
    socket_.open(tcp::v4());
    socket_.bind({net::ip::make_address(source), 0});
    socket_.connect({net::ip::make_address("127.0.0.1"), port});
  }

  /// Sends `bytes`; false once the connection is known to be gone.
  bool write(std::string_view bytes) {
    error_code ec;
    net::write(socket_, net::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }

  /// Reads until the server closes the connection or `timeout` passes.
  reading read_until_closed(std::chrono::milliseconds timeout) {
    reading result;
    std::array<char, 4096> chunk{};
    std::function<void()> read_more = [&] {
      socket_.async_read_some(net::buffer(chunk), [&](error_code ec, std::size_t n) {
        result.bytes.append(chunk.data(), n);
        if (ec == net::error::operation_aborted) return;  // our own wait ran out
        if (ec) {
          result.closed = true;
          return;
        }
        read_more();
      });
    };
    read_more();
    ioc_.restart();
    ioc_.run_for(timeout);
    if (!ioc_.stopped()) {  // still reading: cancel, and let the aborted handler run
      socket_.cancel();
      ioc_.restart();
      ioc_.run();
    }
    return result;
  }

  /// Closes from this side.
  void close() {
    error_code ec;
    socket_.close(ec);
  }

 private:
  net::io_context ioc_;
  tcp::socket socket_{ioc_};
};

/// One complete request that asks for the connection to end after the answer.
constexpr std::string_view health_check =
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

/// Asks for /healthz on a fresh connection from `source`; true on a 200.
bool healthy_from(std::uint16_t port, const std::string& source = "127.0.0.1") {
  raw_connection connection(port, source);
  connection.write(health_check);
  return connection.read_until_closed(reply_wait).bytes.starts_with("HTTP/1.1 200");
}

TEST(ServerTimeouts, SlowlorisIsCutWhileANormalClientChats) {
  server_process server(short_timeouts);
  const auto started = clock_type::now();
  raw_connection slow(server.port());
  ASSERT_TRUE(slow.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "));

  // Meanwhile a normal client connects, joins and is acked.
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  EXPECT_EQ(post(*alice, "lobby", "c1", "during the attack").seq, 1u);

  // One header byte every 200 ms never completes the request: the deadline is for the whole
  // request, so the trickle does not extend it.
  bool cut = false;
  while (!cut && clock_type::now() - started < 4 * cut_wait) {
    if (!slow.write("a")) {
      cut = true;
      break;
    }
    const auto answer = slow.read_until_closed(200ms);
    EXPECT_EQ(answer.bytes, "") << "an incomplete request must get no answer";
    cut = answer.closed;
  }
  const auto elapsed = clock_type::now() - started;
  ASSERT_TRUE(cut) << "the slow client was still connected after " << (4 * cut_wait).count()
                   << " s\n" << server.log_text();
  EXPECT_GE(elapsed, 900ms);  // the request timeout, not something else, cut it
  EXPECT_LT(elapsed, cut_wait);

  // The chat went on undisturbed.
  EXPECT_EQ(post(*alice, "lobby", "c2", "after the attack").seq, 2u);
}

TEST(ServerTimeouts, SilentConnectionIsDropped) {
  server_process server(short_timeouts);
  raw_connection silent(server.port());
  const auto ending = silent.read_until_closed(cut_wait);
  EXPECT_TRUE(ending.closed);
  EXPECT_EQ(ending.bytes, "");
  EXPECT_TRUE(healthy_from(server.port()));
}

TEST(ServerTimeouts, PartialUpgradeRequestIsDropped) {
  server_process server(short_timeouts);
  raw_connection half(server.port());
  // Everything but the blank line that ends the headers.
  ASSERT_TRUE(half.write(
      "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"));
  const auto ending = half.read_until_closed(cut_wait);
  EXPECT_TRUE(ending.closed);
  EXPECT_EQ(ending.bytes, "");
  auto alice = signed_in(server, "alice");  // a real upgrade still goes through
  join_room(*alice, "lobby");
}

TEST(ServerTimeouts, IdleKeepAliveConnectionIsDropped) {
  server_process server(short_timeouts);
  raw_connection idle(server.port());
  ASSERT_TRUE(idle.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));  // keep-alive
  const auto ending = idle.read_until_closed(cut_wait);
  EXPECT_TRUE(ending.bytes.starts_with("HTTP/1.1 200")) << ending.bytes;
  EXPECT_TRUE(ending.closed) << "an idle keep-alive connection outlived the request timeout";
}

TEST(ServerTimeouts, UpgradeWithoutHelloIsClosedWith4004) {
  server_process server(short_timeouts);
  wire_client mute(server.port());  // the WebSocket handshake completes; no hello follows
  const auto closed = mute.wait_closed(cut_wait);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code, static_cast<std::uint16_t>(proto::close_code::protocol_violation));
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  EXPECT_EQ(post(*alice, "lobby", "c1", "still serving").seq, 1u);
}

TEST(ServerConnectionLimits, FourthConnectionFromOneAddressGets429UntilOneCloses) {
  // A long request timeout: the idle connections below must outlive the whole test.
  server_process server({"--max-connections-per-ip", "3", "--request-timeout-ms", "60000"});
  auto alice = signed_in(server, "alice");  // 1
  raw_connection first(server.port());      // 2
  raw_connection second(server.port());     // 3
  // The server accepts in arrival order, so the three above are counted before this one. It
  // sends its request at once, as real clients do: the 429 must survive the unread request.
  raw_connection fourth(server.port());
  fourth.write(health_check);
  const auto refused = fourth.read_until_closed(reply_wait);
  EXPECT_TRUE(refused.closed);
  EXPECT_TRUE(refused.bytes.starts_with("HTTP/1.1 429 Too Many Requests\r\n")) << refused.bytes;
  EXPECT_NE(refused.bytes.find("\r\nContent-Type: text/plain\r\n"), std::string::npos);
  EXPECT_NE(refused.bytes.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_TRUE(refused.bytes.ends_with("\r\n\r\ntoo many connections from this address\n"));

  // The limit is per address: another loopback address is served.
  EXPECT_TRUE(healthy_from(server.port(), "127.0.0.2"));
  // The WebSocket client holding one of the three keeps chatting.
  join_room(*alice, "lobby");
  EXPECT_EQ(post(*alice, "lobby", "c1", "within my share").seq, 1u);

  // Closing one gives its place back (once the server has seen the close).
  first.close();
  EXPECT_TRUE(wait_until([&] { return healthy_from(server.port()); }));
  second.close();
  std::optional<double> refusals;
  EXPECT_TRUE(wait_until([&] {
    refusals = metric(server, "parley_errors_total{code=\"connection_limit\"}");
    return refusals.has_value();
  }));
  EXPECT_GE(refusals.value_or(0), 1.0);
  EXPECT_EQ(post(*alice, "lobby", "c2", "still here").seq, 2u);
}

TEST(ServerConnectionLimits, SlotsAreCountedPerAddressAndGivenBack) {
  namespace ip = net::ip;
  const auto host = ip::make_address("192.0.2.7");
  const auto same_host_mapped = ip::make_address("::ffff:192.0.2.7");
  const auto other = ip::make_address("2001:db8::1");
  server::address_limits limits(2);
  auto a = limits.open(host);
  auto b = limits.open(same_host_mapped);  // the same host through a dual-stack socket
  ASSERT_TRUE(a && b);
  EXPECT_EQ(limits.open_from(host), 2u);
  EXPECT_FALSE(limits.open(host).has_value());
  EXPECT_FALSE(limits.open(same_host_mapped).has_value());
  EXPECT_TRUE(limits.open(other).has_value());  // given back at once: a temporary
  EXPECT_EQ(limits.open_from(other), 0u);

  // Moving a slot (http_session to websocket_session) keeps one place, given back once.
  server::connection_slot moved = std::move(*a);
  a.reset();
  EXPECT_EQ(limits.open_from(host), 2u);
  moved = server::connection_slot{};
  EXPECT_EQ(limits.open_from(host), 1u);
  EXPECT_TRUE(limits.open(host).has_value());
  b.reset();
  EXPECT_EQ(limits.addresses(), 0u);

  // Every address of one IPv6 /64 is one host; the next /64 is another.
  server::address_limits per_network(2);
  auto first = per_network.open(ip::make_address("2001:db8:0:1::1"));
  auto second = per_network.open(ip::make_address("2001:db8:0:1:dead:beef:0:2"));
  ASSERT_TRUE(first && second);
  EXPECT_FALSE(per_network.open(ip::make_address("2001:db8:0:1:ffff::3")).has_value());
  EXPECT_EQ(per_network.open_from(ip::make_address("2001:db8:0:1::99")), 2u);
  EXPECT_TRUE(per_network.open(ip::make_address("2001:db8:0:2::1")).has_value());

  server::address_limits unlimited(0);
  std::vector<server::connection_slot> many;
  for (int i = 0; i < 1000; ++i) many.push_back(*unlimited.open(host));
  EXPECT_EQ(unlimited.open_from(host), 0u);  // nothing is counted without a limit
}

}  // namespace
}  // namespace parley::test
