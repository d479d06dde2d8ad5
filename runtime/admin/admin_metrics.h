#pragma once
// `GET /metrics` on the admin listener (token required like every admin route): the host's
// Prometheus metrics, with the gauges and counters kept elsewhere (the HTTP server's
// connections and responses, timers' runs) read at scrape time.

#include "runtime/admin/admin_api.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/observe/telemetry.h"
#include "triggers/http/http_server.h"
#include "triggers/http/topic_streams.h"
#include "runtime/store/queue_backend.h"
#include "triggers/timer/timer_trigger.h"

namespace gust {

// Everything passed in must outlive the admin API's routes; `streams` may be null (no
// streams served, no stream series).
void addMetricsRoutes(AdminApi& api, Telemetry& telemetry, const HttpServer& http, const TopicStreams* streams,
                      const TimerTrigger& timers, const Dispatcher& dispatcher, QueueBackend& queues);

}  // namespace gust
