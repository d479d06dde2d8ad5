#include "runtime/admin_invocations.h"

#include <memory>

#include "runtime/async_json.h"
#include "triggers/timer/cron.h"

namespace gust {
namespace {

using json = nlohmann::json;

json recordJson(const InvocationRecord& r) {
  return {{"id", r.id},
          {"app", r.app},
          {"function", r.function},
          {"trigger", recordTriggerName(r.trigger)},
          {"started_at", formatIso8601(r.started_at, nullptr, Iso8601Precision::kMillis)},
          {"duration_ms", r.duration_ms},
          {"cold_start", r.cold_start},
          {"cold_start_ms", r.cold_start_ms},
          {"attempt", r.attempt},
          {"outcome", outcomeName(r.outcome)},
          {"error", r.error},
          {"trace_id", r.trace_id},
          {"logs", r.logs}};
}

HttpResponse notFound(const std::string& id) {
  return problemResponse(404, "Not Found", "no invocation " + id + " (unknown, or expired after its retention)");
}

}  // namespace

void addInvocationRoutes(AdminApi& api, InvocationStore& store) {
  api.route({"GET"}, "/v1/invocations/{id}", [&store](AdminCall&& call) {
    std::string id = call.param("id");
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto posted = store.getAsync(id, [&store, responder, id](Result<std::optional<AsyncInvocation>> found) {
      if (!found) {
        responder->send(errorResponse(found.error()));
        return;
      }
      if (*found) {
        responder->send(jsonResponse(asyncInvocationJson(**found)));
        return;
      }
      auto record = store.getRecord(id, [responder, id](Result<std::optional<InvocationRecord>> r) {
        if (!r) responder->send(errorResponse(r.error()));
        else if (!*r) responder->send(notFound(id));
        else responder->send(jsonResponse(recordJson(**r)));
      });
      if (!record) responder->send(errorResponse(record.error()));
    });
    if (!posted) {
      responder->send(posted.error().kind == ErrorKind::kBadInput ? notFound(id) : errorResponse(posted.error()));
    }
  });
}

}  // namespace gust
