#include "triggers/timer/timer_scheduler.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <utility>

namespace gust {

namespace {

using SysTime = std::chrono::system_clock::time_point;

std::string isoUtc(SysTime t) { return formatIso8601(t, nullptr, Iso8601Precision::kMillis); }

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

// Writes all of `data` to `fd`, retrying short writes and EINTR.
bool writeAll(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::string toJson(const TimerEvent& event) {
  nlohmann::json j = {
      {"timer", event.timer},
      {"scheduled", isoUtc(event.scheduled)},
      {"actual", isoUtc(event.actual)},
      {"past_due", event.past_due},
      {"next", event.next ? nlohmann::json(isoUtc(*event.next)) : nlohmann::json(nullptr)},
      {"manual", event.manual},
  };
  return j.dump();
}

const char* toString(TimerRunStatus status) {
  switch (status) {
    case TimerRunStatus::kOk: return "ok";
    case TimerRunStatus::kError: return "error";
    case TimerRunStatus::kCrashed: return "crashed";
    case TimerRunStatus::kTimeout: return "timeout";
    case TimerRunStatus::kOverloaded: return "overloaded";
    case TimerRunStatus::kElsewhere: return "elsewhere";
  }
  return "unknown";
}

// ---- TimerStateStore ----

TimerStateStore::TimerStateStore(std::filesystem::path file) : file_(std::move(file)) {}

Result<void> TimerStateStore::load() {
  last_handled_.clear();
  std::error_code ec;
  if (!std::filesystem::exists(file_, ec)) {
    if (ec) return makeError(ErrorKind::kIo, "timer state " + file_.string() + ": " + ec.message());
    return {};
  }
  auto corrupt = [&](const std::string& why) {
    last_handled_.clear();
    return makeError(ErrorKind::kBadInput, "timer state " + file_.string() + " is corrupt: " + why +
                                               " (delete it to start afresh; runs missed before now will not be "
                                               "reported as past due)");
  };
  // A few hundred bytes per timer: anything this large was not written by us.
  constexpr std::uintmax_t kMaxStateBytes = 16u << 20;
  if (std::filesystem::file_size(file_, ec) > kMaxStateBytes && !ec) return corrupt("larger than 16 MiB");
  std::ifstream in(file_, std::ios::binary);
  if (!in) return makeError(ErrorKind::kIo, "timer state " + file_.string() + ": cannot open: " + errnoText(errno));
  std::stringstream buffer;
  buffer << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(buffer.str(), nullptr, false);
  if (j.is_discarded()) return corrupt("not valid JSON");
  if (!j.is_object()) return corrupt("expected a JSON object");
  if (j.contains("version") && j["version"] != 1) return corrupt("unsupported version " + j["version"].dump());
  if (!j.contains("timers")) return {};
  const nlohmann::json& timers = j["timers"];
  if (!timers.is_object()) return corrupt("\"timers\" is not an object");
  for (const auto& [id, value] : timers.items()) {
    if (!value.is_object() || !value.contains("last_handled") || !value["last_handled"].is_string()) {
      return corrupt("timer \"" + id + "\" has no \"last_handled\" string");
    }
    auto instant = parseIso8601(value["last_handled"].get<std::string>());
    if (!instant.ok()) return corrupt("timer \"" + id + "\": " + instant.error().message);
    last_handled_[id] = *instant;
  }
  return {};
}

std::optional<SysTime> TimerStateStore::lastHandled(const std::string& id) const {
  auto it = last_handled_.find(id);
  if (it == last_handled_.end()) return std::nullopt;
  return it->second;
}

Result<void> TimerStateStore::setLastHandled(const std::string& id, SysTime instant) {
  last_handled_[id] = instant;
  return save();
}

Result<void> TimerStateStore::save() const {
  nlohmann::json timers = nlohmann::json::object();
  for (const auto& [id, instant] : last_handled_) timers[id] = {{"last_handled", isoUtc(instant)}};
  std::string text = nlohmann::json{{"version", 1}, {"timers", timers}}.dump(2) + "\n";

  // Write a temporary file, make it durable, then rename it over the old one, so a crash
  // leaves either the old state or the new one, never half a file.
  std::filesystem::path tmp = file_;
  tmp += ".tmp";
  auto fail = [&](const std::string& what, int err) {
    return makeError(ErrorKind::kIo, "timer state " + file_.string() + ": " + what + ": " + errnoText(err));
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return fail("cannot create " + tmp.string(), errno);
  if (!writeAll(fd, text)) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail("cannot write", err);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return fail("cannot fsync", err);
  }
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail("cannot close", err);
  }
  if (::rename(tmp.c_str(), file_.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return fail("cannot rename", err);
  }
  // The rename itself is durable only once the directory is synced.
  std::filesystem::path dir = file_.parent_path();
  if (dir.empty()) dir = ".";
  int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return {};
}

// ---- TimerScheduler ----

TimerScheduler::TimerScheduler(uv_loop_t* loop, const Clock& clock, TimerStateStore& state, TimerRunFn run)
    : loop_(loop), clock_(clock), state_(state), run_(std::move(run)) {
  // A timerfd, not a uv timer: libuv's loop time comes from a coarse clock (a few ms per
  // tick here), and a timer should fire within a fraction of a millisecond of its instant.
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  assert(timer_fd_ >= 0);  // fails only when the process is out of file descriptors at start
  uv_poll_init(loop_, &timer_, timer_fd_);
  timer_.data = this;
}

TimerScheduler::~TimerScheduler() {
  // The handle is part of this object; libuv still points at it until the close callback.
  assert(closed_ && "TimerScheduler destroyed before close() completed");
}

Result<void> TimerScheduler::add(TimerSpec spec) {
  if (closing_) return makeError(ErrorKind::kUnavailable, "timer scheduler is closed");
  if (entries_.count(spec.id) != 0) {
    return makeError(ErrorKind::kBadInput, "timer \"" + spec.id + "\" is already registered");
  }
  std::string id = spec.id;
  auto entry = std::make_shared<Entry>(std::move(spec));
  entries_.emplace(std::move(id), entry);
  if (started_) {
    startEntry(entry, clock_.wallNow());
    arm();
  }
  return {};
}

void TimerScheduler::remove(const std::string& id) {
  if (entries_.erase(id) == 0 || !started_ || closing_) return;
  arm();
}

void TimerScheduler::start() {
  if (started_ || closing_) return;
  started_ = true;
  SysTime now = clock_.wallNow();
  for (auto& [id, entry] : entries_) {
    if (closing_) return;  // a run function may close the scheduler
    startEntry(entry, now);
  }
  arm();
}

void TimerScheduler::startEntry(const std::shared_ptr<Entry>& entry, SysTime now) {
  const std::string& id = entry->spec.id;
  std::optional<SysTime> last = state_.lastHandled(id);
  if (entry->spec.schedule.isInterval()) {
    entry->spec.schedule = entry->spec.schedule.withAnchor(last ? *last : now);
  }
  bool past_due = false;
  if (last) {
    auto first_missed = entry->spec.schedule.next(*last);
    past_due = first_missed && *first_missed <= now;
  } else {
    // A baseline: instants after it are owed, so an outage before the first fire counts.
    markHandled(*entry, now);
  }
  entry->last_handled = last ? last : std::optional<SysTime>(now);
  schedule(*entry, now);
  if (!entry->next) {
    spdlog::warn("timer {}: schedule \"{}\" has no instant in the next five years; it will not fire", id,
                 entry->spec.schedule.expression());
  }

  if (past_due) {
    // Every instant in (last, now] was missed; fire once for all of them, naming the latest.
    SysTime latest = entry->spec.schedule.previous(now).value_or(now);
    spdlog::info("timer {}: past due (last handled {}, latest missed {}); running once now", id, isoUtc(*last),
                 isoUtc(latest));
    markHandled(*entry, latest);
    fire(entry, latest, now, /*past_due=*/true, /*manual=*/false, nullptr);
  } else if (entry->spec.run_on_startup) {
    fire(entry, now, now, /*past_due=*/false, /*manual=*/false, nullptr);
  }
}

void TimerScheduler::schedule(Entry& entry, SysTime now) {
  SysTime after = now;
  if (entry.last_handled && *entry.last_handled > after) after = *entry.last_handled;
  entry.next = entry.spec.schedule.next(after);
  entry.computed_from = now;
}

void TimerScheduler::tick() {
  if (!started_ || closing_) return;
  SysTime now = clock_.wallNow();
  for (auto& [id, entry] : entries_) {
    if (closing_) return;  // a run function may close the scheduler
    if (now < entry->computed_from) {
      // The clock went back: instants between now and the old `after` may lie ahead again.
      // schedule() keeps those already handled from firing twice.
      spdlog::info("timer {}: system clock went back to {}; recomputing", id, isoUtc(now));
      schedule(*entry, now);
    }
    if (!entry->next || *entry->next > now) continue;
    SysTime scheduled = *entry->next;
    bool past_due = false;
    auto following = entry->spec.schedule.next(scheduled);
    if (following && *following <= now) {
      // Several instants passed while we were not looking (suspend, clock jump, a blocked
      // loop): fire once for all of them.
      scheduled = entry->spec.schedule.previous(now).value_or(scheduled);
      past_due = true;
    }
    schedule(*entry, now);
    if (entry->running) {
      ++entry->stats.skipped_overlap;
      spdlog::warn("timer {}: skipping {} because the run for {} has not finished", id, isoUtc(scheduled),
                   isoUtc(entry->running_scheduled));
    } else {
      fire(entry, scheduled, now, past_due, /*manual=*/false, nullptr);
    }
    // Recorded after the run is on its way: the fsync must not delay it. A crash in between
    // makes the next start fire once past due: at least once, never lost.
    markHandled(*entry, scheduled);
  }
  arm();
}

void TimerScheduler::fire(const std::shared_ptr<Entry>& entry, SysTime scheduled, SysTime now, bool past_due,
                          bool manual, std::function<void(TimerRunResult)> on_done) {
  entry->running = true;
  std::uint64_t seq = ++entry->run_seq;
  entry->running_scheduled = scheduled;
  ++entry->stats.runs;
  if (past_due) ++entry->stats.past_due;

  TimerEvent event;
  event.timer = entry->spec.id;
  event.scheduled = scheduled;
  event.actual = now;
  event.past_due = past_due;
  event.next = entry->next;
  event.manual = manual;
  spdlog::debug("timer {}: running for {}{}{}", event.timer, isoUtc(scheduled), past_due ? " (past due)" : "",
                manual ? " (manual)" : "");

  // The done callback holds the entry weakly: it may arrive after the scheduler is gone.
  std::weak_ptr<Entry> weak_entry = entry;
  auto done = [weak_entry, seq, scheduled, on_done = std::move(on_done)](TimerRunResult result) {
    if (auto e = weak_entry.lock()) {
      if (!e->running || e->run_seq != seq) {
        spdlog::error("timer {}: done called more than once for the run at {}", e->spec.id, isoUtc(scheduled));
        return;
      }
      e->running = false;
      if (result.status == TimerRunStatus::kElsewhere) {
        ++e->stats.elsewhere;
      } else if (result.status != TimerRunStatus::kOk) {
        ++e->stats.failures;
        spdlog::warn("timer {}: run for {} failed: {}{}{}", e->spec.id, isoUtc(scheduled), toString(result.status),
                     result.detail.empty() ? "" : ": ", result.detail);
      }
    }
    if (on_done) on_done(std::move(result));
  };
  run_(event, std::move(done));
}

void TimerScheduler::markHandled(Entry& entry, SysTime instant) {
  if (!entry.last_handled || *entry.last_handled < instant) entry.last_handled = instant;
  auto saved = state_.setLastHandled(entry.spec.id, instant);
  if (!saved.ok()) {
    // The schedule goes on; the worst outcome is a past-due run after a restart.
    spdlog::error("timer {}: {}", entry.spec.id, saved.error().message);
  }
}

Result<void> TimerScheduler::runNow(const std::string& id, std::function<void(TimerRunResult)> done) {
  if (closing_) return makeError(ErrorKind::kUnavailable, "timer scheduler is closed");
  auto it = entries_.find(id);
  if (it == entries_.end()) return makeError(ErrorKind::kNotFound, "no timer \"" + id + "\"");
  if (it->second->running) {
    return makeError(ErrorKind::kConflict, "timer \"" + id + "\" is already running");
  }
  SysTime now = clock_.wallNow();
  fire(it->second, now, now, /*past_due=*/false, /*manual=*/true, std::move(done));
  return {};
}

void TimerScheduler::arm() {
  if (closing_) return;
  std::optional<SysTime> earliest;
  for (const auto& [id, entry] : entries_) {
    if (entry->next && (!earliest || *entry->next < *earliest)) earliest = entry->next;
  }
  if (!earliest) {
    uv_poll_stop(&timer_);
    return;
  }
  auto wait = std::chrono::ceil<std::chrono::microseconds>(*earliest - clock_.wallNow());
  wait = std::clamp(wait, std::chrono::microseconds(1), std::chrono::microseconds(kMaxTimerWait));
  itimerspec spec{};
  spec.it_value.tv_sec = static_cast<time_t>(wait.count() / 1'000'000);
  spec.it_value.tv_nsec = static_cast<long>(wait.count() % 1'000'000) * 1000;
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
  uv_poll_start(&timer_, UV_READABLE, &TimerScheduler::onTimer);
}

void TimerScheduler::onTimer(uv_poll_t* handle, int, int) {
  auto* self = static_cast<TimerScheduler*>(handle->data);
  uint64_t expirations = 0;
  ssize_t n = ::read(self->timer_fd_, &expirations, sizeof expirations);
  (void)n;  // EAGAIN when tick() already re-armed it; either way, look at the clock
  self->tick();
}

void TimerScheduler::close(std::function<void()> on_closed) {
  assert(!closing_ && "close() called twice");
  closing_ = true;
  uv_poll_stop(&timer_);
  // `this` outlives the close callback by contract (see the header).
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&timer_)}, [this, on_closed = std::move(on_closed)] {
    ::close(timer_fd_);
    timer_fd_ = -1;
    closed_ = true;
    if (on_closed) on_closed();
  });
}

std::optional<SysTime> TimerScheduler::nextFire(const std::string& id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  return it->second->next;
}

bool TimerScheduler::running(const std::string& id) const {
  auto it = entries_.find(id);
  return it != entries_.end() && it->second->running;
}

TimerScheduler::Stats TimerScheduler::stats(const std::string& id) const {
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  return it->second->stats;
}

}  // namespace gust
