#include "runtime/cli/progress_notice.h"

#include <cstdio>

namespace gust::cli {

ProgressNotice::ProgressNotice(std::string text, std::chrono::milliseconds after) {
  thread_ = std::thread([this, text = std::move(text), after] {
    std::unique_lock lock(mutex_);
    if (!done_cv_.wait_for(lock, after, [this] { return done_; })) {
      std::fprintf(stderr, "%s\n", text.c_str());
      std::fflush(stderr);
    }
  });
}

ProgressNotice::~ProgressNotice() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  done_cv_.notify_all();
  thread_.join();
}

std::string formatBytes(size_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 2) value /= 1024, ++unit;
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

}  // namespace gust::cli
