// Prints how late this run started, against the instant it was scheduled for: the time from
// the scheduled instant to the function running, the whole path through host and worker.
#include <gust/json.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>

gust::Response tick(const gust::Request& req, gust::Context&) {
  auto now = std::chrono::system_clock::now();
  nlohmann::json event = req.json();
  std::string scheduled = event.value("scheduled", "");
  std::tm tm{};
  int millis = 0;
  // "2026-11-26T06:30:01.000Z"
  if (std::sscanf(scheduled.c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &millis) >= 6) {
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    auto at = std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(millis);
    auto late = std::chrono::duration_cast<std::chrono::microseconds>(now - at).count();
    std::printf("lateness_us %lld past_due %d\n", static_cast<long long>(late), event.value("past_due", false) ? 1 : 0);
  }
  return gust::Response::empty();
}
GUST_FUNCTION(tick)
