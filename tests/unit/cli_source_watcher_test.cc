#include "runtime/cli/source_watcher.h"

#include <doctest/doctest.h>

#include <thread>

#include "tests/unit/cli_test_support.h"

using namespace gust::cli;
using gust::test::TempDir;
using gust::test::writeFile;
namespace fs = std::filesystem;

namespace {

// File times are fine-grained on the file systems we run on, but a test must not depend on
// two writes landing in different ticks: it moves the time forward explicitly.
void touchLater(const fs::path& p) { fs::last_write_time(p, fs::last_write_time(p) + std::chrono::seconds(1)); }

}  // namespace

TEST_CASE("a snapshot holds the sources, headers and manifest, and skips build output and hidden files") {
  TempDir tmp;
  writeFile(tmp.path() / "gust.json", "{}");
  writeFile(tmp.path() / "main.cpp", "int x;");
  writeFile(tmp.path() / "src" / "util" / "a.hpp", "");
  writeFile(tmp.path() / "README.md", "docs");
  writeFile(tmp.path() / "build" / "gen.cpp", "");
  writeFile(tmp.path() / ".gust" / "dev" / "x.cc", "");
  writeFile(tmp.path() / ".main.cpp.swp", "");
  writeFile(tmp.path() / "main.cpp~", "");
  auto snapshot = SourceSnapshot::take(tmp.path());
  CHECK(snapshot.size() == 3);
  CHECK(snapshot.changedSince(SourceSnapshot{}) == std::vector<std::string>{"gust.json", "main.cpp", "src/util/a.hpp"});
}

TEST_CASE("an edit, a new file, a deleted file and a rename over a file are all changes") {
  TempDir tmp;
  writeFile(tmp.path() / "gust.json", "{}");
  writeFile(tmp.path() / "main.cpp", "int x;");
  writeFile(tmp.path() / "old.cc", "");
  auto before = SourceSnapshot::take(tmp.path());
  CHECK(SourceSnapshot::take(tmp.path()) == before);

  touchLater(tmp.path() / "gust.json");
  auto edited = SourceSnapshot::take(tmp.path());
  CHECK(edited != before);
  CHECK(edited.changedSince(before) == std::vector<std::string>{"gust.json"});

  writeFile(tmp.path() / "new.h", "");
  fs::remove(tmp.path() / "old.cc");
  auto moved = SourceSnapshot::take(tmp.path());
  CHECK(moved.changedSince(edited) == std::vector<std::string>{"new.h", "old.cc"});

  // How editors save: write a temp file beside it, then rename it over the original.
  writeFile(tmp.path() / ".main.cpp.tmp", "int y; // longer");
  fs::rename(tmp.path() / ".main.cpp.tmp", tmp.path() / "main.cpp");
  auto saved = SourceSnapshot::take(tmp.path());
  CHECK(saved.changedSince(moved) == std::vector<std::string>{"main.cpp"});
}

TEST_CASE("a missing folder is an empty snapshot, not an error") {
  TempDir tmp;
  CHECK(SourceSnapshot::take(tmp.path() / "nope").size() == 0);
}

TEST_CASE("only files a build reads are watched") {
  for (const char* yes : {"a.cpp", "a.cc", "a.c", "a.h", "a.hpp", "gust.json", "meson.build", "meson_options.txt"}) {
    CHECK_MESSAGE(isWatchedSource(yes), yes);
  }
  for (const char* no : {"a.o", "a.so", "notes.md", ".a.cpp", "a.cpp~", "a.cpp.swp", "gust.json.bak"}) {
    CHECK_MESSAGE(!isWatchedSource(no), no);
  }
}
