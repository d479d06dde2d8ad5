#include "runtime/admin/admin_invocations.h"

#include <charconv>
#include <memory>

#include "runtime/base/names.h"
#include "triggers/http/async_json.h"
#include "runtime/base/iso8601.h"

namespace gust {
namespace {

using json = nlohmann::json;

// A record's log lines are stored as the JSON of each line (see Dispatcher::observed);
// a line the store cut, or its "lines dropped" marker, is not JSON and is given as text.
json logsJson(const std::vector<std::string>& logs) {
  json out = json::array();
  for (const auto& stored : logs) {
    json line = json::parse(stored, nullptr, false);
    out.push_back(line.is_object() ? std::move(line) : json{{"stream", "log"}, {"text", stored}});
  }
  return out;
}

// The list leaves the logs out: `show` has them.
json recordJson(const InvocationRecord& r, bool with_logs) {
  json j = {{"id", r.id},
          {"app", r.app},
          {"function", r.function},
          {"trigger", recordTriggerName(r.trigger)},
          {"started_at", formatIso8601(r.started_at, nullptr, Iso8601Precision::kMillis)},
          {"duration_ms", static_cast<double>(r.duration.count()) / 1000},
          {"cold_start", r.cold_start},
          {"cold_start_ms", static_cast<double>(r.cold_start_duration.count()) / 1000},
          {"attempt", r.attempt},
          {"outcome", outcomeName(r.outcome)},
          {"error", r.error},
          {"trace_id", r.trace_id}};
  if (!r.host.empty()) j["host"] = r.host;  // on a cluster: the host that ran it
  if (with_logs) j["logs"] = logsJson(r.logs);
  return j;
}


HttpResponse notFound(const std::string& id) {
  return problemResponse(404, "Not Found", "no invocation " + id + " (unknown, or expired after its retention)");
}

}  // namespace

void addInvocationRoutes(AdminApi& api, InvocationStore& store) {
  api.route({"GET"}, "/v1/invocations", [&store](AdminCall&& call) {
    RecordFilter filter;
    filter.app = call.query("app");
    filter.function = call.query("function");
    std::string failed = call.query("failed");
    if (!failed.empty() && failed != "0" && failed != "1" && failed != "true" && failed != "false") {
      call.responder.send(badRequest("failed must be 1 or 0, got \"" + failed.substr(0, 32) + "\""));
      return;
    }
    filter.failed_only = failed == "1" || failed == "true";
    if (std::string text = call.query("limit"); !text.empty()) {
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), filter.limit);
      if (ec != std::errc() || end != text.data() + text.size() || filter.limit < 1 ||
          filter.limit > store.options().max_list) {
        call.responder.send(badRequest("limit must be a whole number from 1 to " +
                                       std::to_string(store.options().max_list) + ", got \"" + text.substr(0, 32) +
                                       "\""));
        return;
      }
    }
    if (!filter.app.empty()) {
      if (auto valid = validateAppName(filter.app); !valid) {
        call.responder.send(badRequest(valid.error().message));
        return;
      }
    }
    if (!filter.function.empty()) {
      if (auto valid = validateFunctionName(filter.function); !valid) {
        call.responder.send(badRequest(valid.error().message));
        return;
      }
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto posted = store.listRecords(std::move(filter), [responder](Result<std::vector<InvocationRecord>> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      json list = json::array();
      for (const auto& record : *r) list.push_back(recordJson(record, false));
      responder->send(jsonResponse({{"invocations", std::move(list)}}));
    });
    if (!posted) responder->send(errorResponse(posted.error()));
  });

  api.route({"GET"}, "/v1/invocations/{id}", [&store](AdminCall&& call) {
    std::string id = call.param("id");
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto posted = store.getAsync(id, [&store, responder, id](Result<std::optional<AsyncInvocation>> found) {
      if (!found) {
        responder->send(errorResponse(found.error()));
        return;
      }
      // An async invocation answers with its status and response, completed by the record
      // of its last attempt (timing, cold start, trace, logs) once there is one.
      json async = *found ? asyncInvocationJson(**found) : json();
      auto record = store.getRecord(id, [responder, id, async = std::move(async)](
                                            Result<std::optional<InvocationRecord>> r) mutable {
        if (!r) {
          responder->send(errorResponse(r.error()));
        } else if (!async.is_null()) {
          if (*r) {
            json record = recordJson(**r, true);
            for (auto& [key, value] : record.items()) {
              // The record's error is the full one; the async state shows callers only its kind.
              bool fuller = key == "error" && !value.get<std::string>().empty();
              if (!async.contains(key) || fuller) async[key] = std::move(value);
            }
          }
          responder->send(jsonResponse(async));
        } else if (!*r) {
          responder->send(notFound(id));
        } else {
          responder->send(jsonResponse(recordJson(**r, true)));
        }
      });
      if (!record) responder->send(errorResponse(record.error()));
    });
    if (!posted) {
      responder->send(posted.error().kind == ErrorKind::kBadInput ? notFound(id) : errorResponse(posted.error()));
    }
  });
}

}  // namespace gust
