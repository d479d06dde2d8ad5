#include "runtime/cli/progress_line.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace gust::cli {

bool ProgressLine::stderrIsTerminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDERR_FILENO) == 1 && term != nullptr && std::strcmp(term, "dumb") != 0;
}

ProgressLine::ProgressLine(Text text, std::chrono::milliseconds after, std::chrono::milliseconds every)
    : terminal_(stderrIsTerminal()) {
  thread_ = std::thread([this, text = std::move(text), after, every] { run(std::move(text), after, every); });
}

void ProgressLine::run(Text text, std::chrono::milliseconds after, std::chrono::milliseconds every) {
  const auto started = std::chrono::steady_clock::now();
  const auto period = terminal_ ? std::chrono::milliseconds(1000) : every;
  auto next = started + after;
  std::unique_lock lock(mutex_);
  while (!done_cv_.wait_until(lock, next, [this] { return done_; })) {
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started);
    std::string line = text(elapsed);
    if (terminal_) {
      std::fprintf(stderr, "\r%s\033[K", line.c_str());
      shown_ = true;
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    std::fflush(stderr);
    next += period;
  }
}

ProgressLine::~ProgressLine() {
  {
    std::lock_guard lock(mutex_);
    done_ = true;
  }
  done_cv_.notify_all();
  thread_.join();
  if (shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }
}

}  // namespace gust::cli
