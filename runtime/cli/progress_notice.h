#pragma once
// A progress line for a step that may take a while ("building…"): printed on stderr only
// if the step is still running after a moment, so fast steps stay quiet.
//
// Owns one thread for its lifetime; construct and destroy it on the same thread.

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

namespace gust::cli {

class ProgressNotice {
 public:
  explicit ProgressNotice(std::string text, std::chrono::milliseconds after = std::chrono::milliseconds(300));
  ~ProgressNotice();  // ends the step: the line is never printed if it was not yet
  ProgressNotice(const ProgressNotice&) = delete;
  ProgressNotice& operator=(const ProgressNotice&) = delete;

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;
};

// "512 B", "3.4 KiB", "1.2 MiB".
std::string formatBytes(size_t bytes);

}  // namespace gust::cli
