#include "triggers/timer/timer_trigger.h"

#include <spdlog/spdlog.h>

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

Result<void> TimerTrigger::addApp(const AppInfo& app) {
  for (const auto& f : app.manifest.functions) {
    if (!f.timer) continue;
    auto schedule = CronSchedule::parse(f.timer->schedule, f.timer->time_zone);
    if (!schedule) {
      return makeError(ErrorKind::kBadInput,
                       "app " + app.manifest.name + ", function " + f.name + ", timer: " + schedule.error().message);
    }
    TimerSpec spec{app.manifest.name + "/" + f.name, std::move(*schedule), f.timer->run_on_startup};
    if (auto added = scheduler_.add(std::move(spec)); !added) return added;
    ++count_;
  }
  return {};
}

Result<void> TimerTrigger::runNow(const std::string& id, std::function<void(TimerRunResult)> done) {
  return scheduler_.runNow(id, std::move(done));
}

void TimerTrigger::run(const TimerEvent& event, std::function<void(TimerRunResult)> done) {
  auto slash = event.timer.find('/');
  Invocation inv;
  inv.id = ids_.next();
  inv.app = event.timer.substr(0, slash);
  inv.function = event.timer.substr(slash + 1);
  inv.payload.trigger = GUST_TRIGGER_TIMER;
  inv.payload.body = toJson(event);
  inv.payload.headers.emplace_back("Content-Type", "application/json");
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
