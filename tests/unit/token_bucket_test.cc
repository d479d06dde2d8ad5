#include "runtime/base/token_bucket.h"

#include <doctest/doctest.h>

#include "tests/support/manual_clock.h"

using namespace std::chrono_literals;

namespace gust {

TEST_CASE("a token bucket starts full and refills at its rate up to its burst") {
  test::ManualClock clock;
  TokenBucket bucket(1000, 4000, clock.now());
  CHECK(bucket.has(4000, clock.now()));
  bucket.spend(4000, clock.now());
  CHECK_FALSE(bucket.has(1, clock.now()));
  CHECK(bucket.timeUntil(1000, clock.now()) == 1000ms);
  clock.advance(500ms);
  CHECK(bucket.has(500, clock.now()));
  CHECK_FALSE(bucket.has(501, clock.now()));
  clock.advance(60s);  // a long quiet spell refills no further than the burst
  CHECK(bucket.has(4000, clock.now()));
  bucket.spend(4000, clock.now());
  CHECK_FALSE(bucket.has(1, clock.now()));
}

TEST_CASE("a token bucket that is overdrawn pays its debt before it has tokens again") {
  test::ManualClock clock;
  TokenBucket bucket(1000, 1000, clock.now());
  bucket.spend(3000, clock.now());  // 2000 in debt
  CHECK(bucket.timeUntil(1000, clock.now()) == 3000ms);
  clock.advance(2000ms);
  CHECK_FALSE(bucket.has(1, clock.now()));
  clock.advance(1000ms);
  CHECK(bucket.has(1000, clock.now()));
  CHECK(bucket.timeUntil(1000, clock.now()) == 0ms);
  // More than the burst is never owed a wait longer than the burst takes to refill.
  CHECK(bucket.timeUntil(1e9, clock.now()) == 0ms);
}

}  // namespace gust
