// Development tokens: a server started with --dev hands out JWTs over HTTP, so trying the CLI
// needs no token tooling.
#pragma once

#include "parley/client/endpoint.hpp"

#include <string>

namespace parley::cli {

/// POST /api/v1/dev/token?user=&tenant= to the server behind a ws:// endpoint; returns the
/// token. Throws std::runtime_error with a message fit for the user (server unreachable, not in
/// dev mode, wss:// endpoint, unexpected answer).
std::string fetch_dev_token(const client::endpoint& server, const std::string& user,
                            const std::string& tenant);

}  // namespace parley::cli
