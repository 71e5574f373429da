// Option loading in-process: defaults, the JSON file, PARLEY_* variables and flags, with
// flags > env > file > default, and clear errors for bad input.
#include "config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

namespace parley::test {
namespace {

using server::config_error;
using server::load_options;

/// An environment holding only `vars`.
server::env_lookup fake_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

/// A JSON config file that is removed with the object.
class config_file {
 public:
  explicit config_file(const std::string& json)
      : path_(std::filesystem::temp_directory_path() /
              ("parley-config-" + std::to_string(::getpid()) + ".json")) {
    std::ofstream(path_) << json;
  }
  ~config_file() { std::filesystem::remove(path_); }
  std::string path() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

TEST(ServerConfig, DefaultsMatchTheProtocolDefaults) {
  const auto options = load_options({}, fake_env({}));
  EXPECT_EQ(options.host, "127.0.0.1");
  EXPECT_EQ(options.port, 8080);
  EXPECT_EQ(options.data, "./data");
  EXPECT_FALSE(options.dev);
  EXPECT_EQ(options.send_queue_bytes, 1048576u);
  EXPECT_EQ(options.dedup_window_s, 86400u);
  EXPECT_EQ(options.log_level, "info");
  EXPECT_TRUE(options.io_uring);
  EXPECT_FALSE(load_options({"--io-uring=false"}, fake_env({})).io_uring);
  EXPECT_EQ(options.params(), proto::server_params{});
}

TEST(ServerConfig, FlagsBeatEnvironmentBeatsFileBeatsDefault) {
  const config_file file(
      R"({"heartbeat_ms": 1000, "rate_burst": 7, "log_level": "warn", "dev": true,
          "host": "0.0.0.0"})");
  const auto options =
      load_options({"--config", file.path(), "--heartbeat-ms", "3000", "--port=0"},
                   fake_env({{"PARLEY_HEARTBEAT_MS", "2000"}, {"PARLEY_LOG_LEVEL", "debug"},
                             {"PARLEY_JWT_SECRET", "s3cret"}}));
  EXPECT_EQ(options.heartbeat_ms, 3000u);  // flag
  EXPECT_EQ(options.log_level, "debug");   // env over file
  EXPECT_EQ(options.rate_burst, 7u);       // file over default
  EXPECT_TRUE(options.dev);
  EXPECT_EQ(options.host, "0.0.0.0");
  EXPECT_EQ(options.port, 0);
  EXPECT_EQ(options.jwt_secret, "s3cret");
  EXPECT_EQ(options.params().heartbeat_ms, 3000u);
  // The file may also come from the environment.
  EXPECT_EQ(load_options({}, fake_env({{"PARLEY_CONFIG", file.path()}})).rate_burst, 7u);
}

TEST(ServerConfig, BooleanFlagsAndVariables) {
  EXPECT_TRUE(load_options({"--dev"}, fake_env({})).dev);
  EXPECT_FALSE(load_options({"--dev=false"}, fake_env({{"PARLEY_DEV", "true"}})).dev);
  EXPECT_TRUE(load_options({}, fake_env({{"PARLEY_DEV", "1"}})).dev);
  EXPECT_THROW(load_options({}, fake_env({{"PARLEY_DEV", "maybe"}})), config_error);
}

TEST(ServerConfig, BadInputIsRefusedWithItsName) {
  auto message_of = [](const std::vector<std::string>& args, const server::env_lookup& env) {
    try {
      load_options(args, env);
    } catch (const config_error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(message_of({"--bogus"}, fake_env({})).find("--bogus"), std::string::npos);
  EXPECT_NE(message_of({"--port", "70000"}, fake_env({})).find("--port"), std::string::npos);
  EXPECT_NE(message_of({"--port"}, fake_env({})).find("needs a value"), std::string::npos);
  EXPECT_NE(message_of({}, fake_env({{"PARLEY_MAX_TEXT", "ten"}})).find("PARLEY_MAX_TEXT"),
            std::string::npos);
  EXPECT_NE(message_of({"--log-level", "loud"}, fake_env({})).find("log_level"), std::string::npos);
  EXPECT_NE(message_of({"--max-text", "70000"}, fake_env({})).find("max_text"), std::string::npos);
  {
    const config_file typo(R"({"heartbeat-ms": 5})");
    EXPECT_NE(message_of({"--config", typo.path()}, fake_env({})).find("unknown key"),
              std::string::npos);
  }
  {
    const config_file wrong_type(R"({"port": "eighty"})");
    EXPECT_NE(message_of({"--config", wrong_type.path()}, fake_env({})).find("expected a number"),
              std::string::npos);
  }
  {
    const config_file broken("{ not json");
    EXPECT_NE(message_of({"--config", broken.path()}, fake_env({})), "accepted");
  }
  EXPECT_NE(message_of({"--config", "/nonexistent/parley.json"}, fake_env({})).find("cannot open"),
            std::string::npos);
}

}  // namespace
}  // namespace parley::test
