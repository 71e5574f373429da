// parley-server: the reference Parley server. See config.hpp (or --help) for every option.
#include "config.hpp"
#include "log.hpp"
#include "server_runtime.hpp"

#include <openssl/rand.h>

#include <array>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
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

/// The dev-mode HS256 key, kept in the data folder beside the store: clients hold tokens across
/// a server restart (the README's kill -9 walk-through), so the key must outlive the process
/// just as the history does. Created on first use, readable by the owner only.
std::string dev_secret(const std::filesystem::path& data_dir) {
  namespace fs = std::filesystem;
  const fs::path file = data_dir / "dev-jwt-secret";
  if (std::ifstream in{file}; in) {
    std::string secret;
    if (std::getline(in, secret) && secret.size() >= 32) return secret;
  }
  fs::create_directories(data_dir);
  const std::string secret = random_secret();
  std::ofstream out{file, std::ios::trunc};
  out << secret << '\n';
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  return secret;
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
    // Dev mode always has a secret: the dev token endpoint signs with it, key set or not.
    if (options.jwt_secret.empty() && options.dev) {
      options.jwt_secret = dev_secret(options.data);
      log_line(log_level::warn,
               "DEV MODE: no --jwt-secret given; using the development key in " + options.data +
                   "/dev-jwt-secret");
    }
    if (options.jwt_secret.empty() && options.jwt_keys.empty()) {
      log_line(log_level::error,
               "no JWT key: set --jwt-secret / PARLEY_JWT_SECRET or --jwt-keys / PARLEY_JWT_KEYS "
               "(or --dev)");
      return 2;
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
