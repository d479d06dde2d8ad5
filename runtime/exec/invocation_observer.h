#pragma once
// The accounting of one invocation, from the moment the dispatcher hands it on to the
// moment its outcome comes back: begin() notes what the end will need (the series, the
// start, the trace, where its log lines start), finish() counts and times the outcome,
// logs a failure, records the invocation and exports its span, in that order.
//
// Owning thread: the loop thread. It borrows the telemetry, the recorder and the clock,
// which outlive every invocation's outcome (see Dispatcher::setRecorder).

#include <array>
#include <chrono>
#include <string>

#include "runtime/base/clock.h"
#include "runtime/observe/invocation_recorder.h"
#include "runtime/observe/telemetry.h"
#include "runtime/protocol/invocation.h"

namespace gust {

// A function's series, by RecordTrigger, so that an invocation never looks one up.
using SeriesByTrigger = std::array<InvocationSeries*, 5>;

class InvocationObserver {
 public:
  // Starts accounting for `invocation`, whose trace is set. `recorder` may be null: then
  // nothing is recorded.
  static InvocationObserver begin(Telemetry& telemetry, InvocationRecorder* recorder, const Clock& clock,
                                  const SeriesByTrigger& series, const Invocation& invocation);

  // Accounts for the invocation's `outcome`; call once.
  void finish(const Outcome& outcome);

 private:
  InvocationObserver(Telemetry& telemetry, InvocationRecorder* recorder, const Clock& clock)
      : telemetry_(telemetry), recorder_(recorder), clock_(clock) {}

  void logFailure(const Outcome& outcome) const;
  void record(const Outcome& outcome, std::chrono::steady_clock::duration elapsed) const;
  std::string_view traceId() const;

  Telemetry& telemetry_;
  InvocationRecorder* recorder_;
  const Clock& clock_;
  InvocationSeries* series_ = nullptr;
  RecordTrigger trigger_ = RecordTrigger::kHttp;
  std::string id_;
  int attempt_ = 1;
  uint64_t first_log_seq_ = 0;  // where the invocation's log lines start, for its record
  std::chrono::steady_clock::time_point start_;
  // The trace id for log lines rides in a fixed array: no allocation unless spans are
  // exported. All zero without one.
  std::array<char, 32> trace_id_{};
  // What the span needs, kept only when spans are exported.
  bool exporting_ = false;
  std::string traceparent_;
  std::string tracestate_;
  SpanId parent_{};
  std::chrono::system_clock::time_point wall_start_;
};

}  // namespace gust
