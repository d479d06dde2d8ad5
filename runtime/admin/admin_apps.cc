#include "runtime/admin/admin_apps.h"

#include "runtime/base/iso8601.h"
#include "runtime/base/names.h"
#include "runtime/base/suggest.h"
#include "runtime/exec/app_cgroups.h"
#include "triggers/http/multipart.h"

namespace gust {
namespace {

using json = nlohmann::json;

std::string iso8601(std::chrono::system_clock::time_point t) { return formatIso8601(t, nullptr); }

json routesJson(const AppInfo& app, const std::string& public_url) {
  json routes = json::array();
  for (const auto& f : app.manifest.functions) {
    for (const auto& r : f.routes) {
      routes.push_back({{"function", f.name}, {"methods", r.methods}, {"path", r.path}, {"url", public_url + r.path}});
    }
  }
  return routes;
}

json timersJson(const AppInfo& app, const TimerTrigger& timers) {
  json out = json::array();
  for (const auto& f : app.manifest.functions) {
    if (!f.timer) continue;
    std::string id = app.manifest.name + "/" + f.name;
    auto stats = timers.scheduler().stats(id);
    auto next = timers.scheduler().nextFire(id);
    out.push_back({{"function", f.name},
                   {"schedule", f.timer->schedule},
                   {"time_zone", f.timer->time_zone.empty() ? "UTC" : f.timer->time_zone},
                   {"next", next ? iso8601(*next) : ""},
                   {"runs", stats.runs},
                   {"skipped_overlap", stats.skipped_overlap},
                   {"elsewhere", stats.elsewhere},
                   {"failures", stats.failures},
                   {"past_due", stats.past_due}});
  }
  return out;
}

json queuesJson(const AppInfo& app) {
  json out = json::array();
  for (const auto& f : app.manifest.functions) {
    if (!f.queue) continue;
    out.push_back({{"function", f.name},
                   {"queue", f.queue->queue},
                   {"batch_size", f.queue->batch_size},
                   {"max_attempts", f.queue->max_attempts}});
  }
  return out;
}

// What bounds the app's memory and tasks, and what contains its workers: namespaces, user,
// system-call filter (docs/admin-api.md, "Apps").
json limitsJson(const AppInfo& app, const Dispatcher& dispatcher) {
  const PoolSettings& pool = app.manifest.pool;
  if (app.manifest.isolation == Isolation::kThread) {
    return {{"mechanism", "none"}, {"summary", "none (thread isolation: handlers run inside the host)"},
            {"containment", dispatcher.containmentOf(app.manifest.name)}};
  }
  const AppCgroups* cgroups = dispatcher.cgroups();
  CgroupVersion version = cgroups ? cgroups->version() : CgroupVersion::kNone;
  json limits = {{"mechanism", version == CgroupVersion::kV2   ? "cgroup v2"
                               : version == CgroupVersion::kV1 ? "cgroup v1"
                                                               : "per worker"},
                 {"worker_memory_mb", pool.memory_mb},
                 {"summary", cgroups ? cgroups->describe(pool) : "per worker (no cgroup)"},
                 {"containment", dispatcher.containmentOf(app.manifest.name)}};
  if (version != CgroupVersion::kNone) {
    limits["app_memory_mb"] = uint64_t{pool.memory_mb} * pool.max_instances;
    limits["app_max_tasks"] = pool.max_processes;
  }
  return limits;
}

json appJson(const AppInfo& app, const Dispatcher& dispatcher, const TimerTrigger& timers,
             const std::string& public_url) {
  json functions = json::array();
  for (const auto& f : app.manifest.functions) {
    json fn = {{"name", f.name}, {"timeout_ms", app.manifest.timeoutOf(f).count()}};
    json routes = json::array();
    for (const auto& r : f.routes) routes.push_back({{"path", r.path}, {"methods", r.methods}});
    fn["routes"] = routes;
    functions.push_back(fn);
  }
  const Executor* pool = dispatcher.pool(app.manifest.name);
  return {{"name", app.manifest.name},
          {"version", app.version},
          {"source", app.version.empty() ? "dir" : "store"},
          {"dir", app.dir.string()},
          {"isolation", app.manifest.isolation == Isolation::kThread ? "thread" : "process"},
          {"functions", functions},
          {"routes", routesJson(app, public_url)},
          {"timers", timersJson(app, timers)},
          {"queues", queuesJson(app)},
          {"limits", limitsJson(app, dispatcher)},
          {"pool", pool ? poolJson(pool->stats()) : json::object()}};
}

void answer(HttpResponder& responder, const Result<DeployReport>& report, int status) {
  if (!report) {
    // A version that does not start is the upload's fault, not the host's.
    if (report.error().kind == ErrorKind::kUnavailable) {
      responder.send(problemResponse(422, "Version did not start", report.error().message));
    } else {
      responder.send(errorResponse(report.error()));
    }
    return;
  }
  responder.send(
      jsonResponse({{"app", report->app}, {"version", report->version}, {"took_ms", report->took.count()}}, status));
}

}  // namespace

json poolJson(const PoolStats& s) {
  return {{"starting", s.starting},
          {"idle", s.idle},
          {"busy", s.busy},
          {"stopping", s.stopping},
          {"pending", s.pending},
          {"cold_starts", s.cold_starts},
          {"last_cold_start_ms", s.last_cold_start_ms},
          {"crashes", s.crashes},
          {"start_failures", s.start_failures},
          {"last_start_error", s.last_start_error}};
}

void addAppRoutes(AdminApi& api, AppManager& apps, Dispatcher& dispatcher, TimerTrigger& timers, KeyStore& keys,
                  StateStore& state, const std::string& public_url) {
  api.route({"GET"}, "/v1/apps", [&dispatcher, &timers, &public_url](AdminCall&& call) {
    json list = json::array();
    for (const auto& name : dispatcher.appNames()) {
      list.push_back(appJson(*dispatcher.app(name), dispatcher, timers, public_url));
    }
    call.responder.send(jsonResponse({{"apps", list}, {"http_url", public_url}}));
  });

  api.route({"GET"}, "/v1/apps/{app}", [&apps, &dispatcher, &timers, &public_url](AdminCall&& call) {
    std::string name = call.param("app");
    const AppInfo* app = dispatcher.app(name);
    auto versions = apps.store().versions(name);
    if (app == nullptr && (!versions || versions->empty())) {
      std::string message = "no app named \"" + name + "\"";
      if (auto close = closestMatch(name, dispatcher.appNames())) message += " (did you mean \"" + *close + "\"?)";
      call.responder.send(problemResponse(404, "Not Found", message));
      return;
    }
    json body = app ? appJson(*app, dispatcher, timers, public_url) : json{{"name", name}, {"version", ""}};
    json list = json::array();
    if (versions) {
      for (const auto& v : *versions) {
        list.push_back({{"version", v.version},
                        {"created_at", iso8601(v.created)},
                        {"size_bytes", v.module_bytes},
                        {"active", app != nullptr && app->version == v.version}});
      }
    }
    body["versions"] = list;
    body["http_url"] = public_url;
    call.responder.send(jsonResponse(body));
  });

  api.route({"POST"}, "/v1/apps/{app}/versions", [&apps, &dispatcher, &public_url](AdminCall&& call) {
    std::string name = call.param("app");
    if (auto valid = validateAppName(name); !valid) {
      call.responder.send(errorResponse(valid.error()));
      return;
    }
    auto parts = parseMultipart(call.request.header("content-type"), call.request.body);
    if (!parts) {
      call.responder.send(problemResponse(400, "Bad Request",
                                          parts.error().message +
                                              "; send multipart/form-data with parts \"manifest\" (gust.json) and "
                                              "\"module\" (the built .so), e.g. curl -F manifest=@gust.json -F "
                                              "module=@build/" + name + ".so"));
      return;
    }
    std::string manifest, module;
    bool has_manifest = false, has_module = false;
    for (const auto& part : *parts) {
      if (part.name == "manifest") manifest.assign(part.body), has_manifest = true;
      else if (part.name == "module") module.assign(part.body), has_module = true;
      else {
        call.responder.send(problemResponse(400, "Bad Request", "unexpected part \"" + part.name +
                                                                    "\"; send only \"manifest\" and \"module\""));
        return;
      }
    }
    if (!has_manifest || !has_module) {
      call.responder.send(problemResponse(400, "Bad Request", std::string("the upload has no \"") +
                                                                  (has_manifest ? "module" : "manifest") + "\" part"));
      return;
    }
    std::string().swap(call.request.body);
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    apps.deploy(name, std::move(manifest), std::move(module),
                [responder, &dispatcher, public_url, name](Result<DeployReport> report) {
                  if (!report) {
                    answer(*responder, report, 201);
                    return;
                  }
                  json body = {{"app", report->app}, {"version", report->version}, {"took_ms", report->took.count()}};
                  if (const AppInfo* app = dispatcher.app(name)) {
                    body["routes"] = routesJson(*app, public_url);
                    body["queues"] = queuesJson(*app);
                    json timers = json::array();
                    for (const auto& f : app->manifest.functions) {
                      if (f.timer) timers.push_back({{"function", f.name}, {"schedule", f.timer->schedule}});
                    }
                    body["timers"] = timers;
                  }
                  body["http_url"] = public_url;
                  responder->send(jsonResponse(body, 201));
                });
  });

  api.route({"POST"}, "/v1/apps/{app}/rollback", [&apps](AdminCall&& call) {
    std::optional<std::string> version;
    if (!call.request.body.empty()) {
      json body = json::parse(call.request.body, nullptr, false);
      if (body.is_discarded() || !body.is_object() || (body.contains("version") && !body["version"].is_string())) {
        call.responder.send(problemResponse(400, "Bad Request",
                                            "the body must be empty or {\"version\": \"v3\"}"));
        return;
      }
      if (body.contains("version")) version = body["version"].get<std::string>();
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    apps.rollback(call.param("app"), version,
                  [responder](Result<DeployReport> report) { answer(*responder, report, 200); });
  });

  api.route({"DELETE"}, "/v1/apps/{app}", [&apps, &keys, &state](AdminCall&& call) {
    std::string name = call.param("app");
    if (auto removed = apps.remove(name); !removed) {
      call.responder.send(errorResponse(removed.error()));
      return;
    }
    // A later app of the same name must not inherit the keys or the state of this one.
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto revoked = keys.removeApp(name, [responder, name, &state](Result<size_t> count) {
      if (!count) return responder->send(errorResponse(count.error()));
      auto forgotten = state.removeApp(name, [responder, name, revoked = *count](Result<int64_t> keys_of_state) {
        if (!keys_of_state) return responder->send(errorResponse(keys_of_state.error()));
        responder->send(jsonResponse(
            {{"app", name}, {"removed", true}, {"keys_revoked", revoked}, {"state_keys_deleted", *keys_of_state}}));
      });
      if (!forgotten) responder->send(errorResponse(forgotten.error()));
    });
    if (!revoked) responder->send(errorResponse(revoked.error()));
  });

  api.route({"POST"}, "/v1/timers/{app}/{function}/run", [&timers](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto started = timers.runNow(call.param("app") + "/" + call.param("function"), [responder](TimerRunResult result) {
      json body = {{"status", toString(result.status)}, {"detail", result.detail}};
      responder->send(jsonResponse(body, result.status == TimerRunStatus::kOk ? 200 : 502));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });
}

}  // namespace gust
