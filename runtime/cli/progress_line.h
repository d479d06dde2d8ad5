#pragma once
// A progress line for a step that can take long, such as a compile: nothing for the first
// `after`, then on stderr the step's text with the seconds so far ("building app.so
// (compiling main.cpp, 3 s)…"). On a terminal the line is rewritten in place every second
// and erased when the step ends; elsewhere (a log, CI) it is a new line every `every`, with
// no control characters, so that a log reads as plain text.
//
// Owns one thread for its lifetime; construct and destroy it on the same thread.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gust::cli {

class ProgressLine {
 public:
  using Text = std::function<std::string(std::chrono::seconds elapsed)>;
  explicit ProgressLine(Text text, std::chrono::milliseconds after = std::chrono::seconds(2),
                        std::chrono::milliseconds every = std::chrono::seconds(10));
  ~ProgressLine();  // ends the step (and erases its line on a terminal)
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Whether stderr is a terminal that takes "\r" and erase-line (not TERM=dumb).
  static bool stderrIsTerminal();

 private:
  void run(Text text, std::chrono::milliseconds after, std::chrono::milliseconds every);

  const bool terminal_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  bool shown_ = false;  // on a terminal: a line is on screen, to erase at the end
  std::thread thread_;
};

}  // namespace gust::cli
