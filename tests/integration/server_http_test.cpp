// The HTTP side of the port: health, metrics, REST history, the dev token endpoint and static
// files.
#include "server_fixture.hpp"

#include <gtest/gtest.h>

#include <rapidjson/document.h>

#include <unistd.h>

#include <fstream>

namespace parley::test {
namespace {

rapidjson::Document parse_json(const http_result& result) {
  rapidjson::Document doc;
  doc.Parse(result.body.c_str());
  EXPECT_FALSE(doc.HasParseError()) << result.body;
  return doc;
}

std::vector<std::uint64_t> rest_seqs(const rapidjson::Document& doc) {
  std::vector<std::uint64_t> out;
  for (const auto& ev : doc["events"].GetArray()) out.push_back(ev["seq"].GetUint64());
  return out;
}

TEST(ServerHttp, HealthzReportsTheStore) {
  server_process server;
  const auto health = http_request(server.port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.content_type, "application/json");
  const auto doc = parse_json(health);
  EXPECT_STREQ(doc["status"].GetString(), "ok");
  EXPECT_STREQ(doc["store"].GetString(), "ok");
  EXPECT_TRUE(doc["uptime_s"].IsInt64());
}

TEST(ServerHttp, MetricsCountConnectionsMessagesErrorsAndStoreWrites) {
  server_process server;
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  post(*alice, "lobby", "c1", "counted");
  alice->send(proto::leave{5, "nowhere"});
  alice->expect<proto::error>();
  const auto page = http_request(server.port(), "GET", "/metrics");
  EXPECT_EQ(page.status, 200u);
  EXPECT_NE(page.content_type.find("text/plain"), std::string::npos);
  EXPECT_NE(page.body.find("# TYPE parley_store_write_seconds histogram"), std::string::npos);
  EXPECT_EQ(metric(server, "parley_connections"), 1.0);
  EXPECT_EQ(metric(server, "parley_rooms"), 1.0);
  EXPECT_EQ(metric(server, "parley_messages_in_total"), 4.0);  // hello, join, send, leave
  EXPECT_GE(metric(server, "parley_messages_out_total").value_or(0), 5.0);
  EXPECT_GT(metric(server, "parley_bytes_in_total").value_or(0), 0.0);
  EXPECT_GT(metric(server, "parley_bytes_out_total").value_or(0), 0.0);
  EXPECT_EQ(metric(server, "parley_errors_total{code=\"not_joined\"}"), 1.0);
  EXPECT_GE(metric(server, "parley_store_write_seconds_count").value_or(0), 2.0);
  EXPECT_EQ(metric(server, "parley_store_write_seconds_bucket{le=\"+Inf\"}"),
            metric(server, "parley_store_write_seconds_count"));
}

TEST(ServerHttp, RestHistoryPagesWithABearerToken) {
  server_process server;
  auto alice = signed_in(server, "alice");
  join_room(*alice, "lobby");
  for (int i = 1; i <= 5; ++i) post(*alice, "lobby", "m" + std::to_string(i), "text " + std::to_string(i));
  const auto token = token_for("bob");
  const std::string path = "/api/v1/rooms/lobby/messages";

  auto result = http_request(server.port(), "GET", path + "?limit=2", token);
  ASSERT_EQ(result.status, 200u) << result.body;
  auto doc = parse_json(result);
  EXPECT_STREQ(doc["room"].GetString(), "lobby");
  EXPECT_GT(doc["epoch"].GetUint64(), 0u);
  EXPECT_EQ(rest_seqs(doc), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_TRUE(doc["more"].GetBool());
  const auto& first = doc["events"][0];
  EXPECT_STREQ(first["from"].GetString(), "alice");
  EXPECT_STREQ(first["cid"].GetString(), "m4");
  EXPECT_STREQ(first["text"].GetString(), "text 4");
  EXPECT_EQ(first["kind"].GetUint(), 1u);
  EXPECT_GT(first["ts"].GetUint64(), 0u);

  doc = parse_json(http_request(server.port(), "GET", path + "?before=4&limit=2", token));
  EXPECT_EQ(rest_seqs(doc), (std::vector<std::uint64_t>{2, 3}));
  EXPECT_TRUE(doc["more"].GetBool());
  doc = parse_json(http_request(server.port(), "GET", path + "?after=3&limit=10", token));
  EXPECT_EQ(rest_seqs(doc), (std::vector<std::uint64_t>{4, 5}));
  EXPECT_FALSE(doc["more"].GetBool());

  EXPECT_EQ(http_request(server.port(), "GET", path).status, 401u);
  EXPECT_EQ(http_request(server.port(), "GET", path, "garbage").status, 401u);
  EXPECT_EQ(http_request(server.port(), "GET", path, token_for("bob", "default", std::chrono::seconds(-5))).status, 401u);
  EXPECT_EQ(http_request(server.port(), "GET", path + "?limit=abc", token).status, 400u);
  EXPECT_EQ(http_request(server.port(), "GET", path + "?limit=201", token).status, 400u);
  EXPECT_EQ(http_request(server.port(), "GET", "/api/v1/rooms/nowhere/messages", token).status, 404u);
}

TEST(ServerHttp, DevTokenEndpointExistsOnlyInDevMode) {
  {
    server_process server;
    EXPECT_EQ(http_request(server.port(), "POST", "/api/v1/dev/token?user=alice").status, 404u);
  }
  server_process server({"--dev"});
  const auto result =
      http_request(server.port(), "POST", "/api/v1/dev/token?user=alice&tenant=acme");
  ASSERT_EQ(result.status, 200u) << result.body;
  const auto doc = parse_json(result);
  EXPECT_STREQ(doc["user"].GetString(), "alice");
  EXPECT_STREQ(doc["tenant"].GetString(), "acme");
  EXPECT_GT(doc["expires"].GetInt64(), 0);
  wire_client client(server.port());
  const auto welcome = client.hello(doc["token"].GetString());
  EXPECT_EQ(welcome.user, "alice");
  EXPECT_EQ(welcome.tenant, "acme");
  EXPECT_EQ(http_request(server.port(), "POST", "/api/v1/dev/token").status, 400u);
}

TEST(ServerHttp, StaticFilesHaveMimeTypesAndStayInsideTheWebRoot) {
  const auto site = std::filesystem::temp_directory_path() /
                    ("parley-web-" + std::to_string(::getpid()));
  std::filesystem::create_directories(site / "public" / "pkg");
  auto write = [](const std::filesystem::path& file, const std::string& text) {
    std::ofstream(file) << text;
  };
  write(site / "public" / "index.html", "<!doctype html>hi");
  write(site / "public" / "pkg" / "parley.wasm", std::string("\0asm", 4));
  write(site / "public" / "pkg" / "parley.mjs", "export default 1;");
  write(site / "secret.txt", "outside the web root");
  {
    server_process server({"--web-root", (site / "public").string()});
    auto result = http_request(server.port(), "GET", "/");
    EXPECT_EQ(result.status, 200u);
    EXPECT_EQ(result.content_type, "text/html; charset=utf-8");
    EXPECT_EQ(result.body, "<!doctype html>hi");
    result = http_request(server.port(), "GET", "/pkg/parley.wasm");
    EXPECT_EQ(result.content_type, "application/wasm");
    EXPECT_EQ(result.body.size(), 4u);
    EXPECT_EQ(http_request(server.port(), "GET", "/pkg/parley.mjs").content_type,
              "text/javascript");
    const auto head = http_request(server.port(), "HEAD", "/pkg/parley.mjs");
    EXPECT_EQ(head.status, 200u);
    EXPECT_TRUE(head.body.empty());
    for (const char* escape : {"/../secret.txt", "/pkg/../../secret.txt", "/%2e%2e/secret.txt",
                               "/pkg/%2E%2E/%2e%2e/secret.txt", "/missing.js"}) {
      result = http_request(server.port(), "GET", escape);
      EXPECT_EQ(result.status, 404u) << escape;
      EXPECT_EQ(result.body.find("outside"), std::string::npos) << escape;
    }
  }
  std::filesystem::remove_all(site);
}

}  // namespace
}  // namespace parley::test
