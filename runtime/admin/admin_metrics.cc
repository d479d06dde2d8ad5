#include "runtime/admin/admin_metrics.h"

#include <spdlog/spdlog.h>

#include <iterator>
#include <memory>
#include <set>

namespace gust {
namespace {

constexpr const char* kStatusClasses[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};

// The HTTP listener's counts live in the server as plain integers (one add per response);
// the series read them at scrape time.
void observeHttp(Telemetry& telemetry, const HttpServer& http) {
  const GustMetrics& m = telemetry.metrics();
  m.http_connections->series().setCallback([&http] { return static_cast<double>(http.connectionCount()); });
  // Shown from the start: a zero says the bound was never reached.
  m.http_connections_closed->labels({"idle_evicted"}).setCallback([&http] { return http.boundCloses().idle_evicted; });
  m.http_connections_closed->labels({"refused"}).setCallback([&http] { return http.boundCloses().refused; });
  m.realtime_connections->labels({"websocket"}).setCallback([&http] { return static_cast<double>(http.openWebSockets()); });
  m.realtime_connections->labels({"stream"}).setCallback([&http] { return static_cast<double>(http.openStreams()); });
  telemetry.onScrape([&http, m] {
    const auto& counts = http.responsesByClass();
    for (size_t i = 0; i < counts.size(); ++i) {
      // A class shows up once it has happened; until then its series would only say 0.
      if (counts[i] == 0) continue;
      m.http_requests->labels({kStatusClasses[i]}).setCallback([&http, i] { return http.responsesByClass()[i]; });
    }
  });
}

// Timers keep their own counts per timer; the series follow the timers of the active
// versions, and a removed timer's series go with it.
void observeTimers(Telemetry& telemetry, const TimerTrigger& timers, const Dispatcher& dispatcher) {
  auto shown = std::make_shared<std::set<std::pair<std::string, std::string>>>();
  const GustMetrics m = telemetry.metrics();
  telemetry.onScrape([&timers, &dispatcher, m, shown] {
    std::set<std::pair<std::string, std::string>> now;
    for (const auto& app : dispatcher.appNames()) {
      for (const auto& f : dispatcher.app(app)->manifest.functions) {
        if (!f.timer) continue;
        TimerScheduler::Stats stats = timers.scheduler().stats(app + "/" + f.name);
        m.timer_runs->labels({app, f.name}).setCallback([runs = stats.runs] { return runs; });
        m.timer_skips->labels({app, f.name, "overlap"}).setCallback([n = stats.skipped_overlap] { return n; });
        m.timer_skips->labels({app, f.name, "elsewhere"}).setCallback([n = stats.elsewhere] { return n; });
        now.insert({app, f.name});
      }
    }
    for (const auto& [app, function] : *shown) {
      if (now.count({app, function}) > 0) continue;
      m.timer_runs->remove({app, function});
      m.timer_skips->remove({app, function, "overlap"});
      m.timer_lateness->remove({app, function});
    }
    *shown = std::move(now);
  });
}

constexpr const char* kQueueStates[] = {"ready", "in_flight", "delayed", "dead"};

// Sets the queue gauges from one read of the store; a queue that is gone loses its series.
void setQueueGauges(const GustMetrics& m, const std::vector<QueueStats>& stats, std::set<std::string>& shown) {
  std::set<std::string> now;
  for (const auto& q : stats) {
    const int64_t values[] = {q.ready, q.in_flight, q.delayed, q.dead};
    for (size_t i = 0; i < std::size(kQueueStates); ++i) {
      m.queue_messages->labels({q.queue, kQueueStates[i]}).set(static_cast<double>(values[i]));
    }
    now.insert(q.queue);
  }
  for (const auto& gone : shown) {
    if (now.count(gone) > 0) continue;
    for (const char* state : kQueueStates) m.queue_messages->remove({gone, state});
  }
  shown = std::move(now);
}

HttpResponse exposition(Telemetry& telemetry) {
  HttpResponse r;
  r.status = 200;
  r.headers.emplace_back("Content-Type", std::string(kPrometheusContentType));
  r.body = telemetry.scrape();
  return r;
}

}  // namespace

void addMetricsRoutes(AdminApi& api, Telemetry& telemetry, const HttpServer& http, const TopicStreams* streams,
                      const TimerTrigger& timers, const Dispatcher& dispatcher, QueueBackend& queues) {
  observeHttp(telemetry, http);
  if (streams != nullptr) {
    const GustMetrics& m = telemetry.metrics();
    m.stream_clients->series().setCallback([streams] { return static_cast<double>(streams->clients()); });
    m.stream_events_sent->series().setCallback([streams] { return static_cast<double>(streams->eventsSent()); });
  }
  observeTimers(telemetry, timers, dispatcher);
  auto shown_queues = std::make_shared<std::set<std::string>>();
  api.route({"GET"}, "/metrics", [&telemetry, &queues, shown_queues](AdminCall&& call) {
    // Queue depths live in the store: read them first, then render everything at once.
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto posted = queues.stats([&telemetry, responder, shown_queues](Result<std::vector<QueueStats>> stats) {
      if (stats) {
        setQueueGauges(telemetry.metrics(), *stats, *shown_queues);
      } else {
        spdlog::warn("metrics: queue depths not refreshed: {}", stats.error().message);
      }
      responder->send(exposition(telemetry));
    });
    if (!posted) responder->send(exposition(telemetry));
  });
}

}  // namespace gust
