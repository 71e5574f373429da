// Helpers shared by the server suite: sign in, join, post, read metrics, wait for a condition.
#pragma once

#include "server_process.hpp"
#include "server_wire_client.hpp"

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::test {

/// A connection to `server` that has completed hello as user@tenant.
std::unique_ptr<wire_client> signed_in(const server_process& server, const std::string& user,
                                       const std::string& tenant = "default");

/// Sends join (with an optional resume point) and returns the joined answer.
proto::joined join_room(wire_client& client, const std::string& room,
                        std::optional<proto::resume_point> resume = std::nullopt,
                        std::uint32_t id = 1);

/// Sends a message and returns its ack. Unless the ack is a duplicate, the sender's own event
/// must follow it directly (same seq); it is consumed here.
proto::ack post(wire_client& client, const std::string& room, const std::string& cid,
                const std::string& text);

/// The next message, which must be an event.
proto::room_event next_event(wire_client& client);

/// Proves nothing else is queued for `client`: a ping must come back as the very next message.
void expect_nothing_pending(wire_client& client);

/// The value of one Prometheus series (e.g. `parley_errors_total{code="slow_consumer"}`), or
/// nullopt if the server does not list it.
std::optional<double> metric(const server_process& server, std::string_view series);

/// Posts 8000-byte messages to `room` from `writer` in batches of 7 (each batch's acks and
/// echoed events read before the next, so the writer is never the slow one) until the server
/// has closed `stalled` slow consumers, or 4000 messages went out. Returns how many were sent.
std::uint64_t flood_until_cut(const server_process& server, wire_client& writer,
                              const std::string& room, double stalled);

/// A WebSocket over a raw_socket that has said hello as `user`; throws if refused.
/// `receive_buffer` as for raw_socket.
std::unique_ptr<raw_socket> raw_signed_in(const server_process& server, const std::string& user,
                                          int receive_buffer = 0);
/// The messages of one binary frame read from a raw connection (empty on timeout or non-binary).
std::vector<proto::message> raw_messages(raw_socket& raw);
/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds timeout = reply_wait);

}  // namespace parley::test
