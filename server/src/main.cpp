// parley-server: the reference Parley server. See config.hpp (or --help) for every option.
#include "config.hpp"
#include "log.hpp"
#include "server_runtime.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

namespace {

/// 32 random bytes as hex: a throwaway HS256 key for --dev without --jwt-secret.
std::string random_secret() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw std::runtime_error("no randomness for a dev secret");
  }
  std::string hex;
  for (unsigned char b : bytes) {
    constexpr char digits[] = "0123456789abcdef";
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  return hex;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace parley::server;
  const std::vector<std::string> args(argv + 1, argv + argc);
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") {
      std::fputs(usage().c_str(), stdout);
      return 0;
    }
  }
  try {
    server_options options = load_options(args, process_env);
    set_log_level(*parse_log_level(options.log_level));
    if (options.jwt_secret.empty()) {
      if (!options.dev) {
        log_line(log_level::error, "no JWT secret: set --jwt-secret / PARLEY_JWT_SECRET (or --dev)");
        return 2;
      }
      options.jwt_secret = random_secret();
      log_line(log_level::warn,
               "DEV MODE: no --jwt-secret given; generated a random one for this run only "
               "(tokens stop working after a restart)");
    }
    server_runtime runtime(std::move(options));
    return runtime.run();
  } catch (const config_error& e) {
    log_line(log_level::error, std::string("configuration: ") + e.what());
    return 2;
  } catch (const std::exception& e) {
    log_line(log_level::error, std::string("fatal: ") + e.what());
    return 1;
  }
}
