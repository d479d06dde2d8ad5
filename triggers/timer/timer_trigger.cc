#include "triggers/timer/timer_trigger.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "gust/abi.h"

namespace gust {

TimerTrigger::TimerTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher,
                           std::filesystem::path state_file)
    : dispatcher_(dispatcher),
      state_(std::move(state_file)),
      scheduler_(loop, clock, state_, [this](const TimerEvent& event, std::function<void(TimerRunResult)> done) {
        run(event, std::move(done));
      }) {}

Result<void> TimerTrigger::load() { return state_.load(); }

Result<void> TimerTrigger::checkApp(const AppInfo& app) const {
  for (const auto& f : app.manifest.functions) {
    if (!f.timer) continue;
    if (auto schedule = CronSchedule::parse(f.timer->schedule, f.timer->time_zone); !schedule) {
      return makeError(ErrorKind::kBadInput,
                       "app " + app.manifest.name + ", function " + f.name + ", timer: " + schedule.error().message);
    }
  }
  return {};
}

Result<void> TimerTrigger::addApp(const AppInfo& app) {
  const std::string prefix = app.manifest.name + "/";
  std::map<std::string, std::pair<std::string, CronSchedule>> wanted;
  for (const auto& f : app.manifest.functions) {
    if (!f.timer) continue;
    auto schedule = CronSchedule::parse(f.timer->schedule, f.timer->time_zone);
    if (!schedule) {
      return makeError(ErrorKind::kBadInput,
                       "app " + app.manifest.name + ", function " + f.name + ", timer: " + schedule.error().message);
    }
    wanted.emplace(prefix + f.name, std::pair{f.timer->schedule + " " + f.timer->time_zone, std::move(*schedule)});
  }
  for (auto it = schedules_.lower_bound(prefix); it != schedules_.end() && it->first.starts_with(prefix);) {
    auto w = wanted.find(it->first);
    if (w != wanted.end() && w->second.first == it->second) {
      wanted.erase(w);  // unchanged: leave it running
      ++it;
      continue;
    }
    scheduler_.remove(it->first);
    it = schedules_.erase(it);
  }
  for (auto& [id, spec] : wanted) {
    bool on_startup = false;
    for (const auto& f : app.manifest.functions) {
      if (prefix + f.name == id) on_startup = f.timer->run_on_startup;
    }
    if (auto added = scheduler_.add(TimerSpec{id, std::move(spec.second), on_startup}); !added) return added;
    schedules_[id] = spec.first;
  }
  return {};
}

void TimerTrigger::removeApp(const std::string& name) {
  const std::string prefix = name + "/";
  for (auto it = schedules_.lower_bound(prefix); it != schedules_.end() && it->first.starts_with(prefix);) {
    scheduler_.remove(it->first);
    it = schedules_.erase(it);
  }
}

Result<void> TimerTrigger::runNow(const std::string& id, std::function<void(TimerRunResult)> done) {
  return scheduler_.runNow(id, std::move(done));
}

void TimerTrigger::run(const TimerEvent& event, std::function<void(TimerRunResult)> done) {
  if (!claim_ || event.manual) return invoke(event, std::move(done));
  claim_(event.timer, event.scheduled, [this, event, done = std::move(done)](Result<bool> won) mutable {
    if (!won) {
      // Firing without the claim could fire the point twice; the hosts that reach the
      // backend fire it.
      return done({TimerRunStatus::kOverloaded, "not fired here: " + won.error().message});
    }
    if (!*won) return done({TimerRunStatus::kElsewhere, "another host fired this point"});
    invoke(event, std::move(done));
  });
}

void TimerTrigger::invoke(const TimerEvent& event, std::function<void(TimerRunResult)> done) {
  auto slash = event.timer.find('/');
  Invocation inv;
  inv.id = ids_.next();
  inv.app = event.timer.substr(0, slash);
  inv.function = event.timer.substr(slash + 1);
  inv.payload.trigger = GUST_TRIGGER_TIMER;
  inv.payload.body = toJson(event);
  inv.payload.headers.emplace_back("Content-Type", "application/json");
  if (Telemetry* telemetry = dispatcher_.telemetry(); telemetry != nullptr && !event.manual) {
    // How long after its instant the run started: a loaded loop or a host that was down.
    std::chrono::duration<double> late = event.actual - event.scheduled;
    telemetry->metrics().timer_lateness->labels({inv.app, inv.function}).observe(std::max(0.0, late.count()));
  }
  std::string id = inv.id;
  dispatcher_.invoke(std::move(inv), [done = std::move(done), id](Outcome&& o) {
    TimerRunResult result;
    switch (o.kind) {
      case OutcomeKind::kOk:
        result.status = o.status < 400 ? TimerRunStatus::kOk : TimerRunStatus::kError;
        if (o.status >= 400) result.detail = "the function answered with status " + std::to_string(o.status);
        break;
      case OutcomeKind::kFunctionError:
      case OutcomeKind::kNotFound:
      case OutcomeKind::kConflict:
        result.status = TimerRunStatus::kError;
        break;
      case OutcomeKind::kCrashed:
        result.status = TimerRunStatus::kCrashed;
        break;
      case OutcomeKind::kTimedOut:
        result.status = TimerRunStatus::kTimeout;
        break;
      case OutcomeKind::kOverloaded:
      case OutcomeKind::kUnavailable:
        result.status = TimerRunStatus::kOverloaded;
        break;
    }
    if (result.detail.empty()) result.detail = o.message;
    result.detail += (result.detail.empty() ? "" : " ") + std::string("(invocation ") + id + ")";
    done(std::move(result));
  });
}

}  // namespace gust
