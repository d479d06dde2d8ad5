#include "runtime/observe/telemetry.h"

#include <spdlog/spdlog.h>

namespace gust {

namespace {

SpanKind spanKindOf(const std::string& trigger) {
  if (trigger == "http" || trigger == "async") return SpanKind::kServer;
  if (trigger == "queue") return SpanKind::kConsumer;
  return SpanKind::kInternal;
}

}  // namespace

Result<std::unique_ptr<Telemetry>> Telemetry::create(const Clock& clock, const std::string& otlp_endpoint) {
  std::unique_ptr<Telemetry> t(new Telemetry(clock));
  auto metrics = registerGustMetrics(t->registry_, clock);
  if (!metrics) return metrics.error();
  t->metrics_ = *metrics;
  if (!otlp_endpoint.empty()) {
    OtlpExporterOptions options;
    options.endpoint = otlp_endpoint;
    auto exporter = OtlpExporter::start(std::move(options));
    if (!exporter) {
      return makeError(ErrorKind::kBadInput, "otlp_endpoint: " + exporter.error().message +
                                                 " (fix --otlp-endpoint or GUST_OTLP_ENDPOINT)");
    }
    t->exporter_ = std::move(*exporter);
    // Read at scrape time: the exporter's thread keeps its own counts.
    OtlpExporter* e = t->exporter_.get();
    t->metrics_.spans_exported->series().setCallback([e] { return e->stats().spans_exported; });
    t->metrics_.spans_dropped->labels({"queue_full"}).setCallback([e] { return e->stats().spans_dropped_full; });
    t->metrics_.spans_dropped->labels({"export_failed"}).setCallback([e] { return e->stats().spans_dropped_failed; });
  }
  return t;
}

Telemetry::~Telemetry() {
  // A short flush: spans still queued after it are counted as dropped, not waited for.
  if (exporter_) exporter_->shutdown(std::chrono::milliseconds(500));
}

InvocationSeries* Telemetry::invocationSeries(const std::string& app, const std::string& function,
                                              const std::string& trigger) {
  auto& slot = series_[{app, function, trigger}];
  if (!slot) {
    slot = std::make_unique<InvocationSeries>();
    slot->app = app;
    slot->function = function;
    slot->trigger = trigger;
    slot->invocations = metrics_.invocations;
    slot->durations = metrics_.invocation_duration;
  }
  return slot.get();
}

std::string Telemetry::scrape() {
  for (auto& hook : scrape_hooks_) hook();
  return registry_.renderPrometheus();
}

void Telemetry::exportInvocationSpan(const InvocationSeries& series, const std::string& invocation_id,
                                     const std::string& traceparent, const std::string& tracestate,
                                     const SpanId& parent, std::chrono::system_clock::time_point start,
                                     const Outcome& outcome) {
  if (!exporter_) return;
  auto ctx = parseTraceparent(traceparent);
  if (!ctx) return;  // the dispatcher gives every invocation a valid one; nothing to export otherwise
  ctx->parent_span_id = parent;
  ctx->tracestate = tracestate;
  Span span = spanFor(*ctx, series.app + "/" + series.function, spanKindOf(series.trigger));
  span.start = start;
  span.end = clock_.wallNow();
  span.attributes = {{"gust.app", series.app},
                     {"gust.function", series.function},
                     {"gust.invocation_id", invocation_id},
                     {"gust.trigger", series.trigger},
                     {"gust.outcome", std::string(outcomeName(outcome.kind))},
                     {"gust.cold_start", int64_t{outcome.cold_start ? 1 : 0}}};
  if (outcome.kind == OutcomeKind::kOk) {
    span.attributes.push_back({"http.response.status_code", int64_t{outcome.status}});
    span.status = outcome.status >= 500 ? SpanStatusCode::kError : SpanStatusCode::kUnset;
  } else {
    span.status = SpanStatusCode::kError;
    span.status_message = outcome.message;
  }
  exporter_->push(std::move(span));
}

}  // namespace gust
