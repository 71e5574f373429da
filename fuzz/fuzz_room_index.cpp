// fuzz_room_index: the server's room index (who is joined where, per tenant) under arbitrary
// join / leave / broadcast sequences, checked after every step against a plain reference model
// (a std::map of std::set). Members are a handful of stand-in objects: room_index only stores
// and compares their addresses.
#include "fuzz_fixtures.hpp"
#include "fuzz_input.hpp"

#include "keys.hpp"
#include "room_index.hpp"

#include <array>
#include <map>
#include <set>
#include <string>

namespace {

namespace server = parley::server;
using parley::fuzz::expect;
using parley::fuzz::fuzz_input;
using parley::fuzz::tenant_pool;

/// What a broadcast is delivered to; only its address matters to the index.
struct member {
  int id = 0;
};

// Unlike the shared pool, this one holds the empty name: the index must not care.
const std::array<std::string, 4> room_pool{"general", "ops", "r.1", ""};

using model = std::map<server::room_key, std::set<const member*>>;

void check_room(const server::room_index<member>& index, const model& reference,
                const server::room_key& room) {
  const auto& listed = index.members(room);
  const std::set<const member*> as_set(listed.begin(), listed.end());
  expect(as_set.size() == listed.size(), "a member is listed once");
  const auto it = reference.find(room);
  expect(as_set == (it == reference.end() ? std::set<const member*>{} : it->second),
         "members() matches the reference model");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz_input in(data, size);
  std::array<member, 5> members{};
  server::room_index<member> index;
  model reference;
  while (!in.done()) {
    const server::room_key room{in.pick(tenant_pool), in.pick(room_pool)};
    member* who = &members[in.number<std::size_t>(0, members.size() - 1)];
    switch (in.number(0, 2)) {
      case 0:
        expect(index.add(room, who) == reference[room].insert(who).second,
               "add() reports whether the member was new");
        break;
      case 1: {
        auto it = reference.find(room);
        const bool present = it != reference.end() && it->second.erase(who) == 1;
        if (it != reference.end() && it->second.empty()) reference.erase(it);
        expect(index.remove(room, who) == present, "remove() reports whether it was there");
        break;
      }
      default:
        // A broadcast reads the member list; every room is compared after the step anyway.
        check_room(index, reference, room);
        break;
    }
    std::erase_if(reference, [](const auto& entry) { return entry.second.empty(); });
    expect(index.room_count() == reference.size(), "room_count() counts rooms with members");
    for (const auto& tenant : tenant_pool)
      for (const auto& name : room_pool) check_room(index, reference, {tenant, name});
  }
  return 0;
}
