// protocol_vectors DIR: (re)writes DIR/<name>.hex and DIR/manifest.txt from samples.cpp.
// protocol_vectors --notation: prints each valid vector's values as docs/PROTOCOL.md shows them.
// Run it after a deliberate wire change, then update docs/PROTOCOL.md from the files;
// protocol_test fails until both agree with the encoder.
#include "samples.hpp"

#include <fstream>
#include <iostream>
#include <string_view>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: protocol_vectors <tests/vectors dir> | --notation\n";
    return 2;
  }
  if (std::string_view(argv[1]) == "--notation") {
    for (const auto& v : parley::test::all_vectors()) {
      if (!v.failure) std::cout << "== " << v.name << "\n" << parley::test::notation(v.bytes);
    }
    return 0;
  }
  const std::string dir = argv[1];
  const auto write = [&](const std::string& file, const std::string& text) {
    std::ofstream out(dir + "/" + file, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) {
      std::cerr << "cannot write " << dir << "/" << file << "\n";
      return false;
    }
    return true;
  };
  const auto vectors = parley::test::all_vectors();
  for (const auto& v : vectors) {
    if (!write(v.name + ".hex", parley::test::to_hex(v.bytes))) return 1;
  }
  if (!write("manifest.txt", parley::test::manifest(vectors))) return 1;
  std::cout << "wrote " << vectors.size() << " vectors to " << dir << "\n";
  return 0;
}
