#include "runtime/exec/invocation_observer.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "gust/abi.h"

namespace gust {
namespace {

// More than a record keeps (InvocationStoreOptions::max_log_lines cuts it), so that its
// marker can say how many were dropped.
constexpr size_t kMaxRecordLogLines = 1000;

// Where an invocation came from, for its metrics series and its record.
RecordTrigger triggerOf(const Invocation& invocation) {
  if (invocation.async) return RecordTrigger::kAsync;
  switch (invocation.payload.trigger) {
    case GUST_TRIGGER_TIMER: return RecordTrigger::kTimer;
    case GUST_TRIGGER_QUEUE: return RecordTrigger::kQueue;
    case GUST_TRIGGER_WEBSOCKET: return RecordTrigger::kWebSocket;
  }
  return RecordTrigger::kHttp;
}

}  // namespace

InvocationObserver InvocationObserver::begin(Telemetry& telemetry, InvocationRecorder* recorder, const Clock& clock,
                                             const SeriesByTrigger& series, const Invocation& invocation) {
  InvocationObserver o(telemetry, recorder, clock);
  o.trigger_ = triggerOf(invocation);
  o.series_ = series[static_cast<size_t>(o.trigger_)];
  o.id_ = invocation.id;
  o.attempt_ = invocation.attempt;
  if (recorder != nullptr) o.first_log_seq_ = telemetry.logs().nextSeq(o.series_->app);
  o.start_ = clock.now();
  std::string_view trace_hex = traceIdIn(invocation.trace.traceparent);
  std::copy(trace_hex.begin(), trace_hex.end(), o.trace_id_.begin());
  o.exporting_ = telemetry.exporter() != nullptr;
  if (o.exporting_) {
    o.traceparent_ = invocation.trace.traceparent;
    o.tracestate_ = invocation.trace.tracestate;
    o.parent_ = invocation.parent_span;
    o.wall_start_ = clock.wallNow();
  }
  return o;
}

void InvocationObserver::finish(const Outcome& outcome) {
  auto elapsed = clock_.now() - start_;
  series_->record(outcome.kind, std::chrono::duration<double>(elapsed).count());
  if (outcome.kind != OutcomeKind::kOk) logFailure(outcome);
  record(outcome, elapsed);
  if (exporting_) {
    telemetry_.exportInvocationSpan(*series_, id_, traceparent_, tracestate_, parent_, wall_start_, outcome);
  }
}

std::string_view InvocationObserver::traceId() const {
  return std::string_view(trace_id_.data(), trace_id_[0] == '\0' ? 0 : trace_id_.size());
}

void InvocationObserver::logFailure(const Outcome& outcome) const {
  // Overload and unknown names are the caller's answer, not news about the function.
  bool quiet = outcome.kind == OutcomeKind::kOverloaded || outcome.kind == OutcomeKind::kNotFound;
  auto level = quiet ? spdlog::level::debug : spdlog::level::warn;
  std::string text = std::string(outcomeName(outcome.kind)) + ": " + outcome.message;
  const InvocationFields fields{series_->app, series_->function, id_, traceId()};
  logInvocation(level, fields, text);
  if (!quiet) telemetry_.logs().append(invocationLogLine(fields, LogStream::kLog, level, std::move(text)));
}

void InvocationObserver::record(const Outcome& outcome, std::chrono::steady_clock::duration elapsed) const {
  // Failures, cold starts and retries are always recorded; a busy function's plain
  // successes are sampled (see InvocationRecorder::admits).
  bool notable = outcome.kind != OutcomeKind::kOk || outcome.cold_start || attempt_ > 1;
  if (recorder_ == nullptr || (!notable && !recorder_->admits(series_))) return;
  InvocationRecord record;
  record.id = id_;
  record.app = series_->app;
  record.function = series_->function;
  record.trigger = trigger_;
  auto took = std::chrono::duration_cast<std::chrono::microseconds>(elapsed);
  record.started_at = clock_.wallNow() - took;
  record.duration = took;
  record.cold_start = outcome.cold_start;
  record.cold_start_duration = std::chrono::microseconds(static_cast<int64_t>(outcome.cold_start_ms * 1000));
  record.attempt = attempt_;
  record.outcome = outcome.kind;
  if (outcome.kind != OutcomeKind::kOk) record.error = outcome.message;
  record.trace_id = traceId();
  // The worker's output reached the log before its result did (see WorkerProcess).
  for (const LogLine& line : telemetry_.logs().linesOf(series_->app, id_, first_log_seq_, kMaxRecordLogLines)) {
    record.logs.push_back(logLineToJson(line));
  }
  recorder_->add(std::move(record));
}

}  // namespace gust
