#include "triggers/http/http_trigger.h"

#include <nlohmann/json.hpp>

#include "gust/abi.h"
#include "triggers/http/http_text.h"

namespace gust {
namespace {

using http::equalsIgnoreCase;

// Framing headers are the server's to set; a function cannot break the connection with them.
bool isServerOwned(std::string_view name) {
  for (std::string_view h : {"content-length", "transfer-encoding", "connection", "date", "keep-alive", "upgrade",
                             "trailer", "te"}) {
    if (equalsIgnoreCase(name, h)) return true;
  }
  return false;
}

HttpResponse problem(int status, std::string_view title, const std::string& detail, const std::string& invocation_id) {
  HttpResponse r = problemResponse(status, title, detail);
  if (!invocation_id.empty()) r.headers.emplace_back("X-Gust-Invocation-Id", invocation_id);
  return r;
}

}  // namespace

HttpResponse responseFor(Outcome&& outcome, const std::string& invocation_id) {
  switch (outcome.kind) {
    case OutcomeKind::kOk: {
      if (outcome.status < 200 || outcome.status > 599) {
        return problem(500, "Invalid function response",
                       "the function answered with status " + std::to_string(outcome.status) +
                           "; use a status from 200 to 599",
                       invocation_id);
      }
      HttpResponse r;
      r.status = outcome.status;
      r.headers.reserve(outcome.headers.size() + 1);
      for (auto& [name, value] : outcome.headers) {
        if (!http::isToken(name) || !http::isSafeFieldValue(value)) {
          return problem(500, "Invalid function response",
                         "the function set an invalid header (names must be HTTP tokens; values must not hold "
                         "CR, LF or NUL)",
                         invocation_id);
        }
        if (isServerOwned(name)) continue;
        r.headers.emplace_back(std::move(name), std::move(value));
      }
      r.headers.emplace_back("X-Gust-Invocation-Id", invocation_id);
      if (outcome.cold_start) r.headers.emplace_back("X-Gust-Cold-Start", "1");
      if (r.status != 204 && r.status != 304) r.body = std::move(outcome.body);
      return r;
    }
    case OutcomeKind::kFunctionError:
      return problem(500, "Function error", outcome.message, invocation_id);
    case OutcomeKind::kCrashed:
      return problem(502, "Function crashed", outcome.message, invocation_id);
    case OutcomeKind::kTimedOut:
      return problem(504, "Function timed out", outcome.message, invocation_id);
    case OutcomeKind::kOverloaded:
    case OutcomeKind::kUnavailable: {
      HttpResponse r = problem(503, outcome.kind == OutcomeKind::kOverloaded ? "Overloaded" : "Function unavailable",
                               outcome.message, invocation_id);
      auto seconds = std::max<int64_t>(1, (outcome.retry_after.count() + 999) / 1000);
      r.headers.emplace_back("Retry-After", std::to_string(seconds));
      return r;
    }
    case OutcomeKind::kNotFound:
      return problem(404, "Not Found", outcome.message, invocation_id);
  }
  return problem(500, "Internal error", "unknown outcome", invocation_id);
}

HttpTrigger::HttpTrigger(uv_loop_t* loop, Dispatcher& dispatcher, HttpLimits limits)
    : dispatcher_(dispatcher),
      server_(loop, limits, [this](HttpRequest&& request, HttpResponder&& responder) {
        onRequest(std::move(request), std::move(responder));
      }) {}

std::vector<Route> HttpTrigger::routesOf(const AppInfo& app) {
  std::vector<Route> routes;
  for (const auto& f : app.manifest.functions) {
    for (const auto& r : f.routes) routes.push_back(Route{r.methods, r.path, RouteTarget{app.manifest.name, f.name}});
  }
  return routes;
}

Result<Router> HttpTrigger::build(const std::map<std::string, std::vector<Route>>& routes) const {
  Router router;
  for (const auto& [app, list] : routes) {
    for (const auto& route : list) {
      auto added = router.add(route);
      if (!added) {
        return makeError(ErrorKind::kBadInput, "app " + app + ", function " + route.target.function + ", route " +
                                                   route.pattern + ": " + added.error().message);
      }
    }
  }
  return router;
}

Result<void> HttpTrigger::checkApp(const AppInfo& app) const {
  auto routes = routes_;
  routes[app.manifest.name] = routesOf(app);
  auto router = build(routes);
  if (!router) return router.error();
  return {};
}

Result<void> HttpTrigger::addApp(const AppInfo& app) {
  auto routes = routes_;
  routes[app.manifest.name] = routesOf(app);
  auto router = build(routes);
  if (!router) return router.error();
  routes_ = std::move(routes);
  router_ = std::move(*router);
  return {};
}

void HttpTrigger::removeApp(const std::string& name) {
  if (routes_.erase(name) == 0) return;
  // Removing routes cannot make the rest conflict.
  auto router = build(routes_);
  router_ = std::move(*router);
}

std::string HttpTrigger::continueTrace(Invocation& inv) {
  std::optional<std::string_view> parent_header, state_header;
  std::string joined_state;  // several tracestate headers form one list
  for (const auto& [name, value] : inv.payload.headers) {
    if (equalsIgnoreCase(name, "traceparent")) {
      // Two traceparents cannot both be the caller: the header is invalid, so absent.
      parent_header = parent_header ? std::optional<std::string_view>("") : std::optional<std::string_view>(value);
    } else if (equalsIgnoreCase(name, "tracestate")) {
      joined_state += (joined_state.empty() ? "" : ",") + value;
      state_header = joined_state;
    }
  }
  SpanContext span;
  if (auto caller = parent_header ? extractTraceContext(parent_header, state_header) : std::nullopt) {
    span = trace_ids_.childOf(*caller);
    inv.parent_span = caller->span_id;
  } else {
    span = trace_ids_.newRoot();
  }
  inv.trace.traceparent = span.traceparent();
  inv.trace.tracestate = std::move(span.tracestate);
  return inv.trace.traceparent;
}

void HttpTrigger::onRequest(HttpRequest&& request, HttpResponder&& responder) {
  RouteMatch match = router_.match(request.method, request.path);
  if (match.kind == RouteMatch::kNotFound) {
    responder.send(problemResponse(404, "Not Found", "no route matches " + request.method + " " + request.path));
    return;
  }
  if (match.kind == RouteMatch::kMethodNotAllowed) {
    HttpResponse r = problemResponse(405, "Method Not Allowed",
                                     "the route " + request.path + " accepts " + match.allow + ", not " + request.method);
    r.headers.emplace_back("Allow", match.allow);
    responder.send(std::move(r));
    return;
  }
  Invocation inv;
  inv.id = ids_.next();
  inv.app = match.target->app;
  inv.function = match.target->function;
  inv.payload.trigger = GUST_TRIGGER_HTTP;
  inv.payload.method = std::move(request.method);
  inv.payload.path = std::move(request.path);
  inv.payload.query = std::move(request.query);
  inv.payload.headers = std::move(request.headers);
  inv.payload.params = std::move(match.params);
  inv.payload.body = std::move(request.body);
  std::string traceparent = continueTrace(inv);
  std::string id = inv.id;
  dispatcher_.invoke(std::move(inv), [responder = std::move(responder), id = std::move(id),
                                      traceparent = std::move(traceparent)](Outcome&& o) mutable {
    HttpResponse r = responseFor(std::move(o), id);
    r.headers.emplace_back("traceparent", std::move(traceparent));
    responder.send(std::move(r));
  });
}

}  // namespace gust
