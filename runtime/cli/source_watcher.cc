#include "runtime/cli/source_watcher.h"

#include <algorithm>

namespace gust::cli {
namespace fs = std::filesystem;

bool isWatchedSource(const fs::path& path) {
  static const std::vector<std::string> kExtensions = {".cpp", ".cc", ".cxx", ".c", ".h", ".hpp", ".hh", ".hxx", ".inl"};
  std::string name = path.filename().string();
  if (name == "gust.json" || name == "meson.build" || name == "meson_options.txt" || name == "meson.options") return true;
  if (!name.empty() && name[0] == '.') return false;  // editor swap and backup files
  return std::find(kExtensions.begin(), kExtensions.end(), path.extension().string()) != kExtensions.end();
}

SourceSnapshot SourceSnapshot::take(const fs::path& dir) {
  SourceSnapshot snapshot;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& entry = *it;
    std::string name = entry.path().filename().string();
    std::error_code entry_ec;
    if (entry.is_directory(entry_ec)) {
      if ((it.depth() == 0 && name == "build") || (!name.empty() && name[0] == '.') || it.depth() >= kMaxDepth) {
        it.disable_recursion_pending();
      }
      continue;
    }
    if (!entry.is_regular_file(entry_ec) || !isWatchedSource(entry.path())) continue;
    File f;
    f.path = entry.path().lexically_relative(dir).string();
    f.mtime = entry.last_write_time(entry_ec);
    f.size = entry.file_size(entry_ec);
    if (entry_ec) continue;  // gone between listing and reading: the next snapshot sees it
    snapshot.files_.push_back(std::move(f));
    if (snapshot.files_.size() >= kMaxFiles) break;
  }
  std::sort(snapshot.files_.begin(), snapshot.files_.end(), [](const File& a, const File& b) { return a.path < b.path; });
  return snapshot;
}

std::vector<std::string> SourceSnapshot::changedSince(const SourceSnapshot& before) const {
  std::vector<std::string> changed;
  size_t i = 0, j = 0;
  while (i < before.files_.size() || j < files_.size()) {
    if (j == files_.size() || (i < before.files_.size() && before.files_[i].path < files_[j].path)) {
      changed.push_back(before.files_[i++].path);  // removed
    } else if (i == before.files_.size() || files_[j].path < before.files_[i].path) {
      changed.push_back(files_[j++].path);  // added
    } else {
      if (!(before.files_[i] == files_[j])) changed.push_back(files_[j].path);
      ++i, ++j;
    }
  }
  return changed;
}

}  // namespace gust::cli
