#pragma once
// What the host observes about itself, in one place: the metrics registry with issue #7's
// families, the per-app log fan-out behind `GET /v1/apps/{app}/logs`, and the optional OTLP
// span exporter. The composition root owns one and hands it to what records into it.
//
// Owning thread: the loop thread (the registry and the fan-out are not thread-safe; the
// exporter's push() is, but is called from the loop here).

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/protocol/invocation.h"
#include "runtime/observe/logging.h"
#include "runtime/observe/metrics.h"
#include "runtime/observe/otlp_exporter.h"

namespace gust {

// The series of one (app, function, trigger), taken once and kept: counting an outcome is
// then one add. Owned by Telemetry and never freed before it, so an outcome callback may
// hold a pointer to it past a redeploy.
struct InvocationSeries {
  std::string app;
  std::string function;
  std::string trigger;  // "http", "async", "timer", "queue" or "websocket"
  CounterFamily* invocations = nullptr;
  HistogramFamily* durations = nullptr;
  // Filled on first use, so that only what happened is exposed (a function is not invoked
  // by every trigger). Outcomes by OutcomeKind.
  std::array<Counter*, kOutcomeKindCount> outcomes{};
  Histogram* duration = nullptr;

  void record(OutcomeKind kind, double seconds) {
    auto i = static_cast<size_t>(kind);
    if (outcomes[i] == nullptr) outcomes[i] = &invocations->labels({app, function, trigger, outcomeName(kind)});
    outcomes[i]->inc();
    if (duration == nullptr) duration = &durations->labels({app, function, trigger});
    duration->observe(seconds);
  }
};

class Telemetry {
 public:
  // Registers the metrics and, with a non-empty `otlp_endpoint`, starts the exporter
  // (kBadInput naming the endpoint when it is not a URL the exporter can use).
  static Result<std::unique_ptr<Telemetry>> create(const Clock& clock, const std::string& otlp_endpoint);
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  MetricsRegistry& registry() { return registry_; }
  const GustMetrics& metrics() const { return metrics_; }
  LogFanout& logs() { return logs_; }
  // Null when no endpoint is configured.
  OtlpExporter* exporter() { return exporter_.get(); }

  // The series of (app, function, trigger), created on first request; the pointer stays valid.
  InvocationSeries* invocationSeries(const std::string& app, const std::string& function, const std::string& trigger);

  // Runs before each scrape, to set gauges from state kept elsewhere (pool stats, timers).
  void onScrape(std::function<void()> refresh) { scrape_hooks_.push_back(std::move(refresh)); }
  // Text exposition format 0.0.4, after running the scrape hooks.
  std::string scrape();

  // Exports one span for a finished invocation, if an exporter runs; it ends now by the
  // clock that `start` came from. Never blocks.
  void exportInvocationSpan(const InvocationSeries& series, const std::string& invocation_id,
                            const std::string& traceparent, const std::string& tracestate, const SpanId& parent,
                            std::chrono::system_clock::time_point start, const Outcome& outcome);

 private:
  explicit Telemetry(const Clock& clock) : clock_(clock) {}

  const Clock& clock_;
  MetricsRegistry registry_;
  GustMetrics metrics_{};
  LogFanout logs_;
  std::unique_ptr<OtlpExporter> exporter_;
  std::map<std::array<std::string, 3>, std::unique_ptr<InvocationSeries>> series_;
  std::vector<std::function<void()>> scrape_hooks_;
};

}  // namespace gust
