// InvocationObserver on a real telemetry and a real recorder on gust.db, with a clock the
// test moves: what one invocation's outcome leaves behind in metrics, logs and records.
#include "runtime/exec/invocation_observer.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "runtime/store/sqlite_invocation_store.h"
#include "gust/abi.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using std::chrono::milliseconds;
using testing::FakeClock;
using testing::WriterFixture;

constexpr std::string_view kTraceId = "4bf92f3577b34da6a3ce929d0e0e4736";

// A telemetry, and a recorder that stores into a real gust.db, for app shop's function
// checkout.
class ObserverFixture {
 public:
  explicit ObserverFixture(uint32_t successes_per_second = 100) {
    auto telemetry = Telemetry::create(clock, "");
    REQUIRE(telemetry);
    telemetry_ = std::move(*telemetry);
    auto store = SqliteInvocationStore::open(fx.writer(), clock);
    GUST_REQUIRE_OK(store);
    store_ = std::move(*store);
    auto counter = registry_.addCounter("dropped_total", "dropped");
    GUST_REQUIRE_OK(counter);
    InvocationRecorderOptions options;
    options.successes_per_second = successes_per_second;
    recorder_ = std::make_unique<InvocationRecorder>(fx.loop(), clock, *store_, (*counter)->series(), options);
    for (size_t i = 0; i < series.size(); ++i) {
      series[i] = telemetry_->invocationSeries("shop", "checkout", recordTriggerName(static_cast<RecordTrigger>(i)));
    }
  }
  ~ObserverFixture() {
    closeRecorder();
    fx.closeWriter();
    store_.reset();
  }

  Telemetry& telemetry() { return *telemetry_; }
  InvocationObserver begin(const Invocation& invocation, bool recording = true) {
    return InvocationObserver::begin(*telemetry_, recording ? recorder_.get() : nullptr, clock, series, invocation);
  }
  // Lines the worker of `invocation_id` wrote, as a worker process hands them on.
  void workerWrote(const std::string& invocation_id, std::string text) {
    telemetry_->logs().append(invocationLogLine({"shop", "checkout", invocation_id, kTraceId}, LogStream::kStdout,
                                                spdlog::level::info, std::move(text)));
  }
  // Every record stored, once the recorder has flushed what it holds.
  std::vector<InvocationRecord> records() {
    closeRecorder();
    RecordFilter all;
    all.limit = 100;
    auto r = fx.wait<std::vector<InvocationRecord>>([&](auto done) { return store_->listRecords(all, done); });
    GUST_REQUIRE_OK(r);
    return *r;
  }

  FakeClock clock;
  WriterFixture fx;
  SeriesByTrigger series{};

 private:
  // Stores what the recorder holds. A ref'd timer keeps the loop turning meanwhile, as the
  // recorder's own timer is unref'd.
  void closeRecorder() {
    if (!recorder_) return;
    bool closed = false;
    recorder_->close([&closed] { closed = true; });
    uv_timer_t keepalive;
    uv_timer_init(fx.loop(), &keepalive);
    uv_timer_start(&keepalive, [](uv_timer_t*) {}, 5, 5);
    while (!closed) uv_run(fx.loop(), UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&keepalive), nullptr);
    uv_run(fx.loop(), UV_RUN_NOWAIT);
    recorder_.reset();
  }

  MetricsRegistry registry_;
  std::unique_ptr<Telemetry> telemetry_;
  std::unique_ptr<InvocationStore> store_;
  std::unique_ptr<InvocationRecorder> recorder_;
};

Invocation invocationOf(std::string id, uint32_t trigger = GUST_TRIGGER_HTTP) {
  Invocation inv;
  inv.id = std::move(id);
  inv.app = "shop";
  inv.function = "checkout";
  inv.trace.traceparent = "00-" + std::string(kTraceId) + "-00f067aa0ba902b7-01";
  inv.payload.trigger = trigger;
  return inv;
}

uint64_t counted(const InvocationSeries& series, OutcomeKind kind) {
  const Counter* c = series.outcomes[static_cast<size_t>(kind)];
  return c == nullptr ? 0 : c->value();
}

bool logged(Telemetry& telemetry, std::string_view text) {
  for (const LogLine& line : telemetry.logs().recent("shop")) {
    if (line.text == text) return line.invocation_id == "inv-1" && line.trace_id == kTraceId;
  }
  return false;
}

TEST_CASE("a crash is counted under its trigger, timed, logged and recorded with the invocation's own lines") {
  ObserverFixture f;
  f.workerWrote("inv-0", "an earlier invocation's line");
  Invocation inv = invocationOf("inv-1", GUST_TRIGGER_QUEUE);
  inv.attempt = 2;
  InvocationObserver observer = f.begin(inv);
  f.workerWrote("inv-2", "a concurrent invocation's line");
  f.workerWrote("inv-1", "about to crash");
  f.clock.advance(milliseconds(250));
  observer.finish(failedOutcome(OutcomeKind::kCrashed, "killed by signal SIGSEGV"));

  const InvocationSeries& queue = *f.series[static_cast<size_t>(RecordTrigger::kQueue)];
  CHECK(counted(queue, OutcomeKind::kCrashed) == 1);
  CHECK(counted(*f.series[static_cast<size_t>(RecordTrigger::kHttp)], OutcomeKind::kCrashed) == 0);
  CHECK(f.telemetry().scrape().find(
            "gust_invocation_duration_seconds_sum{app=\"shop\",function=\"checkout\",trigger=\"queue\"} 0.25") !=
        std::string::npos);
  CHECK(logged(f.telemetry(), "crashed: killed by signal SIGSEGV"));

  auto records = f.records();
  REQUIRE(records.size() == 1);
  const InvocationRecord& r = records[0];
  CHECK(r.id == "inv-1");
  CHECK(r.trigger == RecordTrigger::kQueue);
  CHECK(r.outcome == OutcomeKind::kCrashed);
  CHECK(r.error == "killed by signal SIGSEGV");
  CHECK(r.attempt == 2);
  CHECK(r.trace_id == kTraceId);
  CHECK(r.duration == milliseconds(250));
  CHECK(r.started_at == f.clock.wallNow() - milliseconds(250));
  // Its own lines, from its start on: the crash report follows what the worker wrote.
  REQUIRE(r.logs.size() == 2);
  CHECK(r.logs[0].find("about to crash") != std::string::npos);
  CHECK(r.logs[1].find("crashed: killed by signal SIGSEGV") != std::string::npos);
}

TEST_CASE("overload is counted and recorded but is not news in the app's log") {
  ObserverFixture f;
  InvocationObserver observer = f.begin(invocationOf("inv-1"));
  observer.finish(failedOutcome(OutcomeKind::kOverloaded, "no instance free", milliseconds(1000)));
  CHECK(counted(*f.series[0], OutcomeKind::kOverloaded) == 1);
  CHECK_FALSE(logged(f.telemetry(), "overloaded: no instance free"));
  auto records = f.records();
  REQUIRE(records.size() == 1);
  CHECK(records[0].outcome == OutcomeKind::kOverloaded);
}

TEST_CASE("plain successes are sampled; a cold start or a retry is always recorded") {
  ObserverFixture f(/*successes_per_second=*/0);
  Outcome ok;
  f.begin(invocationOf("plain")).finish(ok);
  Outcome cold;
  cold.cold_start = true;
  cold.cold_start_ms = 12.5;
  f.begin(invocationOf("cold", GUST_TRIGGER_TIMER)).finish(cold);
  Invocation retry = invocationOf("retry");
  retry.async = true;
  retry.attempt = 3;
  f.begin(retry).finish(ok);

  CHECK(counted(*f.series[static_cast<size_t>(RecordTrigger::kHttp)], OutcomeKind::kOk) == 1);
  CHECK(counted(*f.series[static_cast<size_t>(RecordTrigger::kTimer)], OutcomeKind::kOk) == 1);
  CHECK(counted(*f.series[static_cast<size_t>(RecordTrigger::kAsync)], OutcomeKind::kOk) == 1);
  std::vector<std::string> ids;
  for (const InvocationRecord& r : f.records()) {
    ids.push_back(r.id);
    if (r.id == "cold") {
      CHECK(r.cold_start);
      CHECK(r.cold_start_duration == std::chrono::microseconds(12500));
      CHECK(r.trigger == RecordTrigger::kTimer);
    }
    if (r.id == "retry") CHECK(r.trigger == RecordTrigger::kAsync);
  }
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::string>{"cold", "retry"});
}

TEST_CASE("without a recorder the outcome is still counted and logged") {
  ObserverFixture f;
  InvocationObserver observer = f.begin(invocationOf("inv-1"), /*recording=*/false);
  observer.finish(failedOutcome(OutcomeKind::kTimedOut, "did not answer within 5000 ms"));
  CHECK(counted(*f.series[0], OutcomeKind::kTimedOut) == 1);
  CHECK(logged(f.telemetry(), "timeout: did not answer within 5000 ms"));
  CHECK(f.records().empty());
}

}  // namespace
}  // namespace gust
