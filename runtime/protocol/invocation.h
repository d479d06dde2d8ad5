#pragma once
// What every trigger hands the dispatcher, and the one answer it gets back. The dispatcher
// knows nothing of HTTP, cron or queues; each trigger maps an Outcome to its own world.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "runtime/protocol/frame.h"
#include "runtime/protocol/queue_types.h"
#include "runtime/protocol/trace_context.h"
#include "runtime/base/unique_function.h"

namespace gust {

struct Invocation {
  std::string id;
  std::string app;
  std::string function;
  TraceContext trace;  // set by the trigger; passed to the function and onto what it publishes
  // The caller's span when `trace` continues a trace (all zero for a root): the parent of
  // the span exported for this invocation.
  SpanId parent_span{};
  Payload payload;     // payload.messages holds the batch of a queue invocation
  // Which try this is: an async invocation's attempt, or the highest attempt in a queue
  // batch. 1 for everything else.
  int attempt = 1;
  bool async = false;  // an HTTP request accepted with `Prefer: respond-async`
};

enum class OutcomeKind {
  kOk,             // the function answered; status/headers/body are its response
  kFunctionError,  // the function failed or threw: 500 with the message
  kCrashed,        // its worker died: 502 naming the signal or exit status
  kTimedOut,       // past its timeout; the worker was killed: 504
  kOverloaded,     // no capacity and the pending queue is full or timed out: 503
  kUnavailable,    // the app's workers cannot start (e.g. ABI mismatch): 503
  kNotFound,       // no such app or function: 404
  kConflict,       // a state write's version check failed at commit; nothing committed: 409
};
constexpr size_t kOutcomeKindCount = static_cast<size_t>(OutcomeKind::kConflict) + 1;

struct Outcome {
  OutcomeKind kind = OutcomeKind::kOk;
  int status = 200;
  Pairs headers;
  std::string body;
  std::string message;  // why, for every kind but kOk
  bool cold_start = false;
  double cold_start_ms = 0;  // how long the instance it waited for took to start
  std::chrono::milliseconds retry_after{0};  // for kOverloaded and kUnavailable
  // For kOk of an invocation with a batch: exactly one settlement per message, in batch
  // order (a message the function did not settle is acked). Empty for every other kind:
  // a failed, crashed or timed-out batch is retried whole.
  std::vector<Settlement> settlements;
  // For kOk only: what the function published, to be committed with the settlements. A
  // failed invocation publishes nothing.
  std::vector<Publish> publishes;
  // For kOk only: the app state writes the function buffered, committed with the
  // settlements and publishes (all or nothing; docs/architecture.md "App state").
  std::vector<StateWrite> state_writes;
};

// An outcome that is not the function's answer: `kind`, its HTTP status, and why.
Outcome failedOutcome(OutcomeKind kind, std::string message,
                      std::chrono::milliseconds retry_after = std::chrono::milliseconds(0));

// Runs exactly once per invocation, on the loop thread.
using OutcomeCallback = UniqueFunction<void(Outcome&&)>;

const char* outcomeName(OutcomeKind kind);

}  // namespace gust
