#pragma once
// A callback receiver that holds every POST it gets until release() (or 30 s), counting
// how many it holds at once: what tests of a slow receiver read their evidence from.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>

#include "tests/support/server_thread.h"

namespace gust::test {

class HoldingReceiver {
 public:
  HoldingReceiver() {
    http_.server().Post(R"(/.*)", [this](const httplib::Request&, httplib::Response& res) {
      std::unique_lock lock(mutex_);
      most_held_ = std::max(most_held_, ++held_);
      released_.wait_for(lock, std::chrono::seconds(30), [this] { return release_; });
      --held_;
      res.status = 204;
    });
    http_.start();
  }
  ~HoldingReceiver() { release(); }  // before http_ stops, which waits for its handlers

  std::string url(const std::string& path) const { return http_.url() + path; }
  int held() {
    std::lock_guard lock(mutex_);
    return held_;
  }
  int mostHeld() {
    std::lock_guard lock(mutex_);
    return most_held_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      release_ = true;
    }
    released_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable released_;
  bool release_ = false;
  int held_ = 0;
  int most_held_ = 0;
  ServerThread http_;  // last: stopped before what its handler uses is destroyed
};

}  // namespace gust::test
