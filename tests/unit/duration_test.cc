#include "runtime/base/duration.h"

#include <doctest/doctest.h>

using namespace gust;
using std::chrono::milliseconds;

TEST_CASE("durations parse with ms, s, m and h units and their combinations") {
  CHECK(*parseDuration("500ms") == milliseconds(500));
  CHECK(*parseDuration("30s") == milliseconds(30'000));
  CHECK(*parseDuration("5m") == milliseconds(300'000));
  CHECK(*parseDuration("1h") == milliseconds(3'600'000));
  CHECK(*parseDuration("1m30s") == milliseconds(90'000));
  CHECK(*parseDuration("1h2m3s4ms") == milliseconds(3'723'004));
  CHECK(*parseDuration("0s") == milliseconds(0));
}

TEST_CASE("bad durations are refused with the reason and an example") {
  for (const char* bad : {"", "5", "s", "5x", "1.5s", "-1s", "5 s", "ms5", "99999999999999999999s"}) {
    auto d = parseDuration(bad);
    CHECK_FALSE(d);
    if (!d) CHECK(d.error().message.find("\"30s\"") != std::string::npos);
  }
  CHECK(parseDuration("5").error().message.find("unit is missing") != std::string::npos);
  CHECK(parseDuration("5d").error().message.find("unknown unit \"d\"") != std::string::npos);
}

TEST_CASE("durations format back in their shortest exact form") {
  CHECK(formatDuration(milliseconds(1500)) == "1500ms");
  CHECK(formatDuration(milliseconds(90'000)) == "1m30s");
  CHECK(formatDuration(milliseconds(3'600'000)) == "1h");
  CHECK(formatDuration(milliseconds(0)) == "0s");
}
