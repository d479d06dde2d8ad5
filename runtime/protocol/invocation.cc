#include "runtime/protocol/invocation.h"

#include "runtime/protocol/http_status.h"

namespace gust {

const char* outcomeName(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kOk: return "ok";
    case OutcomeKind::kFunctionError: return "error";
    case OutcomeKind::kCrashed: return "crashed";
    case OutcomeKind::kTimedOut: return "timeout";
    case OutcomeKind::kOverloaded: return "overloaded";
    case OutcomeKind::kUnavailable: return "unavailable";
    case OutcomeKind::kNotFound: return "not_found";
    case OutcomeKind::kConflict: return "conflict";
  }
  return "unknown";
}

Outcome failedOutcome(OutcomeKind kind, std::string message, std::chrono::milliseconds retry_after) {
  Outcome o;
  o.kind = kind;
  o.status = httpStatusOf(kind);
  o.message = std::move(message);
  o.retry_after = retry_after;
  return o;
}

}  // namespace gust
