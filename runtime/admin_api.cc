#include "runtime/admin_api.h"

#include <nlohmann/json.hpp>

#include "runtime/admin_token.h"

namespace gust {
namespace {

using json = nlohmann::json;

HttpResponse jsonResponse(const json& body, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = body.dump() + "\n";
  return r;
}

// "/v1/timers/APP/FUNCTION/run" -> {APP, FUNCTION}; empty when the path is not that shape.
std::pair<std::string, std::string> timerRunTarget(std::string_view path) {
  constexpr std::string_view kPrefix = "/v1/timers/", kSuffix = "/run";
  if (path.substr(0, kPrefix.size()) != kPrefix || path.size() <= kPrefix.size() + kSuffix.size() ||
      path.substr(path.size() - kSuffix.size()) != kSuffix) {
    return {};
  }
  std::string_view middle = path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size());
  size_t slash = middle.find('/');
  if (slash == std::string_view::npos || middle.find('/', slash + 1) != std::string_view::npos) return {};
  return {std::string(middle.substr(0, slash)), std::string(middle.substr(slash + 1))};
}

}  // namespace

AdminApi::AdminApi(uv_loop_t* loop, Dispatcher& dispatcher, TimerTrigger& timers, std::string token)
    : dispatcher_(dispatcher),
      timers_(timers),
      token_(std::move(token)),
      server_(loop, HttpLimits{}, [this](HttpRequest&& request, HttpResponder&& responder) {
        onRequest(std::move(request), std::move(responder));
      }) {}

Result<int> AdminApi::listen(const std::string& host, int port) {
  auto bound = server_.listen(host, port);
  if (bound) {
    bind_host_ = host;
    port_ = *bound;
  }
  return bound;
}

bool AdminApi::hostAllowed(std::string_view host) const {
  std::string port = ":" + std::to_string(port_);
  for (const std::string& name : {std::string("127.0.0.1"), std::string("localhost"), std::string("[::1]"), bind_host_}) {
    if (host == name + port) return true;
  }
  return false;
}

void AdminApi::onRequest(HttpRequest&& request, HttpResponder&& responder) {
  if (!hostAllowed(request.header("host"))) {
    responder.send(problemResponse(403, "Forbidden", "the admin API answers only requests addressed to its own "
                                                     "listener (Host " + std::string(bind_host_) + ":" +
                                                         std::to_string(port_) + ")"));
    return;
  }
  std::string_view origin = request.header("origin");
  if (!origin.empty() && (origin.substr(0, 7) != "http://" || !hostAllowed(origin.substr(7)))) {
    responder.send(problemResponse(403, "Forbidden", "cross-origin requests to the admin API are refused"));
    return;
  }
  if (request.path == "/healthz" || request.path == "/readyz") {
    responder.send(jsonResponse({{"status", "ok"}}));
    return;
  }
  std::string_view auth = request.header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (auth.substr(0, kBearer.size()) != kBearer || !constantTimeEquals(auth.substr(kBearer.size()), token_)) {
    HttpResponse r = problemResponse(401, "Unauthorized",
                                     "send the admin token as 'Authorization: Bearer TOKEN' (it is in the data dir's "
                                     "admin.token, or GUST_ADMIN_TOKEN)");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    responder.send(std::move(r));
    return;
  }
  if (request.path == "/v1/apps") {
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse r = problemResponse(405, "Method Not Allowed", "use GET");
      r.headers.emplace_back("Allow", "GET, HEAD");
      responder.send(std::move(r));
      return;
    }
    responder.send(listApps());
    return;
  }
  auto [app, function] = timerRunTarget(request.path);
  if (!app.empty()) {
    if (request.method != "POST") {
      HttpResponse r = problemResponse(405, "Method Not Allowed", "use POST to run a timer");
      r.headers.emplace_back("Allow", "POST");
      responder.send(std::move(r));
      return;
    }
    auto shared = std::make_shared<HttpResponder>(std::move(responder));
    auto started = timers_.runNow(app + "/" + function, [shared](TimerRunResult result) {
      json body = {{"status", toString(result.status)}, {"detail", result.detail}};
      shared->send(jsonResponse(body, result.status == TimerRunStatus::kOk ? 200 : 502));
    });
    if (!started) {
      int status = started.error().kind == ErrorKind::kNotFound ? 404 : 409;
      shared->send(problemResponse(status, status == 404 ? "Not Found" : "Conflict", started.error().message));
    }
    return;
  }
  responder.send(problemResponse(404, "Not Found", "no admin route " + request.method + " " + request.path));
}

HttpResponse AdminApi::listApps() const {
  json apps = json::array();
  for (const auto& name : dispatcher_.appNames()) {
    const AppInfo* app = dispatcher_.app(name);
    json functions = json::array();
    for (const auto& f : app->manifest.functions) {
      json fn = {{"name", f.name}, {"timeout_ms", app->manifest.timeoutOf(f).count()}};
      json routes = json::array();
      for (const auto& r : f.routes) routes.push_back({{"path", r.path}, {"methods", r.methods}});
      fn["routes"] = routes;
      if (f.timer) {
        std::string id = name + "/" + f.name;
        auto stats = timers_.scheduler().stats(id);
        auto next = timers_.scheduler().nextFire(id);
        fn["timer"] = {{"schedule", f.timer->schedule},
                       {"time_zone", f.timer->time_zone.empty() ? "UTC" : f.timer->time_zone},
                       {"next", next ? formatIso8601(*next, nullptr) : ""},
                       {"runs", stats.runs},
                       {"skipped_overlap", stats.skipped_overlap},
                       {"failures", stats.failures},
                       {"past_due", stats.past_due}};
      }
      functions.push_back(fn);
    }
    PoolStats s = dispatcher_.pool(name)->stats();
    apps.push_back({{"name", name},
                    {"dir", app->dir.string()},
                    {"functions", functions},
                    {"pool",
                     {{"starting", s.starting},
                      {"idle", s.idle},
                      {"busy", s.busy},
                      {"stopping", s.stopping},
                      {"pending", s.pending},
                      {"cold_starts", s.cold_starts},
                      {"last_cold_start_ms", s.last_cold_start_ms},
                      {"crashes", s.crashes},
                      {"start_failures", s.start_failures},
                      {"last_start_error", s.last_start_error}}}});
  }
  return jsonResponse({{"apps", apps}});
}

}  // namespace gust
