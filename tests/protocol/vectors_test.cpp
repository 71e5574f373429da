// The shared vectors: tests/vectors/*.hex must be exactly what our encoder makes of the
// documented values, decode back to them, and appear verbatim in docs/PROTOCOL.md. The wasm
// build runs the same checks, so the browser decoder agrees byte for byte.
#include "samples.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

namespace parley::test {
namespace {

namespace proto = parley::proto;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path
                         << " (regenerate with: protocol_vectors " PARLEY_VECTORS_DIR ")";
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string vector_path(const std::string& name) {
  return std::string(PARLEY_VECTORS_DIR) + "/" + name + ".hex";
}

TEST(Vectors, FilesHoldTheEncoderOutput) {
  for (const auto& v : all_vectors()) {
    SCOPED_TRACE(v.name);
    EXPECT_EQ(read_file(vector_path(v.name)), to_hex(v.bytes));
  }
}

TEST(Vectors, ManifestListsEveryVector) {
  EXPECT_EQ(read_file(std::string(PARLEY_VECTORS_DIR) + "/manifest.txt"), manifest(all_vectors()));
}

TEST(Vectors, EachFileDecodesAsTheManifestSays) {
  std::map<std::string, test_vector> by_name;
  for (auto& v : all_vectors()) by_name.emplace(v.name, v);
  std::istringstream lines(read_file(std::string(PARLEY_VECTORS_DIR) + "/manifest.txt"));
  std::string line;
  std::size_t checked = 0;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name;
    std::string expectation;
    fields >> name >> expectation;
    SCOPED_TRACE(name);
    const std::optional<std::string> bytes = from_hex(read_file(vector_path(name)));
    ASSERT_TRUE(bytes.has_value());
    const proto::decode_result r = proto::decode_frame(*bytes);
    if (expectation == "ok") {
      ASSERT_TRUE(r) << r.error->detail;
      ASSERT_TRUE(by_name.count(name));
      EXPECT_EQ(r.messages, by_name.at(name).values);
      std::string again;
      for (const auto& m : r.messages) proto::encode(m, again);
      if (name != "unknown_type") {  // an unknown type's body is not kept, so not re-encoded
        EXPECT_EQ(again, *bytes);
      }
    } else {
      ASSERT_FALSE(r);
      EXPECT_EQ(errc_name(r.error->code), expectation) << r.error->detail;
    }
    ++checked;
  }
  EXPECT_EQ(checked, all_vectors().size());
}

TEST(Vectors, ProtocolPageShowsEveryVectorVerbatim) {
  const std::string page = read_file(PARLEY_PROTOCOL_MD);
  for (const auto& v : all_vectors()) {
    if (v.bytes.empty()) continue;
    SCOPED_TRACE(v.name);
    EXPECT_NE(page.find("```text " + v.name + ".hex\n" + to_hex(v.bytes) + "```"), std::string::npos);
    if (!v.failure) {
      EXPECT_NE(page.find("```text\n" + notation(v.bytes) + "```"), std::string::npos);
    }
  }
}

TEST(Vectors, OneVectorPerMessageType) {
  const auto vectors = all_vectors();
  for (std::uint32_t type = 1; type <= static_cast<std::uint32_t>(proto::msg_type::add_member); ++type) {
    const std::string name(proto::type_name(type));
    EXPECT_TRUE(std::any_of(vectors.begin(), vectors.end(),
                            [&](const test_vector& v) { return v.name == name; }))
        << name;
  }
}

}  // namespace
}  // namespace parley::test
