// The `floor` scenario: what one small loopback TCP send costs a process that does nothing
// else, on this machine at the time of the run. The fanout scenario's server CPU per delivery
// is read against it (issue 5: within 10 % of this floor), so it offers the same load under the
// same conditions: a sender pinned and niced as a started server would be, the receivers in
// this (the generator) process on the generator CPU, one burst of one send per receiver every
// 1/P s. See bench/README.md.
#pragma once

#include "options.hpp"

#include <string>

namespace parley::bench {

/// Runs `parley-bench floor`: forks the sender, connects --receivers sockets to it, prints the
/// pinning line, the table and the JSON line. `pin` is main's decision (off with --no-pin or on
/// one CPU), `pin_note` is appended to the pinning line. Returns the exit status.
int send_floor(const bench_options& options, bool pin, const std::string& pin_note);

}  // namespace parley::bench
