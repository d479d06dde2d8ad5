#pragma once
// `GET /v1/apps/{app}/logs?after=SEQ&limit=N&wait=MS`: an app's recent output and log lines
// from the host's LogFanout, as a long poll. With lines after SEQ it answers at once (at
// most N of them, oldest first); otherwise it holds the request until a line arrives or
// `wait` ms pass, and answers with what it has. `next` is the seq to pass as `after` next.
//
// A SEQ above every stored line means the host restarted (seqs start again at 1): the
// answer then starts from the oldest stored line, so a follower never waits forever.
//
// An app holds at most LogFanout's max_subscribers_per_app polls; one more answers the
// oldest (with no lines) to take its place, so followers that hung up cannot lock others out.
//
// Owning thread: the loop thread. Owned by the Host; close() answers every held request
// and calls back once its timers are closed.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "runtime/admin/admin_api.h"
#include "runtime/base/clock.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/observe/logging.h"

namespace gust {

class AdminLogs {
 public:
  static constexpr uint64_t kMaxWaitMs = 30'000;
  static constexpr size_t kDefaultLimit = 100;
  static constexpr size_t kMaxLimit = 1000;

  AdminLogs(uv_loop_t* loop, const Clock& clock, LogFanout& logs, const Dispatcher& dispatcher);
  ~AdminLogs();
  AdminLogs(const AdminLogs&) = delete;
  AdminLogs& operator=(const AdminLogs&) = delete;

  void addRoutes(AdminApi& api);
  void close(std::function<void()> on_closed);

 private:
  struct Waiter;
  void handle(AdminCall&& call);
  // Answers `waiter` with `lines`, stops listening for it and frees it once its timer closed.
  void finish(Waiter* waiter, nlohmann::json lines, uint64_t next);
  // Wakes onTick() after kTickMs, or at the waiter's deadline by the clock if sooner.
  void armTick(Waiter* waiter);
  void onTick(Waiter* waiter);

  uv_loop_t* loop_;
  const Clock& clock_;
  LogFanout& logs_;
  const Dispatcher& dispatcher_;
  std::map<Waiter*, std::unique_ptr<Waiter>> waiters_;
  uint64_t next_order_ = 0;
  size_t closing_timers_ = 0;
  bool closed_ = false;
  std::function<void()> on_closed_;
};

}  // namespace gust
