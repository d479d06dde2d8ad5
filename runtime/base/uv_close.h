#pragma once
// Helpers for the rule "one owner per libuv handle, freed after its close callback"
// (STYLE 1). An owner with several handles closes them through a CloseCounter and is told
// once, after the last close callback, that it may be freed.

#include <uv.h>

#include <functional>

namespace gust {

class CloseCounter {
 public:
  // Closes each open handle in `handles` (null entries and closing ones are skipped) and
  // runs `done` once every close callback has run, or at once if none was open. Each
  // handle's `data` is overwritten.
  void closeAll(std::initializer_list<uv_handle_t*> handles, std::function<void()> done) {
    done_ = std::move(done);
    pending_ = 1;  // held until the loop below finished, so `done` cannot run early
    for (uv_handle_t* h : handles) {
      if (h == nullptr || h->loop == nullptr || uv_is_closing(h)) continue;
      ++pending_;
      h->data = this;
      uv_close(h, [](uv_handle_t* handle) { static_cast<CloseCounter*>(handle->data)->release(); });
    }
    release();
  }

 private:
  void release() {
    if (--pending_ == 0 && done_) {
      auto done = std::move(done_);
      done();  // may free the owner of this counter: touch nothing after it
    }
  }
  int pending_ = 0;
  std::function<void()> done_;
};

}  // namespace gust
