// The one table from an outcome or an error to an HTTP status, and the places that answer
// with it: an outcome made by failedOutcome, the HTTP trigger's answer to it and the admin
// API's answer to an error all carry the table's status, and 503, 429 and 507 alone carry
// Retry-After.
#include "runtime/protocol/http_status.h"

#include <doctest/doctest.h>

#include <string>

#include "runtime/admin/admin_api.h"
#include "triggers/http/http_trigger.h"

namespace gust {
namespace {

constexpr OutcomeKind kFailures[] = {OutcomeKind::kFunctionError, OutcomeKind::kCrashed, OutcomeKind::kTimedOut,
                                     OutcomeKind::kOverloaded,    OutcomeKind::kUnavailable, OutcomeKind::kNotFound};
constexpr ErrorKind kErrors[] = {ErrorKind::kBadInput,  ErrorKind::kNotFound,      ErrorKind::kOverloaded,
                                 ErrorKind::kTimeout,   ErrorKind::kCrashed,       ErrorKind::kFunctionError,
                                 ErrorKind::kUnavailable, ErrorKind::kConflict,    ErrorKind::kTooLarge,
                                 ErrorKind::kLimitReached, ErrorKind::kStorageFull,
                                 ErrorKind::kIo,        ErrorKind::kInternal};

std::string header(const HttpResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST_CASE("an outcome's status: 500 function error, 502 crashed, 504 timed out, 503 no capacity, 404 unknown") {
  CHECK(httpStatusOf(OutcomeKind::kOk) == 200);
  CHECK(httpStatusOf(OutcomeKind::kFunctionError) == 500);
  CHECK(httpStatusOf(OutcomeKind::kCrashed) == 502);
  CHECK(httpStatusOf(OutcomeKind::kTimedOut) == 504);
  CHECK(httpStatusOf(OutcomeKind::kOverloaded) == 503);
  CHECK(httpStatusOf(OutcomeKind::kUnavailable) == 503);
  CHECK(httpStatusOf(OutcomeKind::kNotFound) == 404);
}

TEST_CASE("an error's status agrees with the outcome of the same name; the host's own failures are 500") {
  CHECK(httpStatusOf(ErrorKind::kBadInput) == 400);
  CHECK(httpStatusOf(ErrorKind::kNotFound) == httpStatusOf(OutcomeKind::kNotFound));
  CHECK(httpStatusOf(ErrorKind::kConflict) == 409);
  CHECK(httpStatusOf(ErrorKind::kTooLarge) == 413);
  CHECK(httpStatusOf(ErrorKind::kLimitReached) == 429);
  CHECK(httpStatusOf(ErrorKind::kStorageFull) == 507);
  CHECK(httpStatusOf(ErrorKind::kOverloaded) == httpStatusOf(OutcomeKind::kOverloaded));
  CHECK(httpStatusOf(ErrorKind::kUnavailable) == httpStatusOf(OutcomeKind::kUnavailable));
  CHECK(httpStatusOf(ErrorKind::kTimeout) == httpStatusOf(OutcomeKind::kTimedOut));
  CHECK(httpStatusOf(ErrorKind::kCrashed) == httpStatusOf(OutcomeKind::kCrashed));
  CHECK(httpStatusOf(ErrorKind::kFunctionError) == httpStatusOf(OutcomeKind::kFunctionError));
  CHECK(httpStatusOf(ErrorKind::kIo) == 500);
  CHECK(httpStatusOf(ErrorKind::kInternal) == 500);
}

TEST_CASE("a failed outcome and the HTTP trigger's answer to it carry the table's status") {
  for (OutcomeKind kind : kFailures) {
    CAPTURE(outcomeName(kind));
    Outcome failed = failedOutcome(kind, "why", std::chrono::milliseconds(2500));
    CHECK(failed.status == httpStatusOf(kind));
    HttpResponse answer = responseFor(std::move(failed), "inv-1", true);
    CHECK(answer.status == httpStatusOf(kind));
    CHECK(answer.body.find("why") != std::string::npos);
    CHECK(answer.body.find("\"invocation_id\":\"inv-1\"") != std::string::npos);
    // Retry-After rounds the outcome's wait up to whole seconds.
    CHECK(header(answer, "Retry-After") == (httpStatusOf(kind) == 503 ? "3" : ""));
  }
}

TEST_CASE("without expose_errors a 5xx answer names the kind of failure and the invocation, never its message") {
  for (OutcomeKind kind : kFailures) {
    CAPTURE(outcomeName(kind));
    Outcome failed = failedOutcome(kind, "killed by signal 11 in /srv/app.so", std::chrono::milliseconds(0));
    HttpResponse answer = responseFor(std::move(failed), "inv-2", false);
    CHECK(answer.status == httpStatusOf(kind));
    CHECK(answer.body.find("\"invocation_id\":\"inv-2\"") != std::string::npos);
    if (answer.status >= 500) {
      CHECK(answer.body.find("signal") == std::string::npos);
      CHECK(answer.body.find("/srv/app.so") == std::string::npos);
      CHECK(answer.body.find(std::string(publicDetailOf(kind))) != std::string::npos);
    } else {
      CHECK(answer.body.find("signal 11") != std::string::npos);  // a 4xx is about the request
    }
  }
}

TEST_CASE("the admin API answers an error with the table's status, and Retry-After with a 503, 429 or 507") {
  for (ErrorKind kind : kErrors) {
    CAPTURE(static_cast<int>(kind));
    HttpResponse answer = errorResponse(Error{kind, "why"});
    CHECK(answer.status == httpStatusOf(kind));
    CHECK(answer.body.find("\"status\":" + std::to_string(httpStatusOf(kind))) != std::string::npos);
    const int status = httpStatusOf(kind);
    CHECK(header(answer, "Retry-After") == (status == 503 || status == 429 || status == 507 ? "1" : ""));
  }
}

}  // namespace
}  // namespace gust
