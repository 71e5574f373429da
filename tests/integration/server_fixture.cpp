#include "server_fixture.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <thread>

namespace parley::test {

std::unique_ptr<wire_client> signed_in(const server_process& server, const std::string& user,
                                       const std::string& tenant) {
  auto client = std::make_unique<wire_client>(server.port());
  client->hello(token_for(user, tenant));
  return client;
}

proto::joined join_room(wire_client& client, const std::string& room,
                        std::optional<proto::resume_point> resume, std::uint32_t id) {
  client.send(proto::join{id, room, resume});
  return client.expect<proto::joined>();
}

proto::ack post(wire_client& client, const std::string& room, const std::string& cid,
                const std::string& text) {
  client.send(proto::send{room, cid, text});
  auto ack = client.expect<proto::ack>();
  if (!ack.duplicate) {
    const auto own = client.expect<proto::event>().ev;
    EXPECT_EQ(own.seq, ack.seq);
    EXPECT_EQ(own.cid, cid);
  }
  return ack;
}

proto::room_event next_event(wire_client& client) { return client.expect<proto::event>().ev; }

void expect_nothing_pending(wire_client& client) {
  constexpr std::uint64_t sentinel = 0x5e471e1;
  client.send(proto::ping{sentinel});
  const auto pong = client.expect<proto::pong>();
  EXPECT_EQ(pong.nonce, sentinel);
}

std::optional<double> metric(const server_process& server, std::string_view series) {
  const auto page = http_request(server.port(), "GET", "/metrics");
  std::istringstream lines(page.body);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 &&
        line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

std::uint64_t flood_until_cut(const server_process& server, wire_client& writer,
                              const std::string& room, double stalled) {
  const std::string text(8000, 'z');
  std::uint64_t sent = 0;
  const auto all_cut = [&] {
    return metric(server, "parley_errors_total{code=\"slow_consumer\"}").value_or(0) >= stalled;
  };
  while (!all_cut() && sent < 4000) {
    std::vector<proto::message> batch;
    for (int i = 0; i < 7; ++i) {
      batch.push_back(proto::send{room, "c" + std::to_string(++sent), text});
    }
    writer.send_batch(batch);
    for (int i = 0; i < 7; ++i) {
      writer.expect<proto::ack>();
      next_event(writer);
    }
  }
  return sent;
}

std::unique_ptr<raw_socket> raw_signed_in(const server_process& server, const std::string& user,
                                          int receive_buffer) {
  auto raw = std::make_unique<raw_socket>(server.port(), receive_buffer);
  if (!raw->upgrade()) throw std::runtime_error("upgrade refused");
  raw->send_frame(2, proto::encode(proto::hello{1, 1, token_for(user), "raw"}));
  const auto frame = raw->read_frame();
  if (!frame) throw std::runtime_error("no welcome");
  proto::decode_limits generous;
  generous.max_frame = 1 << 20;
  const auto decoded = proto::decode_frame(frame->payload, generous);
  if (!decoded || decoded.messages.empty() ||
      !std::holds_alternative<proto::welcome>(decoded.messages.front())) {
    throw std::runtime_error("hello was not answered with welcome");
  }
  return raw;
}

std::vector<proto::message> raw_messages(raw_socket& raw) {
  const auto frame = raw.read_frame();
  if (!frame || frame->opcode != 2) return {};
  proto::decode_limits generous;
  generous.max_frame = 1 << 20;
  return proto::decode_frame(frame->payload, generous).messages;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

}  // namespace parley::test
