// The wire schema: for every message body (and every nested map), the table of its keys.
//
// This is the one place that spells the keys of docs/PROTOCOL.md. The encoder and the decoder
// in codec.cpp walk these tables; neither has per-message code. The order of a table is the
// order in which the encoder writes the keys (decoders must not depend on it).
#pragma once

#include "parley/protocol/messages.hpp"

#include <string_view>
#include <tuple>

namespace parley::proto::wire {

/// Whether a key must be present. Required keys are always written; optional keys are written
/// only when they differ from the default (0, "", false, absent, empty list).
enum class need : bool { optional, required };

/// One key of a map: its spelling, the member it fills and whether it is required.
template <class Struct, class Value>
struct field {
  std::string_view key;
  Value Struct::*member;
  need presence;
};
template <class Struct, class Value>
field(std::string_view, Value Struct::*, need) -> field<Struct, Value>;

inline constexpr need req = need::required;
inline constexpr need opt = need::optional;

/// schema<S>::fields is the key table of S. Only structs written as MessagePack maps have one.
template <class S>
struct schema;

template <class S>
concept has_schema = requires { schema<S>::fields; };

// ---- nested maps ----------------------------------------------------------------------------

template <>
struct schema<resume_point> {
  static constexpr auto fields = std::tuple{
      field{"epoch", &resume_point::epoch, req},
      field{"seq", &resume_point::seq, req},
  };
};

template <>
struct schema<server_params> {
  // Every parameter is required so that a client never guesses a server's limit.
  static constexpr auto fields = std::tuple{
      field{"hb", &server_params::heartbeat_ms, req},
      field{"tthr", &server_params::typing_throttle_ms, req},
      field{"texp", &server_params::typing_expiry_ms, req},
      field{"grace", &server_params::presence_grace_ms, req},
      field{"frame", &server_params::max_frame, req},
      field{"batch", &server_params::max_batch, req},
      field{"text", &server_params::max_text, req},
      field{"rooms", &server_params::max_rooms, req},
      field{"hist", &server_params::history_limit, req},
      field{"rate", &server_params::rate_per_sec, req},
      field{"burst", &server_params::rate_burst, req},
  };
};

template <>
struct schema<room_event> {
  static constexpr auto fields = std::tuple{
      field{"room", &room_event::room, req},
      field{"epoch", &room_event::epoch, req},
      field{"seq", &room_event::seq, req},
      field{"kind", &room_event::kind, req},
      field{"from", &room_event::from, opt},
      field{"cid", &room_event::cid, opt},
      field{"ts", &room_event::ts, req},
      field{"text", &room_event::text, opt},
      field{"ref", &room_event::ref, opt},
  };
};

template <>
struct schema<presence_entry> {
  static constexpr auto fields = std::tuple{
      field{"user", &presence_entry::user, req},
      field{"status", &presence_entry::status, req},
      field{"seen", &presence_entry::last_seen, opt},
      field{"room", &presence_entry::room, opt},
  };
};

template <>
struct schema<room_info> {
  static constexpr auto fields = std::tuple{
      field{"room", &room_info::room, req},
      field{"private", &room_info::is_private, opt},
      field{"epoch", &room_info::epoch, req},
      field{"head", &room_info::head, req},
      field{"joined", &room_info::joined, opt},
  };
};

// ---- message bodies -------------------------------------------------------------------------
// `event` and `presence` wrap room_event / presence_entry: their bodies are those maps.

template <>
struct schema<hello> {
  static constexpr auto fields = std::tuple{
      field{"min", &hello::min_version, req},
      field{"max", &hello::max_version, req},
      field{"token", &hello::token, req},
      field{"client", &hello::client, opt},
  };
};

template <>
struct schema<welcome> {
  static constexpr auto fields = std::tuple{
      field{"v", &welcome::version, req},
      field{"session", &welcome::session, opt},
      field{"user", &welcome::user, req},
      field{"tenant", &welcome::tenant, req},
      field{"time", &welcome::server_time, opt},
      field{"params", &welcome::params, req},
  };
};

template <>
struct schema<join> {
  static constexpr auto fields = std::tuple{
      field{"id", &join::id, opt},
      field{"room", &join::room, req},
      field{"resume", &join::resume, opt},
  };
};

template <>
struct schema<joined> {
  static constexpr auto fields = std::tuple{
      field{"id", &joined::id, opt},
      field{"room", &joined::room, req},
      field{"epoch", &joined::epoch, req},
      field{"head", &joined::head, req},
      field{"resumed", &joined::resumed, opt},
      field{"members", &joined::members, opt},
  };
};

template <>
struct schema<leave> {
  static constexpr auto fields = std::tuple{
      field{"id", &leave::id, opt},
      field{"room", &leave::room, req},
  };
};

template <>
struct schema<list_rooms> {
  static constexpr auto fields = std::tuple{
      field{"id", &list_rooms::id, opt},
  };
};

template <>
struct schema<room_list> {
  static constexpr auto fields = std::tuple{
      field{"id", &room_list::id, opt},
      field{"rooms", &room_list::rooms, opt},
  };
};

template <>
struct schema<send> {
  static constexpr auto fields = std::tuple{
      field{"room", &send::room, req},
      field{"cid", &send::cid, req},
      field{"text", &send::text, req},
  };
};

template <>
struct schema<ack> {
  static constexpr auto fields = std::tuple{
      field{"room", &ack::room, req},
      field{"cid", &ack::cid, req},
      field{"epoch", &ack::epoch, req},
      field{"seq", &ack::seq, req},
      field{"ts", &ack::ts, req},
      field{"dup", &ack::duplicate, opt},
  };
};

template <>
struct schema<history> {
  static constexpr auto fields = std::tuple{
      field{"id", &history::id, opt},
      field{"room", &history::room, req},
      field{"before", &history::before, opt},
      field{"after", &history::after, opt},
      field{"limit", &history::limit, opt},
  };
};

template <>
struct schema<history_page> {
  static constexpr auto fields = std::tuple{
      field{"id", &history_page::id, opt},
      field{"room", &history_page::room, req},
      field{"epoch", &history_page::epoch, req},
      field{"events", &history_page::events, opt},
      field{"more", &history_page::more, opt},
  };
};

template <>
struct schema<typing> {
  static constexpr auto fields = std::tuple{
      field{"room", &typing::room, req},
      field{"on", &typing::on, req},
  };
};

template <>
struct schema<typing_update> {
  static constexpr auto fields = std::tuple{
      field{"room", &typing_update::room, req},
      field{"user", &typing_update::user, req},
      field{"on", &typing_update::on, req},
  };
};

template <>
struct schema<set_presence> {
  static constexpr auto fields = std::tuple{
      field{"status", &set_presence::status, req},
  };
};

template <>
struct schema<ping> {
  static constexpr auto fields = std::tuple{
      field{"n", &ping::nonce, opt},
  };
};

template <>
struct schema<pong> {
  static constexpr auto fields = std::tuple{
      field{"n", &pong::nonce, opt},
  };
};

template <>
struct schema<error> {
  static constexpr auto fields = std::tuple{
      field{"id", &error::id, opt},
      field{"code", &error::code, req},
      field{"msg", &error::message, opt},
      field{"room", &error::room, opt},
      field{"cid", &error::cid, opt},
      field{"type", &error::type, opt},
      field{"retry", &error::retry_ms, opt},
  };
};

template <>
struct schema<ok> {
  static constexpr auto fields = std::tuple{
      field{"id", &ok::id, opt},
  };
};

template <>
struct schema<refresh> {
  static constexpr auto fields = std::tuple{
      field{"id", &refresh::id, opt},
      field{"token", &refresh::token, req},
  };
};

template <>
struct schema<create_room> {
  static constexpr auto fields = std::tuple{
      field{"id", &create_room::id, opt},
      field{"room", &create_room::room, req},
      field{"private", &create_room::is_private, opt},
  };
};

template <>
struct schema<add_member> {
  static constexpr auto fields = std::tuple{
      field{"id", &add_member::id, opt},
      field{"room", &add_member::room, req},
      field{"user", &add_member::user, req},
  };
};

/// The map that carries a message's body: the message itself, or the value it wraps.
template <class M>
constexpr M& body_of(M& m) {
  return m;
}
constexpr room_event& body_of(event& m) { return m.ev; }
constexpr const room_event& body_of(const event& m) { return m.ev; }
constexpr presence_entry& body_of(presence& m) { return m.entry; }
constexpr const presence_entry& body_of(const presence& m) { return m.entry; }

}  // namespace parley::proto::wire
