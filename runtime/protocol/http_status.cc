#include "runtime/protocol/http_status.h"

namespace gust {

int httpStatusOf(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kOk: return 200;
    case OutcomeKind::kFunctionError: return 500;
    case OutcomeKind::kCrashed: return 502;
    case OutcomeKind::kTimedOut: return 504;
    case OutcomeKind::kOverloaded:
    case OutcomeKind::kUnavailable: return 503;
    case OutcomeKind::kNotFound: return 404;
    case OutcomeKind::kConflict: return 409;
  }
  return 500;
}

int httpStatusOf(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadInput: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kTooLarge: return 413;
    case ErrorKind::kLimitReached: return 429;
    case ErrorKind::kStorageFull: return 507;
    case ErrorKind::kOverloaded:
    case ErrorKind::kUnavailable: return 503;
    case ErrorKind::kTimeout: return 504;
    case ErrorKind::kCrashed: return 502;
    case ErrorKind::kFunctionError: return 500;
    case ErrorKind::kIo:
    case ErrorKind::kInternal: return 500;
  }
  return 500;
}

}  // namespace gust
