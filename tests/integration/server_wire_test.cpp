// The plain-TCP write side alone, over a real loopback connection: a lone small frame (copied flat
// and sent with send(2)) and gathered frames (sendmsg) leave as the same bytes, and when the
// socket stops taking them, a frame cut mid-way is finished before the next one starts. With a
// send_ring, lone frames staged during a batch leave only when it is submitted, before anything
// written behind them, and a staged frame the socket refused or cut is finished by the drain.
// A ring whose kernel side fails mid-batch is given up without losing or reordering a frame.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/read.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "frame_header.hpp"
#include "send_ring.hpp"
#include "wire.hpp"

namespace parley::test {
namespace {

using server::error_code;
using server::net::ip::tcp;
namespace net = server::net;

server::shared_buffer text(std::string bytes) {
  return std::make_shared<const std::string>(std::move(bytes));
}

/// Messages held as a session's queue holds them, shown to the wire as one frame.
struct held_frame {
  std::vector<server::shared_buffer> messages;

  server::frame_view view() const {
    std::size_t bytes = 0;
    for (const auto& m : messages) bytes += m->size();
    return {messages, bytes};
  }
};

/// What a binary frame of `payload` looks like on the wire.
std::string framed(const std::string& payload) {
  std::array<unsigned char, 10> header;
  const std::size_t size = server::frame_header(server::ws_opcode::binary, payload.size(), header);
  return std::string(reinterpret_cast<const char*>(header.data()), size) + payload;
}

/// A connected loopback pair: `wire` writes on the accepted end, `peer` reads.
struct loopback {
  net::io_context io;
  tcp::socket peer{io};
  std::unique_ptr<server::wire> wire;

  explicit loopback(int send_buffer = 0, server::send_ring* ring = nullptr) {
    tcp::acceptor acceptor(io, tcp::endpoint(net::ip::address_v4::loopback(), 0));
    peer.connect(acceptor.local_endpoint());
    tcp::socket accepted = acceptor.accept();
    if (send_buffer > 0) {
      accepted.set_option(net::socket_base::send_buffer_size(send_buffer));
      peer.set_option(net::socket_base::receive_buffer_size(send_buffer));
    }
    wire = std::make_unique<server::wire>(server::beast::tcp_stream(std::move(accepted)), ring);
  }

  /// Bytes the peer can read now, without waiting.
  std::string read_available() {
    std::string bytes;
    peer.non_blocking(true);
    for (;;) {
      char chunk[8192];
      error_code ec;
      const std::size_t got = peer.read_some(net::buffer(chunk), ec);
      if (ec) break;
      bytes.append(chunk, got);
    }
    peer.non_blocking(false);
    return bytes;
  }

  /// Reads `size` bytes while running the io_context (a drain writes as room appears), for
  /// at most 20 s.
  std::string read_while_draining(std::size_t size) {
    std::string received;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    peer.non_blocking(true);
    while (received.size() < size && std::chrono::steady_clock::now() < deadline) {
      char chunk[8192];
      error_code ec;
      const std::size_t got = peer.read_some(net::buffer(chunk), ec);
      if (ec == net::error::would_block) {
        io.restart();  // run_for stops the context whenever it runs out of work
        io.run_for(std::chrono::milliseconds(5));
        continue;
      }
      if (ec) break;
      received.append(chunk, got);
    }
    io.restart();
    io.run_for(std::chrono::milliseconds(100));
    return received;
  }

  std::string read(std::size_t size) {
    std::string bytes(size, '\0');
    net::read(peer, net::buffer(bytes));
    return bytes;
  }
};

TEST(ServerWire, ALoneSmallFrameAndAGatheredFrameLeaveAsTheirFramedBytes) {
  loopback link;
  ASSERT_TRUE(link.wire->write_frame(held_frame{{text(std::string(100, 'a'))}}.view()));
  // Three messages: one frame, gathered.
  held_frame batch;
  for (const char fill : {'b', 'c', 'd'}) batch.messages.push_back(text(std::string(40, fill)));
  ASSERT_TRUE(link.wire->write_frame(batch.view()));
  // Over the flat-copy size: gathered even though it is one message.
  ASSERT_TRUE(link.wire->write_frame(held_frame{{text(std::string(2000, 'e'))}}.view()));

  const std::string expected = framed(std::string(100, 'a')) +
                               framed(std::string(40, 'b') + std::string(40, 'c') + std::string(40, 'd')) +
                               framed(std::string(2000, 'e'));
  EXPECT_EQ(link.read(expected.size()), expected);
}

TEST(ServerWire, FramesCutByAFullSocketArriveWholeAndInOrderOnceThePeerReads) {
  loopback link(/*send_buffer=*/4096);
  // Lone small frames until the socket stops taking them; each is numbered so order shows.
  std::string expected;
  bool drained = true;
  int written = 0;
  for (; written < 100000 && drained; ++written) {
    std::string payload(97, 'x');
    const std::string number = std::to_string(written);
    payload.replace(0, number.size(), number);
    // The frame's own buffers go away at once: what the socket did not take, the wire keeps.
    drained = link.wire->write_frame(held_frame{{text(payload)}}.view());
    expected += framed(payload);
  }
  ASSERT_FALSE(drained) << "a 4 KiB send buffer never filled in " << written << " frames";
  // Queued behind the cut frame: more lone frames and a control frame, all in order.
  for (int more = 0; more < 3; ++more) {
    const std::string payload = "after-" + std::to_string(more);
    EXPECT_FALSE(link.wire->write_frame(held_frame{{text(payload)}}.view()));
    expected += framed(payload);
  }
  EXPECT_FALSE(link.wire->write_control(server::ws_opcode::pong, "p"));
  expected += std::string("\x8a\x01p", 3);

  error_code drain_result = net::error::would_block;
  link.wire->async_drain([&](error_code ec) { drain_result = ec; });
  std::string received;
  received.reserve(expected.size());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  link.peer.non_blocking(true);
  while (received.size() < expected.size() && std::chrono::steady_clock::now() < deadline) {
    char chunk[8192];
    error_code ec;
    const std::size_t got = link.peer.read_some(net::buffer(chunk), ec);
    if (ec == net::error::would_block) {
      link.io.run_for(std::chrono::milliseconds(5));  // the drain writes as room appears
      continue;
    }
    ASSERT_FALSE(ec) << ec.message();
    received.append(chunk, got);
  }
  link.io.run_for(std::chrono::milliseconds(100));
  EXPECT_EQ(drain_result, error_code{});
  ASSERT_EQ(received.size(), expected.size());
  EXPECT_TRUE(received == expected) << "bytes differ from the frames written, in order";
}

TEST(ServerWire, StagedFramesLeaveWhenTheBatchIsSubmittedBeforeWhatWasWrittenBehindThem) {
  server::send_ring ring(true);
  ASSERT_TRUE(ring.available()) << ring.refusal();
  loopback first(0, &ring), second(0, &ring);
  int backlogs = 0;
  first.wire->on_backlog([&] { ++backlogs; });

  ring.begin();
  EXPECT_TRUE(first.wire->write_frame(held_frame{{text("one")}}.view()));
  EXPECT_TRUE(second.wire->write_frame(held_frame{{text("uno")}}.view()));
  // Behind a staged frame everything queues, control frames too, and waits for the drain.
  EXPECT_FALSE(first.wire->write_frame(held_frame{{text("two")}}.view()));
  EXPECT_FALSE(first.wire->write_control(server::ws_opcode::pong, "p"));
  EXPECT_EQ(first.read_available(), "") << "a staged frame left before the batch was submitted";
  ring.finish();
  EXPECT_EQ(backlogs, 0) << "the staged frame went whole: nothing to report";
  EXPECT_EQ(second.read_available(), framed("uno"));

  error_code drained = net::error::would_block;
  first.wire->async_drain([&](error_code ec) { drained = ec; });
  const std::string expected = framed("one") + framed("two") + std::string("\x8a\x01p", 3);
  EXPECT_EQ(first.read_while_draining(expected.size()), expected);
  EXPECT_EQ(drained, error_code{});

  // Outside a batch the wire sends at once, as without a ring.
  EXPECT_TRUE(first.wire->write_frame(held_frame{{text("three")}}.view()));
  EXPECT_EQ(first.read(framed("three").size()), framed("three"));
}

TEST(ServerWire, AStagedFrameTheSocketCouldNotTakeIsFinishedByTheDrain) {
  server::send_ring ring(true);
  ASSERT_TRUE(ring.available()) << ring.refusal();
  loopback link(/*send_buffer=*/4096, &ring);
  // Fill the socket behind the wire's back, so that the wire has nothing queued of its own.
  const int fd = link.wire->socket().native_handle();
  const std::string filler(1000, 'f');
  std::size_t filled = 0;
  for (int i = 0; i < 100000; ++i) {
    const ssize_t sent = ::send(fd, filler.data(), filler.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent <= 0) break;
    filled += static_cast<std::size_t>(sent);
  }
  ASSERT_GT(filled, 0u);
  int backlogs = 0;
  link.wire->on_backlog([&] { ++backlogs; });

  const std::string payload(120, 's');
  ring.begin();
  EXPECT_TRUE(link.wire->write_frame(held_frame{{text(payload)}}.view()));
  EXPECT_FALSE(link.wire->write_frame(held_frame{{text("next")}}.view()));
  ring.finish();
  EXPECT_EQ(backlogs, 1) << "a refused staged frame must be reported";

  error_code drained = net::error::would_block;
  link.wire->async_drain([&](error_code ec) { drained = ec; });
  const std::string received = link.read_while_draining(filled + framed(payload).size() +
                                                        framed("next").size());
  ASSERT_EQ(received.size(), filled + framed(payload).size() + framed("next").size());
  EXPECT_TRUE(received.substr(filled) == framed(payload) + framed("next"))
      << "the staged frame or the one behind it came out changed or out of order";
  EXPECT_EQ(drained, error_code{});
}

TEST(ServerWire, AStagedSendToAResetPeerFailsTheWire) {
  server::send_ring ring(true);
  ASSERT_TRUE(ring.available()) << ring.refusal();
  loopback link(0, &ring);
  // An abortive close: the peer's end answers the next segment with a reset.
  link.peer.set_option(net::socket_base::linger(true, 0));
  link.peer.close();
  // The first send after the reset may still be taken; the one after that must fail.
  int backlogs = 0;
  link.wire->on_backlog([&] { ++backlogs; });
  for (int attempt = 0; attempt < 50 && backlogs == 0; ++attempt) {
    ring.begin();
    link.wire->write_frame(held_frame{{text("lost")}}.view());
    ring.finish();
  }
  ASSERT_EQ(backlogs, 1);
  error_code drained;
  link.wire->async_drain([&](error_code ec) { drained = ec; });
  link.io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(drained == net::error::connection_reset || drained == net::error::broken_pipe)
      << drained.message();
  // Later frames report the failure too, and are not staged.
  ring.begin();
  EXPECT_FALSE(link.wire->write_frame(held_frame{{text("later")}}.view()));
  ring.finish();
}

/// This process's io_uring descriptor (-1 if none): the ring under test is the only one.
int ring_descriptor() {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string() == "anon_inode:[io_uring]") {
      return std::stoi(entry.path().filename().string());
    }
  }
  return -1;
}

TEST(ServerWire, ARingThatFailsMidBatchIsGivenUpAndEveryFrameStillLeavesInOrder) {
  server::send_ring ring(true);
  ASSERT_TRUE(ring.available()) << ring.refusal();
  // More connections than one batch holds, so that staging goes on after a failed submission.
  constexpr std::size_t count = server::send_ring::depth + 40;
  std::vector<std::unique_ptr<loopback>> links;
  for (std::size_t i = 0; i < count; ++i) links.push_back(std::make_unique<loopback>(0, &ring));
  std::vector<int> backlogs(count, 0);
  for (std::size_t i = 0; i < count; ++i) links[i]->wire->on_backlog([&, i] { ++backlogs[i]; });

  // The kernel side breaks: the ring's descriptor now names /dev/null, so the next
  // io_uring_enter fails as a lost or revoked ring would.
  const int ring_fd = ring_descriptor();
  ASSERT_GE(ring_fd, 0);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null_fd, 0);
  ASSERT_EQ(::dup2(null_fd, ring_fd), ring_fd);
  ::close(null_fd);

  ring.begin();
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_TRUE(links[i]->wire->write_frame(held_frame{{text("m" + std::to_string(i))}}.view()))
        << "frame " << i << " was not taken whole";
  }
  ring.finish();
  EXPECT_FALSE(ring.available());
  EXPECT_EQ(ring.refusal(), "a batch failed");

  for (std::size_t i = 0; i < count; ++i) {
    const std::string first = "m" + std::to_string(i);
    EXPECT_EQ(links[i]->read_available(), framed(first)) << "connection " << i;
    EXPECT_EQ(backlogs[i], 0) << "connection " << i << " heard of a backlog it did not have";
    // Later batches stage nothing: every frame is sent at once.
    ring.begin();
    EXPECT_TRUE(links[i]->wire->write_frame(held_frame{{text("later")}}.view()));
    ring.finish();
    EXPECT_EQ(links[i]->read_available(), framed("later")) << "connection " << i;
  }
}

TEST(ServerWire, ARingTurnedOffStagesNothing) {
  server::send_ring ring(false);
  EXPECT_FALSE(ring.available());
  EXPECT_NE(ring.refusal(), "");
  loopback link(0, &ring);
  ring.begin();
  EXPECT_TRUE(link.wire->write_frame(held_frame{{text("now")}}.view()));
  EXPECT_EQ(link.read(framed("now").size()), framed("now"));
  ring.finish();
}

}  // namespace
}  // namespace parley::test
