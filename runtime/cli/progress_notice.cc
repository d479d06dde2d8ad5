#include "runtime/cli/progress_notice.h"

#include <algorithm>
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

TransferProgress::TransferProgress(FILE* out, bool terminal, std::string doing, std::string done, size_t total)
    : out_(out), terminal_(terminal), doing_(std::move(doing)), done_(std::move(done)), total_(total) {
  advance(0);
}

void TransferProgress::advance(size_t bytes_so_far) {
  if (!terminal_ || finished_) return;
  size_t sent = std::min(bytes_so_far, total_);
  int percent = total_ == 0 ? 100 : static_cast<int>(sent * 100 / total_);
  if (percent == shown_percent_) return;
  shown_percent_ = percent;
  // \r back to the start, then the line; \033[K clears what a longer line left behind.
  std::fprintf(out_, "\r%s %s of %s (%d%%)\033[K", doing_.c_str(), formatBytes(sent).c_str(),
               formatBytes(total_).c_str(), percent);
  std::fflush(out_);
}

void TransferProgress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) std::fputs("\r\033[K", out_);
  std::fprintf(out_, "%s %s\n", done_.c_str(), formatBytes(total_).c_str());
  std::fflush(out_);
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
