#pragma once
// A progress line for a step that may take a while ("building…"): printed on stderr only
// if the step is still running after a moment, so fast steps stay quiet.
//
// Owns one thread for its lifetime; construct and destroy it on the same thread.

#include <chrono>
#include <condition_variable>
#include <cstdio>
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

// How far a transfer of a known size has gone, on `out` (stderr in the CLI). On a terminal,
// one line rewritten in place with \r as it advances ("uploading 1.5 MiB of 4.0 MiB (37%)"),
// redrawn only when the percentage changes; elsewhere (a log, a pipe, CI) no control
// characters and nothing until finish(), which prints one line ("uploaded 4.0 MiB").
// Not thread-safe: advance and finish from one thread.
class TransferProgress {
 public:
  TransferProgress(FILE* out, bool terminal, std::string doing, std::string done, size_t total);
  void advance(size_t bytes_so_far);
  // The last line; at most once, and not again on destruction.
  void finish();
  ~TransferProgress() { finish(); }
  TransferProgress(const TransferProgress&) = delete;
  TransferProgress& operator=(const TransferProgress&) = delete;

 private:
  FILE* out_;
  bool terminal_;
  std::string doing_, done_;
  size_t total_;
  int shown_percent_ = -1;
  bool finished_ = false;
};

// "512 B", "3.4 KiB", "1.2 MiB".
std::string formatBytes(size_t bytes);

}  // namespace gust::cli
