#pragma once
// What `gust dev` watches: the app's sources, headers and build files, as a snapshot of
// paths, sizes and modification times. Polling snapshots (rather than inotify) sees every
// way an editor saves, including writing a temp file and renaming it over the original,
// and costs little for a project of a few hundred files.

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace gust::cli {

class SourceSnapshot {
 public:
  // The files under `dir` a build reads, skipping build/, .gust/ and hidden folders. At most
  // kMaxFiles files and kMaxDepth levels, so a stray huge tree cannot stall the loop.
  static constexpr size_t kMaxFiles = 10'000;
  static constexpr int kMaxDepth = 8;
  static SourceSnapshot take(const std::filesystem::path& dir);

  bool operator==(const SourceSnapshot& other) const { return files_ == other.files_; }
  bool operator!=(const SourceSnapshot& other) const { return !(*this == other); }

  // Paths (relative to the dir) added, removed or changed between `before` and this one.
  std::vector<std::string> changedSince(const SourceSnapshot& before) const;
  size_t size() const { return files_.size(); }

 private:
  struct File {
    std::string path;
    std::filesystem::file_time_type mtime;
    uintmax_t size = 0;
    bool operator==(const File& o) const { return path == o.path && mtime == o.mtime && size == o.size; }
  };
  std::vector<File> files_;  // sorted by path
};

// True for files a build reads: C and C++ sources and headers, gust.json, meson files.
bool isWatchedSource(const std::filesystem::path& path);

}  // namespace gust::cli
