#pragma once
// The timer trigger: one TimerScheduler for every timer function of every app, firing
// Invocations through the dispatcher and mapping each Outcome to a run result (logged and
// counted by the scheduler; a failed run never stops the schedule).
//
// Owning thread: the loop thread. Owned by the Host; close() calls back once closed.

#include <filesystem>
#include <functional>
#include <map>
#include <memory>

#include "runtime/exec/dispatcher.h"
#include "runtime/base/ids.h"
#include "triggers/timer/timer_scheduler.h"
#include "triggers/trigger.h"

namespace gust {

class TimerTrigger final : public Trigger {
 public:
  TimerTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, std::filesystem::path state_file);

  // Loads the persisted state (the last instant each timer handled).
  Result<void> load();
  // Adds every timer function of `app`, replacing those of an earlier version of it: a
  // timer whose schedule is unchanged keeps running as it was. Fails on an invalid schedule
  // or time zone, and then changes nothing.
  Result<void> addApp(const AppInfo& app) override;
  // Every schedule and time zone of `app` is valid.
  Result<void> checkApp(const AppInfo& app) const override;
  void removeApp(const std::string& name) override;
  const char* name() const override { return "timers"; }
  void start() { scheduler_.start(); }

  // Who fires a point when other hosts run the same timers (runtime/store/redis_timer_claims.h):
  // asked before each scheduled run, which goes ahead only when `won` is true. Manual runs
  // are not asked. Unset (one host): every point fires here.
  using PointClaim = std::function<void(const std::string& timer, std::chrono::system_clock::time_point point,
                                        UniqueFunction<void(Result<bool>)> won)>;
  void setPointClaim(PointClaim claim) { claim_ = std::move(claim); }

  // Runs APP/FUNCTION's timer now (gust invoke --timer); `done` gets the outcome.
  Result<void> runNow(const std::string& id, std::function<void(TimerRunResult)> done);

  const TimerScheduler& scheduler() const { return scheduler_; }
  size_t count() const { return schedules_.size(); }
  void close(std::function<void()> on_closed) { scheduler_.close(std::move(on_closed)); }

 private:
  void run(const TimerEvent& event, std::function<void(TimerRunResult)> done);
  void invoke(const TimerEvent& event, std::function<void(TimerRunResult)> done);

  Dispatcher& dispatcher_;
  PointClaim claim_;
  IdGenerator ids_;
  TimerStateStore state_;
  TimerScheduler scheduler_;
  // id ("app/function") -> its schedule and time zone, as the manifest wrote them.
  std::map<std::string, std::string> schedules_;
};

}  // namespace gust
