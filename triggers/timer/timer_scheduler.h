#pragma once
// The timer trigger: runs many cron timers on one libuv loop.
//
// Contract
//   Owning thread: the loop's thread. Every method, and the done callbacks handed to the
//   TimerRunFn, must be called there.
//   Lifetime: TimerScheduler owns one timerfd and its uv_poll_t. After close(), run the loop until
//   on_closed has run; only then may the scheduler be destroyed (the destructor asserts
//   it). A done callback that arrives after close() or after destruction is harmless: it
//   only finishes the bookkeeping of its run.
//   After close(): add() and runNow() fail; tick() and start() do nothing.
//
// Rules
//   - One timerfd, armed for the earliest next instant, computed from Clock::wallNow() with
//     microsecond precision; on wake-up every timer whose instant is <= now fires. The wait
//     is capped at kMaxTimerWait so that a jump of the system clock is noticed within that
//     time.
//   - Never overlapping: when a timer's instant comes while its previous run (scheduled or
//     manual) has not called done, that instant is skipped and counted, not queued.
//   - Missed instants are coalesced: if more than one instant passed since the last one
//     handled (an outage, a suspend, a forward clock jump), the timer fires once, with
//     past_due = true and `scheduled` = the latest missed instant.
//   - An instant never fires twice: after a backward clock jump the next instant is
//     recomputed from max(now, last handled instant).
//   - After each fire or skip the instant is persisted as handled in the TimerStateStore
//     (blocking file I/O on the loop thread: one small file, written once per fire).
//   - Failures (status != kOk) are logged with spdlog and counted; the schedule goes on.
//   - A timer with no saved state gets the start instant saved as its baseline, so an
//     outage before its first fire is still detected next time.
//   - A schedule with no instant within kCronSearchHorizon ("0 0 30 2 *") never fires; a
//     warning says so when the timer starts.
//   - @every schedules are anchored at the last handled instant, or at start() for a timer
//     seen for the first time, so intervals keep their grid across restarts.

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "runtime/base/clock.h"
#include "runtime/base/result.h"
#include "runtime/base/uv_close.h"
#include "runtime/base/cron.h"

namespace gust {

inline constexpr std::chrono::milliseconds kMaxTimerWait{60'000};

// What a timer function receives as its body (see toJson).
struct TimerEvent {
  std::string timer;  // "app/function"
  std::chrono::system_clock::time_point scheduled;
  std::chrono::system_clock::time_point actual;
  bool past_due = false;
  std::optional<std::chrono::system_clock::time_point> next;
  bool manual = false;  // gust invoke --timer
};

// {"timer","scheduled","actual","past_due","next","manual"}; times are ISO 8601 UTC with
// milliseconds, next is null when the schedule has no further instant.
std::string toJson(const TimerEvent& event);

struct TimerSpec {
  std::string id;  // "app/function"
  CronSchedule schedule;
  bool run_on_startup = false;
};

// kElsewhere: another host of the cluster fired this point (triggers/timer/timer_trigger.h).
enum class TimerRunStatus { kOk, kError, kCrashed, kTimeout, kOverloaded, kElsewhere };
const char* toString(TimerRunStatus status);

struct TimerRunResult {
  TimerRunStatus status = TimerRunStatus::kOk;
  std::string detail;
};

// The host dispatches the invocation and calls done exactly once, on the loop thread.
using TimerRunFn = std::function<void(const TimerEvent&, std::function<void(TimerRunResult)> done)>;

// Remembers, per timer id, the last scheduled instant that was handled, in a small JSON file:
//   {"version":1,"timers":{"app/fn":{"last_handled":"2026-03-29T01:00:00.000Z"}}}
// Writes are atomic (temporary file, fsync, rename, fsync of the directory). A value type
// apart from the file it names; used from one thread.
class TimerStateStore {
 public:
  explicit TimerStateStore(std::filesystem::path file);

  // Reads the file. A missing file is an empty state; an unreadable or corrupt one is an
  // error that names the file and the problem (the state is then empty).
  Result<void> load();

  std::optional<std::chrono::system_clock::time_point> lastHandled(const std::string& id) const;
  // Records the instant and rewrites the file.
  Result<void> setLastHandled(const std::string& id, std::chrono::system_clock::time_point instant);

  const std::filesystem::path& path() const { return file_; }

 private:
  Result<void> save() const;

  std::filesystem::path file_;
  std::map<std::string, std::chrono::system_clock::time_point> last_handled_;
};

class TimerScheduler {
 public:
  struct Stats {
    std::uint64_t runs = 0;             // scheduled, startup, past-due and manual runs started
    std::uint64_t skipped_overlap = 0;  // instants skipped because a run was still going
    std::uint64_t failures = 0;         // runs whose done reported status != kOk
    std::uint64_t past_due = 0;         // runs fired with past_due = true
    std::uint64_t elsewhere = 0;        // of the runs, points another host of the cluster fired
  };

  TimerScheduler(uv_loop_t* loop, const Clock& clock, TimerStateStore& state, TimerRunFn run);
  ~TimerScheduler();
  TimerScheduler(const TimerScheduler&) = delete;
  TimerScheduler& operator=(const TimerScheduler&) = delete;

  // Refuses a duplicate id, and any id after close(). Added after start(), the timer starts
  // at once, as it would have in start().
  Result<void> add(TimerSpec spec);

  // Stops a timer; a run in flight finishes, but its result is no longer recorded. The
  // persisted last-handled instant stays, so a timer added again later picks up from it.
  void remove(const std::string& id);

  // Computes next instants, fires past-due and run_on_startup timers once each, arms the
  // uv timer. Calling it twice does nothing the second time.
  void start();

  // Runs a timer now, outside its schedule (manual = true; the state is not touched).
  // Fails without calling done for an unknown id (kNotFound), while a run of that timer is
  // in flight (kConflict) or after close (kUnavailable); otherwise done is called exactly once.
  Result<void> runNow(const std::string& id, std::function<void(TimerRunResult)> done);

  // Fires every timer whose instant is <= Clock::wallNow() and re-arms the uv timer. Called
  // by the uv timer, and by tests after they move a fake clock.
  void tick();

  Stats stats(const std::string& id) const;  // zeros for an unknown id
  std::optional<std::chrono::system_clock::time_point> nextFire(const std::string& id) const;
  bool running(const std::string& id) const;

  // Stops all timers and closes the uv handle; on_closed runs from the close callback.
  void close(std::function<void()> on_closed);

 private:
  struct Entry {
    explicit Entry(TimerSpec s) : spec(std::move(s)) {}
    TimerSpec spec;
    std::optional<std::chrono::system_clock::time_point> next;
    std::chrono::system_clock::time_point computed_from;  // `after` used for next
    std::optional<std::chrono::system_clock::time_point> last_handled;
    bool running = false;
    std::uint64_t run_seq = 0;  // identifies the run a done callback belongs to
    std::chrono::system_clock::time_point running_scheduled;
    Stats stats;
  };

  void startEntry(const std::shared_ptr<Entry>& entry, std::chrono::system_clock::time_point now);
  void schedule(Entry& entry, std::chrono::system_clock::time_point now);
  void fire(const std::shared_ptr<Entry>& entry, std::chrono::system_clock::time_point scheduled,
            std::chrono::system_clock::time_point now, bool past_due, bool manual,
            std::function<void(TimerRunResult)> on_done);
  void markHandled(Entry& entry, std::chrono::system_clock::time_point instant);
  void arm();
  static void onTimer(uv_poll_t* handle, int status, int events);

  uv_loop_t* loop_;
  const Clock& clock_;
  TimerStateStore& state_;
  TimerRunFn run_;
  uv_poll_t timer_{};
  int timer_fd_ = -1;
  // shared_ptr so a done callback can find out, through a weak_ptr, whether its entry (and
  // so this scheduler) still exists.
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  bool started_ = false;
  bool closing_ = false;
  bool closed_ = false;
  CloseCounter closer_;
};

}  // namespace gust
