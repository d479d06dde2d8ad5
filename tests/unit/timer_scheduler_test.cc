#include "triggers/timer/timer_scheduler.h"

#include <doctest/doctest.h>
#include <uv.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/run_loop.h"
#include "tests/support/temp_dir.h"

namespace gust {
namespace {

using gust::test::TempDir;
using SysTime = std::chrono::system_clock::time_point;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

SysTime at(std::string_view iso) {
  auto t = parseIso8601(iso);
  REQUIRE_MESSAGE(t.ok(), (t.ok() ? "" : t.error().message));
  return *t;
}

std::string iso(SysTime t) { return formatIso8601(t, nullptr, Iso8601Precision::kMillis); }

CronSchedule schedule(std::string_view expr) {
  auto s = CronSchedule::parse(expr);
  REQUIRE(s.ok());
  return *s;
}

// Time moves only when the test says so. Used from the test's one thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(SysTime wall) : wall_(wall) {}
  std::chrono::steady_clock::time_point now() const override { return steady_; }
  SysTime wallNow() const override { return wall_; }
  void set(SysTime wall) {
    if (wall > wall_) steady_ += wall - wall_;
    wall_ = wall;
  }

 private:
  SysTime wall_;
  std::chrono::steady_clock::time_point steady_{};
};

void writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// One loop, a fake clock, a state file in a temp dir, and a scheduler whose run function
// records events and keeps each done callback for the test to call (or not).
struct Harness {
  explicit Harness(std::string_view now) : clock(at(now)), state(dir.path() / "timers.json") {
    REQUIRE(uv_loop_init(&loop) == 0);
  }

  TimerScheduler& make() {
    REQUIRE(state.load().ok());
    scheduler = std::make_unique<TimerScheduler>(&loop, clock, state, [this](const TimerEvent& event, auto done) {
      events.push_back(event);
      if (auto_result) {
        done(*auto_result);
      } else {
        pending.push_back(std::move(done));
      }
    });
    return *scheduler;
  }

  void add(const std::string& id, std::string_view expr, bool run_on_startup = false) {
    auto added = scheduler->add(TimerSpec{id, schedule(expr), run_on_startup});
    REQUIRE(added.ok());
  }

  void tickAt(std::string_view now) {
    clock.set(at(now));
    scheduler->tick();
  }

  void closeScheduler() {
    bool closed = false;
    scheduler->close([&closed] { closed = true; });
    test::runLoopToEnd(&loop, "the scheduler to close");
    CHECK(closed);
    scheduler.reset();
  }

  // Every test ends here: the handle closed, the loop empty.
  void finish() {
    if (scheduler) closeScheduler();
    CHECK(uv_loop_close(&loop) == 0);
  }

  TempDir dir;
  uv_loop_t loop;
  FakeClock clock;
  TimerStateStore state;
  std::unique_ptr<TimerScheduler> scheduler;
  std::vector<TimerEvent> events;
  std::vector<std::function<void(TimerRunResult)>> pending;
  std::optional<TimerRunResult> auto_result = TimerRunResult{TimerRunStatus::kOk, ""};
};

TEST_CASE("a timer fires when the clock reaches its instant and tick runs") {
  Harness h("2026-01-01T12:00:00Z");
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  CHECK(h.events.empty());
  REQUIRE(h.scheduler->nextFire("app/fn").has_value());
  CHECK(iso(*h.scheduler->nextFire("app/fn")) == "2026-01-01T12:05:00.000Z");

  h.tickAt("2026-01-01T12:04:59.999Z");
  CHECK(h.events.empty());
  h.tickAt("2026-01-01T12:05:00Z");
  REQUIRE(h.events.size() == 1);
  const TimerEvent& e = h.events[0];
  CHECK(e.timer == "app/fn");
  CHECK(iso(e.scheduled) == "2026-01-01T12:05:00.000Z");
  CHECK(iso(e.actual) == "2026-01-01T12:05:00.000Z");
  CHECK_FALSE(e.past_due);
  CHECK_FALSE(e.manual);
  REQUIRE(e.next.has_value());
  CHECK(iso(*e.next) == "2026-01-01T12:10:00.000Z");

  // A tick a little later does not fire the same instant again.
  h.tickAt("2026-01-01T12:05:00.020Z");
  CHECK(h.events.size() == 1);
  h.tickAt("2026-01-01T12:10:00.003Z");
  REQUIRE(h.events.size() == 2);
  CHECK(iso(h.events[1].scheduled) == "2026-01-01T12:10:00.000Z");
  CHECK(iso(h.events[1].actual) == "2026-01-01T12:10:00.003Z");
  CHECK(h.scheduler->stats("app/fn").runs == 2);
  CHECK(h.scheduler->stats("app/fn").failures == 0);
  h.finish();
}

TEST_CASE("the event body is JSON with ISO 8601 UTC times in milliseconds") {
  TimerEvent e;
  e.timer = "app/fn";
  e.scheduled = at("2026-03-29T01:00:00Z");
  e.actual = at("2026-03-29T01:00:00.0071Z");
  e.past_due = true;
  auto j = nlohmann::json::parse(toJson(e));
  CHECK(j["timer"] == "app/fn");
  CHECK(j["scheduled"] == "2026-03-29T01:00:00.000Z");
  CHECK(j["actual"] == "2026-03-29T01:00:00.007Z");
  CHECK(j["past_due"] == true);
  CHECK(j["next"].is_null());
  CHECK(j["manual"] == false);
  e.next = at("2026-03-29T02:00:00Z");
  CHECK(nlohmann::json::parse(toJson(e))["next"] == "2026-03-29T02:00:00.000Z");
}

TEST_CASE("an instant that comes while the previous run is going is skipped and counted") {
  Harness h("2026-01-01T12:00:00Z");
  h.auto_result.reset();  // runs finish only when the test says so
  h.make();
  h.add("app/slow", "*/5 * * * *");
  h.scheduler->start();
  h.tickAt("2026-01-01T12:05:00Z");
  REQUIRE(h.events.size() == 1);
  CHECK(h.scheduler->running("app/slow"));

  h.tickAt("2026-01-01T12:10:00Z");
  CHECK(h.events.size() == 1);  // not run twice, not queued
  CHECK(h.scheduler->stats("app/slow").skipped_overlap == 1);
  CHECK(iso(*h.scheduler->nextFire("app/slow")) == "2026-01-01T12:15:00.000Z");

  REQUIRE(h.pending.size() == 1);
  h.pending[0](TimerRunResult{TimerRunStatus::kOk, ""});
  CHECK_FALSE(h.scheduler->running("app/slow"));
  // A second call of the same done is ignored.
  h.pending[0](TimerRunResult{TimerRunStatus::kError, "late"});
  CHECK(h.scheduler->stats("app/slow").failures == 0);

  h.tickAt("2026-01-01T12:12:00Z");
  CHECK(h.events.size() == 1);  // the skipped instant is not made up for
  h.tickAt("2026-01-01T12:15:00Z");
  REQUIRE(h.events.size() == 2);
  CHECK(iso(h.events[1].scheduled) == "2026-01-01T12:15:00.000Z");
  CHECK_FALSE(h.events[1].past_due);
  auto stats = h.scheduler->stats("app/slow");
  CHECK(stats.runs == 2);
  CHECK(stats.skipped_overlap == 1);
  h.pending[1](TimerRunResult{TimerRunStatus::kOk, ""});
  h.finish();
}

TEST_CASE("after an outage a past-due timer fires once at start") {
  Harness h("2026-01-02T12:30:00Z");
  writeFile(h.state.path(), R"({"version":1,"timers":{"app/hourly":{"last_handled":"2026-01-01T12:00:00.000Z"},)"
                            R"("app/fresh":{"last_handled":"2026-01-02T12:00:00.000Z"}}})");
  h.make();
  h.add("app/hourly", "0 * * * *");
  h.add("app/fresh", "0 * * * *");
  h.scheduler->start();
  // 24 instants were missed; one run for all of them, naming the latest.
  REQUIRE(h.events.size() == 1);
  const TimerEvent& e = h.events[0];
  CHECK(e.timer == "app/hourly");
  CHECK(e.past_due);
  CHECK(iso(e.scheduled) == "2026-01-02T12:00:00.000Z");
  CHECK(iso(e.actual) == "2026-01-02T12:30:00.000Z");
  CHECK(iso(*e.next) == "2026-01-02T13:00:00.000Z");
  CHECK(h.scheduler->stats("app/hourly").past_due == 1);
  CHECK(h.scheduler->stats("app/hourly").runs == 1);
  CHECK(h.scheduler->stats("app/fresh").runs == 0);

  // The state now says the latest missed instant was handled.
  TimerStateStore reread(h.state.path());
  REQUIRE(reread.load().ok());
  CHECK(iso(*reread.lastHandled("app/hourly")) == "2026-01-02T12:00:00.000Z");

  h.tickAt("2026-01-02T13:00:00Z");
  REQUIRE(h.events.size() == 3);
  CHECK_FALSE(h.events[1].past_due);
  CHECK_FALSE(h.events[2].past_due);
  h.finish();
}

TEST_CASE("run_on_startup fires once at start, and once only when also past due") {
  Harness h("2026-01-02T12:30:00Z");
  writeFile(h.state.path(), R"({"version":1,"timers":{"app/both":{"last_handled":"2026-01-01T00:00:00Z"}}})");
  h.make();
  h.add("app/startup", "0 0 * * *", /*run_on_startup=*/true);
  h.add("app/both", "0 * * * *", /*run_on_startup=*/true);
  h.add("app/plain", "0 0 * * *");
  h.scheduler->start();
  REQUIRE(h.events.size() == 2);
  // Entries run in id order.
  CHECK(h.events[0].timer == "app/both");
  CHECK(h.events[0].past_due);
  CHECK(h.events[1].timer == "app/startup");
  CHECK_FALSE(h.events[1].past_due);
  CHECK(iso(h.events[1].scheduled) == "2026-01-02T12:30:00.000Z");
  CHECK(iso(*h.events[1].next) == "2026-01-03T00:00:00.000Z");
  CHECK(h.scheduler->stats("app/both").runs == 1);
  CHECK(h.scheduler->stats("app/startup").runs == 1);
  CHECK(h.scheduler->stats("app/plain").runs == 0);
  h.scheduler->start();  // a second start does nothing
  CHECK(h.events.size() == 2);
  h.finish();
}

TEST_CASE("failed runs are counted and the schedule goes on") {
  Harness h("2026-01-01T12:00:00Z");
  h.auto_result = TimerRunResult{TimerRunStatus::kError, "boom"};
  h.make();
  h.add("app/flaky", "*/5 * * * *");
  h.scheduler->start();
  h.tickAt("2026-01-01T12:05:00Z");
  h.auto_result = TimerRunResult{TimerRunStatus::kTimeout, "took too long"};
  h.tickAt("2026-01-01T12:10:00Z");
  h.auto_result = TimerRunResult{TimerRunStatus::kOk, ""};
  h.tickAt("2026-01-01T12:15:00Z");
  CHECK(h.events.size() == 3);
  auto stats = h.scheduler->stats("app/flaky");
  CHECK(stats.runs == 3);
  CHECK(stats.failures == 2);
  CHECK(iso(*h.scheduler->nextFire("app/flaky")) == "2026-01-01T12:20:00.000Z");
  h.finish();
}

TEST_CASE("the handled instant survives a restart of the scheduler") {
  Harness h("2026-01-01T12:00:00Z");
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  h.tickAt("2026-01-01T12:05:00Z");
  REQUIRE(h.events.size() == 1);
  h.closeScheduler();

  auto saved = nlohmann::json::parse(readFile(h.state.path()));
  CHECK(saved["version"] == 1);
  CHECK(saved["timers"]["app/fn"]["last_handled"] == "2026-01-01T12:05:00.000Z");
  CHECK_FALSE(std::filesystem::exists(h.state.path().string() + ".tmp"));

  // Back two minutes later: nothing was missed.
  h.clock.set(at("2026-01-01T12:07:00Z"));
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  CHECK(h.events.size() == 1);
  h.closeScheduler();

  // Back after 12:10 and 12:15 passed: one past-due run for 12:15.
  h.clock.set(at("2026-01-01T12:16:30Z"));
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  REQUIRE(h.events.size() == 2);
  CHECK(h.events[1].past_due);
  CHECK(iso(h.events[1].scheduled) == "2026-01-01T12:15:00.000Z");
  h.finish();
}

TEST_CASE("a timer never seen before gets a baseline, so a later outage is still detected") {
  Harness h("2026-01-01T12:00:00Z");
  h.make();
  h.add("app/daily", "0 3 * * *");
  h.scheduler->start();
  h.closeScheduler();
  REQUIRE(h.state.lastHandled("app/daily").has_value());
  CHECK(iso(*h.state.lastHandled("app/daily")) == "2026-01-01T12:00:00.000Z");

  h.clock.set(at("2026-01-03T12:00:00Z"));
  h.make();
  h.add("app/daily", "0 3 * * *");
  h.scheduler->start();
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].past_due);
  CHECK(iso(h.events[0].scheduled) == "2026-01-03T03:00:00.000Z");
  h.finish();
}

TEST_CASE("@every counts from the start, then from the last handled instant after a restart") {
  Harness h("2026-01-01T12:00:00.500Z");
  h.make();
  h.add("app/every", "@every 10s");
  h.scheduler->start();
  CHECK(iso(*h.scheduler->nextFire("app/every")) == "2026-01-01T12:00:10.500Z");
  h.tickAt("2026-01-01T12:00:10.500Z");
  REQUIRE(h.events.size() == 1);
  CHECK(iso(*h.events[0].next) == "2026-01-01T12:00:20.500Z");
  h.closeScheduler();

  h.clock.set(at("2026-01-01T12:00:14Z"));
  h.make();
  h.add("app/every", "@every 10s");
  h.scheduler->start();
  CHECK(h.events.size() == 1);
  CHECK(iso(*h.scheduler->nextFire("app/every")) == "2026-01-01T12:00:20.500Z");
  h.finish();
}

TEST_CASE("a manual run is marked manual, refused while running, and leaves the state alone") {
  Harness h("2026-01-01T12:00:00Z");
  h.auto_result.reset();
  h.make();
  h.add("app/fn", "0 0 * * *");
  h.scheduler->start();
  std::string before = readFile(h.state.path());

  std::vector<TimerRunResult> results;
  auto ran = h.scheduler->runNow("app/fn", [&results](TimerRunResult r) { results.push_back(std::move(r)); });
  REQUIRE(ran.ok());
  REQUIRE(h.events.size() == 1);
  CHECK(h.events[0].manual);
  CHECK(iso(h.events[0].scheduled) == "2026-01-01T12:00:00.000Z");
  CHECK(iso(*h.events[0].next) == "2026-01-02T00:00:00.000Z");

  auto again = h.scheduler->runNow("app/fn", [](TimerRunResult) { FAIL("must not be called"); });
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().kind == ErrorKind::kConflict);
  auto missing = h.scheduler->runNow("app/nope", [](TimerRunResult) { FAIL("must not be called"); });
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().kind == ErrorKind::kNotFound);

  h.pending[0](TimerRunResult{TimerRunStatus::kCrashed, "worker died"});
  REQUIRE(results.size() == 1);
  CHECK(std::string(toString(results[0].status)) == "crashed");
  CHECK(h.scheduler->stats("app/fn").runs == 1);
  CHECK(h.scheduler->stats("app/fn").failures == 1);
  CHECK(readFile(h.state.path()) == before);

  auto duplicate = h.scheduler->add(TimerSpec{"app/fn", schedule("* * * * *"), false});
  CHECK_FALSE(duplicate.ok());
  h.finish();
}

TEST_CASE("clock jumps: forward fires once as past due, backward never repeats an instant") {
  Harness h("2026-01-01T12:00:00Z");
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  h.tickAt("2026-01-01T12:05:00Z");
  REQUIRE(h.events.size() == 1);

  // Back 15 minutes: 11:55 and 12:00 come again on the wall clock, but were handled.
  h.tickAt("2026-01-01T11:50:00Z");
  CHECK(iso(*h.scheduler->nextFire("app/fn")) == "2026-01-01T12:10:00.000Z");
  h.tickAt("2026-01-01T12:05:00Z");
  CHECK(h.events.size() == 1);
  h.tickAt("2026-01-01T12:10:00Z");
  CHECK(h.events.size() == 2);

  // Forward an hour: eleven instants passed, one past-due run for the latest.
  h.tickAt("2026-01-01T13:12:00Z");
  REQUIRE(h.events.size() == 3);
  CHECK(h.events[2].past_due);
  CHECK(iso(h.events[2].scheduled) == "2026-01-01T13:10:00.000Z");
  CHECK(iso(*h.scheduler->nextFire("app/fn")) == "2026-01-01T13:15:00.000Z");
  CHECK(h.scheduler->stats("app/fn").past_due == 1);
  h.finish();
}

TEST_CASE("a done callback after the scheduler is gone is harmless") {
  Harness h("2026-01-01T12:00:00Z");
  h.auto_result.reset();
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  h.tickAt("2026-01-01T12:05:00Z");
  REQUIRE(h.pending.size() == 1);
  h.closeScheduler();
  h.pending[0](TimerRunResult{TimerRunStatus::kOk, ""});
  h.finish();
}

TEST_CASE("after close, add and runNow fail and tick does nothing") {
  Harness h("2026-01-01T12:00:00Z");
  h.make();
  h.add("app/fn", "*/5 * * * *");
  h.scheduler->start();
  bool closed = false;
  h.scheduler->close([&closed] { closed = true; });
  CHECK_FALSE(h.scheduler->add(TimerSpec{"app/other", schedule("* * * * *"), false}).ok());
  CHECK_FALSE(h.scheduler->runNow("app/fn", [](TimerRunResult) {}).ok());
  h.tickAt("2026-01-01T12:05:00Z");
  CHECK(h.events.empty());
  REQUIRE(test::runLoopToEnd(&h.loop, "the scheduler to close"));
  CHECK(closed);
  h.scheduler.reset();
  h.finish();
}

TEST_CASE("the state store tolerates a missing file and names a corrupt one") {
  TempDir dir;
  TimerStateStore missing(dir.path() / "none.json");
  CHECK(missing.load().ok());
  CHECK_FALSE(missing.lastHandled("app/fn").has_value());

  auto corrupt = [&](const std::string& text) {
    auto path = dir.path() / "state.json";
    writeFile(path, text);
    TimerStateStore store(path);
    auto loaded = store.load();
    REQUIRE_FALSE(loaded.ok());
    CHECK(loaded.error().kind == ErrorKind::kBadInput);
    CHECK(loaded.error().message.find(path.string()) != std::string::npos);
    CHECK(loaded.error().message.find("corrupt") != std::string::npos);
    return loaded.error().message;
  };
  CHECK(corrupt("{not json").find("not valid JSON") != std::string::npos);
  CHECK(corrupt("[]").find("expected a JSON object") != std::string::npos);
  CHECK(corrupt(R"({"version":2})").find("unsupported version 2") != std::string::npos);
  CHECK(corrupt(R"({"timers":{"a/b":{}}})").find("\"a/b\"") != std::string::npos);
  CHECK(corrupt(R"({"timers":{"a/b":{"last_handled":"yesterday"}}})").find("\"a/b\"") != std::string::npos);

  TimerStateStore store(dir.path() / "good.json");
  REQUIRE(store.setLastHandled("a/b", at("2026-01-01T00:00:00.123Z")).ok());
  TimerStateStore reread(dir.path() / "good.json");
  REQUIRE(reread.load().ok());
  CHECK(iso(*reread.lastHandled("a/b")) == "2026-01-01T00:00:00.123Z");

  TimerStateStore unwritable(dir.path() / "no-such-dir" / "state.json");
  auto failed = unwritable.setLastHandled("a/b", at("2026-01-01T00:00:00Z"));
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().kind == ErrorKind::kIo);
}

TEST_CASE("with the system clock, the uv timer fires within milliseconds of the instant") {
  TempDir dir;
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  SystemClock clock;
  TimerStateStore state(dir.path() / "timers.json");
  std::vector<TimerEvent> events;
  bool closed = false;
  std::unique_ptr<TimerScheduler> scheduler;
  auto run = [&events, &scheduler, &closed](const TimerEvent& event, auto done) {
    events.push_back(event);
    done(TimerRunResult{TimerRunStatus::kOk, ""});
    if (events.size() == 2) scheduler->close([&closed] { closed = true; });
  };
  scheduler = std::make_unique<TimerScheduler>(&loop, clock, state, run);
  REQUIRE(scheduler->add(TimerSpec{"app/tick", schedule("@every 1s"), false}).ok());
  scheduler->start();
  REQUIRE(test::runLoopToEnd(&loop, "two runs of the 1-second timer, then the scheduler's close"));
  CHECK(closed);
  REQUIRE(events.size() == 2);
  for (const TimerEvent& e : events) {
    auto late = e.actual - e.scheduled;
    CHECK(late >= std::chrono::nanoseconds(0));
    CHECK(late < milliseconds(200));
  }
  CHECK(events[1].scheduled - events[0].scheduled == seconds(1));
  scheduler.reset();
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace gust
