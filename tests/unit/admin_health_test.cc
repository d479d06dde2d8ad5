#include "runtime/admin/admin_health.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/support/manual_clock.h"

namespace gust {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// Readiness with a store probe the test answers by hand.
struct Fixture {
  test::ManualClock clock;
  int probes = 0;
  UniqueFunction<void(bool)> pending;
  Readiness readiness{clock, [this](UniqueFunction<void(bool)> done) {
                        ++probes;
                        pending = std::move(done);
                      }};
  void answer(bool writable) {
    REQUIRE(pending);
    auto done = std::move(pending);
    pending = nullptr;
    done(writable);
  }
};

std::vector<std::string> waitingFor(Readiness& readiness) { return readiness.check().waiting_for; }

TEST_CASE("a host is not ready until its apps are loaded and its store took a write") {
  Fixture f;
  CHECK(waitingFor(f.readiness) == std::vector<std::string>{"apps", "store"});
  CHECK(f.probes == 1);
  f.answer(true);
  CHECK(waitingFor(f.readiness) == std::vector<std::string>{"apps"});
  f.readiness.appsLoaded();
  CHECK(f.readiness.check().ready());
}

TEST_CASE("the store is probed at most once per interval, and only when asked") {
  Fixture f;
  f.readiness.appsLoaded();
  f.readiness.storeAnswered(true);
  for (int i = 0; i < 5; ++i) CHECK(f.readiness.check().ready());
  CHECK(f.probes == 0);
  f.clock.advance(Readiness::kProbeInterval);
  CHECK(f.readiness.check().ready());  // the last answer stands while the next probe runs
  CHECK(f.probes == 1);
  CHECK(f.readiness.check().ready());
  CHECK(f.probes == 1);  // one at a time
  f.answer(false);
  CHECK(waitingFor(f.readiness) == std::vector<std::string>{"store"});
  f.clock.advance(Readiness::kProbeInterval);
  CHECK(waitingFor(f.readiness) == std::vector<std::string>{"store"});
  f.answer(true);
  CHECK(f.readiness.check().ready());
}

TEST_CASE("a store probe unanswered past its deadline counts as a store that takes no writes") {
  Fixture f;
  f.readiness.appsLoaded();
  f.readiness.storeAnswered(true);
  f.clock.advance(Readiness::kProbeInterval);
  CHECK(f.readiness.check().ready());
  f.clock.advance(Readiness::kProbeDeadline - 1ms);
  CHECK(f.readiness.check().ready());
  f.clock.advance(1ms);
  CHECK(waitingFor(f.readiness) == std::vector<std::string>{"store"});
  CHECK(f.probes == 1);  // no second probe behind a stuck one
  f.answer(true);
  CHECK(f.readiness.check().ready());
}

TEST_CASE("a draining host is not ready whatever else holds") {
  Fixture f;
  f.readiness.appsLoaded();
  f.readiness.storeAnswered(true);
  f.readiness.drainBegan();
  ReadinessReport report = f.readiness.check();
  CHECK(report.draining);
  CHECK_FALSE(report.ready());
  CHECK(f.probes == 0);
}

TEST_CASE("/readyz answers say what is not ready, and nothing more") {
  HttpResponse ready = readinessResponse(ReadinessReport{});
  CHECK(ready.status == 200);
  CHECK(json::parse(ready.body) == json{{"status", "ready"}});
  HttpResponse draining = readinessResponse(ReadinessReport{true, {}});
  CHECK(draining.status == 503);
  CHECK(json::parse(draining.body) == json{{"status", "draining"}});
  HttpResponse waiting = readinessResponse(ReadinessReport{false, {"apps", "store"}});
  CHECK(waiting.status == 503);
  CHECK(json::parse(waiting.body) == json{{"status", "not ready"}, {"waiting_for", {"apps", "store"}}});
}

}  // namespace
}  // namespace gust
