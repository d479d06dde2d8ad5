// A timer function: every 10 seconds (and once when the host starts) it logs a line with
// the event it was invoked for: when it was scheduled, when it ran, whether the run was
// past due (the host was down at a scheduled instant), and when it runs next.
//
//   gust cron next "*/10 * * * * *"          when it fires
//   gust invoke --timer cron-report/report    run it now
#include <gust/json.hpp>

gust::Response report(const gust::Request& req, gust::Context& ctx) {
  nlohmann::json event = req.json();
  if (event.is_discarded()) return gust::Response::text("not a timer event\n", 400);
  ctx.log("report: scheduled " + event.value("scheduled", "?") + ", ran " + event.value("actual", "?") +
          (event.value("past_due", false) ? ", past due" : "") + ", next " + event.value("next", "?"));
  return gust::Response::empty();
}
GUST_FUNCTION(report)
