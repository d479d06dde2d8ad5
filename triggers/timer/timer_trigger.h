#pragma once
// The timer trigger: one TimerScheduler for every timer function of every app, firing
// Invocations through the dispatcher and mapping each Outcome to a run result (logged and
// counted by the scheduler; a failed run never stops the schedule).
//
// Owning thread: the loop thread. Owned by the Host; close() calls back once closed.

#include <filesystem>
#include <functional>
#include <memory>

#include "runtime/dispatcher.h"
#include "runtime/ids.h"
#include "triggers/timer/timer_scheduler.h"

namespace gust {

class TimerTrigger {
 public:
  TimerTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, std::filesystem::path state_file);

  // Loads the persisted state (the last instant each timer handled).
  Result<void> load();
  // Adds every timer function of `app`; fails on an invalid schedule or time zone.
  Result<void> addApp(const AppInfo& app);
  void start() { scheduler_.start(); }

  // Runs APP/FUNCTION's timer now (gust invoke --timer); `done` gets the outcome.
  Result<void> runNow(const std::string& id, std::function<void(TimerRunResult)> done);

  const TimerScheduler& scheduler() const { return scheduler_; }
  size_t count() const { return count_; }
  void close(std::function<void()> on_closed) { scheduler_.close(std::move(on_closed)); }

 private:
  void run(const TimerEvent& event, std::function<void(TimerRunResult)> done);

  Dispatcher& dispatcher_;
  IdGenerator ids_;
  TimerStateStore state_;
  TimerScheduler scheduler_;
  size_t count_ = 0;
};

}  // namespace gust
