#pragma once
// The one table from an outcome or an error to an HTTP status. The HTTP trigger answers an
// invocation with it, failedOutcome stamps it on an Outcome, and the admin API answers its
// errors with it, so that a crashed function is a 502 wherever a client meets it.
//
//   function error 500, crashed 502, timed out 504, overloaded or unavailable 503 (with
//   Retry-After), not found 404, a state write's conflict 409, bad input 400, conflict 409, too large 413, an app's
//   storage bound reached 429 and the host's disk full 507 (both with Retry-After), and 500
//   for what is the host's own failure (an I/O error or a bug).

#include "runtime/base/result.h"
#include "runtime/protocol/invocation.h"

namespace gust {

// The status for an invocation that ended as `kind`; for kOk, 200 (the function's own
// status, in Outcome::status, is what a trigger answers then).
int httpStatusOf(OutcomeKind kind);
int httpStatusOf(ErrorKind kind);

// Whether an answer with `status` tells the client when to try again (Retry-After): the
// failures that pass once capacity returns, the app starts, work drains below a bound or
// disk space is freed.
inline bool carriesRetryAfter(int status) { return status == 503 || status == 429 || status == 507; }

}  // namespace gust
