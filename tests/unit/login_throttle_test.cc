#include <doctest/doctest.h>

#include "runtime/admin/login_throttle.h"
#include "tests/support/manual_clock.h"

namespace gust {

using std::chrono::milliseconds;

TEST_CASE("failed logins beyond the free ones make a peer wait, doubling up to the cap") {
  test::ManualClock clock;
  LoginThrottle throttle(clock);
  for (size_t i = 0; i < LoginThrottle::kFreeFailures; ++i) {
    throttle.failed("uid 1000");
    CHECK(throttle.waitFor("uid 1000") == milliseconds(0));
  }
  throttle.failed("uid 1000");
  CHECK(throttle.waitFor("uid 1000") == milliseconds(250));
  clock.advance(milliseconds(100));
  CHECK(throttle.waitFor("uid 1000") == milliseconds(150));
  clock.advance(milliseconds(150));
  CHECK(throttle.waitFor("uid 1000") == milliseconds(0));
  throttle.failed("uid 1000");
  CHECK(throttle.waitFor("uid 1000") == milliseconds(500));
  throttle.failed("uid 1000");
  CHECK(throttle.waitFor("uid 1000") == milliseconds(1000));
  for (int i = 0; i < 20; ++i) throttle.failed("uid 1000");
  CHECK(throttle.waitFor("uid 1000") == LoginThrottle::kMaxDelay);
  // Another peer is not slowed down by this one.
  CHECK(throttle.waitFor("127.0.0.1") == milliseconds(0));
}

TEST_CASE("a successful login, or a long silence, forgets a peer's failures") {
  test::ManualClock clock;
  LoginThrottle throttle(clock);
  for (size_t i = 0; i <= LoginThrottle::kFreeFailures; ++i) throttle.failed("10.0.0.1");
  REQUIRE(throttle.waitFor("10.0.0.1") > milliseconds(0));
  throttle.succeeded("10.0.0.1");
  CHECK(throttle.waitFor("10.0.0.1") == milliseconds(0));
  throttle.failed("10.0.0.1");
  CHECK(throttle.waitFor("10.0.0.1") == milliseconds(0));  // counting starts again

  for (size_t i = 0; i < LoginThrottle::kFreeFailures; ++i) throttle.failed("10.0.0.2");
  clock.advance(LoginThrottle::kForgetAfter);
  throttle.failed("10.0.0.2");
  CHECK(throttle.waitFor("10.0.0.2") == milliseconds(0));
}

}  // namespace gust
