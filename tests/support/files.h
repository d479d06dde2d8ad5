#pragma once
// Whole-file reads and writes for tests, shared by the unit and integration tests.

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace gust::test {

// The file's bytes; empty when it cannot be read.
inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Writes `text` to `p`, creating its directories.
inline void writeFile(const std::filesystem::path& p, const std::string& text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

}  // namespace gust::test
