#include "triggers/http/http_trigger.h"

#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "gust/abi.h"
#include "runtime/base/text.h"
#include "runtime/protocol/http_status.h"
#include "triggers/http/async_json.h"
#include "triggers/http/callback_sender.h"
#include "triggers/http/async_runner.h"
#include "triggers/http/http_text.h"
#include "triggers/http/key_auth.h"
#include "triggers/http/websocket_handshake.h"

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
  HttpResponse r = problemResponse(status, title, detail, invocation_id);
  if (!invocation_id.empty()) r.headers.emplace_back("X-Gust-Invocation-Id", invocation_id);
  return r;
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isReservedPattern(std::string_view pattern) {
  std::string_view bare = kInvocationsPrefix.substr(0, kInvocationsPrefix.size() - 1);  // "/v1/invocations"
  return pattern == bare || pattern.substr(0, kInvocationsPrefix.size()) == kInvocationsPrefix;
}

// The title of the problem answered for an invocation that failed as `kind`.
std::string_view titleOf(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kFunctionError: return "Function error";
    case OutcomeKind::kCrashed: return "Function crashed";
    case OutcomeKind::kTimedOut: return "Function timed out";
    case OutcomeKind::kOverloaded: return "Overloaded";
    case OutcomeKind::kUnavailable: return "Function unavailable";
    case OutcomeKind::kNotFound: return "Not Found";
    case OutcomeKind::kConflict: return "Conflict";
    case OutcomeKind::kOk: break;
  }
  return "Internal error";
}

}  // namespace

std::string_view publicDetailOf(OutcomeKind kind) {
  switch (kind) {
    case OutcomeKind::kFunctionError: return "the function failed";
    case OutcomeKind::kCrashed: return "the function crashed";
    case OutcomeKind::kTimedOut: return "the function timed out";
    case OutcomeKind::kOverloaded: return "the function is overloaded; retry later";
    case OutcomeKind::kUnavailable: return "the function or what it needs is unavailable; retry later";
    case OutcomeKind::kNotFound: return "no such function";
    case OutcomeKind::kConflict: return "the app's state changed while the function ran; retry";
    case OutcomeKind::kOk: break;
  }
  return "internal error";
}

namespace {

HttpResponse retryLater(int status, std::string_view title, const std::string& detail) {
  HttpResponse r = problemResponse(status, title, detail);
  r.headers.emplace_back("Retry-After", "1");
  return r;
}

// The answer when the store would not take an async invocation. A bound of the app says
// which bound (it is the caller's to know: slow down); a full disk says only that to a
// stranger, since the folder is the operator's business (it is in the log and the admin API).
HttpResponse storeRefused(const Error& error, bool expose_errors) {
  switch (error.kind) {
    case ErrorKind::kLimitReached: return retryLater(429, "Too Many Pending", error.message);
    case ErrorKind::kStorageFull:
      spdlog::error("async invocation refused: {}", error.message);
      return retryLater(507, "Insufficient Storage",
                        expose_errors ? error.message : "the host's storage is full; retry later");
    default: return retryLater(503, "Async invocation not stored", error.message);
  }
}

}  // namespace

bool prefersRespondAsync(const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& [name, value] : headers) {
    if (name != "prefer") continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      // Commas inside a quoted value do not split preferences.
      size_t end = 0;
      bool quoted = false;
      for (; end < rest.size(); ++end) {
        if (rest[end] == '"') quoted = !quoted;
        else if (rest[end] == '\\' && quoted) ++end;
        else if (rest[end] == ',' && !quoted) break;
      }
      std::string_view preference = rest.substr(0, std::min(end, rest.size()));
      rest = end < rest.size() ? rest.substr(end + 1) : std::string_view();
      std::string_view token = trimOws(preference.substr(0, preference.find_first_of("=;")));
      if (equalsIgnoreCase(token, "respond-async")) return true;
    }
  }
  return false;
}

HttpResponse responseFor(Outcome&& outcome, const std::string& invocation_id, bool expose_errors) {
  if (outcome.kind != OutcomeKind::kOk) {
    int status = httpStatusOf(outcome.kind);
    // A stranger learns the kind of failure and the id to ask the operator about; the
    // operator finds the rest under that id in the log and the invocation record.
    std::string detail = expose_errors || status < 500 ? outcome.message : std::string(publicDetailOf(outcome.kind));
    HttpResponse r = problem(status, titleOf(outcome.kind), detail, invocation_id);
    if (carriesRetryAfter(r.status)) {
      auto seconds = std::max<int64_t>(1, (outcome.retry_after.count() + 999) / 1000);
      r.headers.emplace_back("Retry-After", std::to_string(seconds));
    }
    return r;
  }
  // An answer HTTP cannot carry is the function's error.
  const int invalid = httpStatusOf(OutcomeKind::kFunctionError);
  if (outcome.status < 200 || outcome.status > 599) {
    return problem(invalid, "Invalid function response",
                   "the function answered with status " + std::to_string(outcome.status) +
                       "; use a status from 200 to 599",
                   invocation_id);
  }
  HttpResponse r;
  r.status = outcome.status;
  r.headers.reserve(outcome.headers.size() + 1);
  for (auto& [name, value] : outcome.headers) {
    if (!http::isToken(name) || !http::isSafeFieldValue(value)) {
      return problem(invalid, "Invalid function response",
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

HttpTrigger::HttpTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, HttpLimits limits,
                         bool expose_errors)
    : clock_(clock),
      dispatcher_(dispatcher),
      expose_errors_(expose_errors),
      connections_(clock, dispatcher, expose_errors),
      server_(loop, limits, [this](HttpRequest&& request, HttpResponder&& responder) {
        onRequest(std::move(request), std::move(responder));
      }) {}

std::vector<Route> HttpTrigger::routesOf(const AppInfo& app) {
  std::vector<Route> routes;
  for (const auto& f : app.manifest.functions) {
    for (const auto& r : f.routes) routes.push_back(Route{r.methods, r.path, RouteTarget{app.manifest.name, f.name}});
  }
  for (const auto& s : app.manifest.streams) {
    routes.push_back(Route{{"GET"}, s.path, RouteTarget{app.manifest.name, "", true}});
  }
  if (app.manifest.graphql) {
    routes.push_back(Route{{"GET"}, app.manifest.graphql->path, RouteTarget{app.manifest.name, "", false, true}});
  }
  return routes;
}

Result<Router> HttpTrigger::build(const std::map<std::string, std::vector<Route>>& routes) const {
  Router router;
  for (const auto& [app, list] : routes) {
    for (const auto& route : list) {
      if (isReservedPattern(route.pattern)) {
        return makeError(ErrorKind::kBadInput,
                         "app " + app + ", function " + route.target.function + ", route " + route.pattern +
                             ": paths under /v1/invocations are reserved for async invocation status; choose "
                             "another path");
      }
      auto added = router.add(route);
      if (!added) {
        const std::string what = route.target.stream    ? "stream"
                                 : route.target.graphql ? "GraphQL endpoint"
                                                        : "function " + route.target.function + ", route";
        return makeError(ErrorKind::kBadInput,
                         "app " + app + ", " + what + " " + route.pattern + ": " + added.error().message);
      }
    }
  }
  return router;
}

Result<void> HttpTrigger::checkApp(const AppInfo& app) const {
  auto routes = routes_;
  routes[app.manifest.name] = routesOf(app);
  auto router = build(routes);
  if (!router) return makeError(ErrorKind::kConflict, router.error().message);
  if (auto verifiers = verifiersOf(app); !verifiers) return verifiers.error();
  return {};
}

Result<void> HttpTrigger::addApp(const AppInfo& app) {
  auto routes = routes_;
  routes[app.manifest.name] = routesOf(app);
  auto router = build(routes);
  if (!router) return router.error();
  auto verifiers = verifiersOf(app);
  if (!verifiers) return verifiers.error();
  routes_ = std::move(routes);
  router_ = std::move(*router);
  std::set<std::string, std::less<>> keyed;
  for (const auto& f : app.manifest.functions) {
    if (app.manifest.authOf(f) == Auth::kKey) keyed.insert(f.name);
  }
  keyed_[app.manifest.name] = std::move(keyed);
  std::set<std::string, std::less<>> websocket;
  for (const auto& f : app.manifest.functions) {
    if (f.websocket) websocket.insert(f.name);
  }
  // Open connections stay: their next events go to this version's function of that name.
  websocket_[app.manifest.name] = std::move(websocket);
  verifiers_[app.manifest.name] = std::move(*verifiers);
  if (streams_) streams_->setApp(app.manifest.name, app.manifest.streams, app.manifest.auth);
  if (graphql_) graphql_->setApp(app.manifest.name, app.manifest.graphql, app.manifest.auth);
  return {};
}

void HttpTrigger::removeApp(const std::string& name) {
  if (streams_) streams_->removeApp(name);
  if (graphql_) graphql_->removeApp(name);
  keyed_.erase(name);
  websocket_.erase(name);
  connections_.closeApp(name);
  verifiers_.erase(name);
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
  if (request.path.rfind(kInvocationsPrefix, 0) == 0) {
    serveInvocation(request, std::move(responder));
    return;
  }
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
  if (match.target->stream || match.target->graphql) {
    // Both follow the topics' events: enableStreams makes both or neither.
    if (!streams_) {
      responder.send(problemResponse(503, "Streams unavailable", "this host does not serve topic streams or GraphQL"));
      return;
    }
    if (match.target->stream) {
      streams_->serve(match.target->app, std::move(request), std::move(responder), keys_);
    } else {
      graphql_->serve(match.target->app, std::move(request), std::move(responder), keys_);
    }
    return;
  }
  auto caller = callerFor(request, *match.target);
  if (!caller) {
    // Refused before anything runs: the function never sees a request without its key.
    responder.send(keyRequired(!presentedKey(request).empty()));
    return;
  }
  if (auto refusal = signatureRefusal(request, *match.target)) {
    // Refused before anything runs or is stored, async requests alike.
    spdlog::debug("[{}] {}: {} {} refused: {}", match.target->app, match.target->function, request.method,
                  printable(request.path), refusal->message);
    responder.send(signatureRefused(*refusal, expose_errors_));
    return;
  }
  if (auto app = websocket_.find(match.target->app);
      app != websocket_.end() && app->second.contains(match.target->function)) {
    if (!request.upgrade) {
      responder.send(upgradeRequired(request.path +
                                     " is a WebSocket endpoint; connect to it with a WebSocket client (ws:// or wss://)"));
      return;
    }
    connections_.connect(std::move(request), match.target->app, match.target->function, std::move(match.params),
                         std::move(responder));
    return;
  }
  if (prefersRespondAsync(request.headers)) {
    acceptAsync(std::move(request), *match.target, std::move(*caller), std::move(responder));
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
  // Every answer names the invocation's span, so the caller can find its trace. What the
  // function published is committed by then (see Dispatcher::setPublisher).
  dispatcher_.invoke(std::move(inv), [responder = std::move(responder), id = std::move(id),
                                      traceparent = std::move(traceparent),
                                      expose = expose_errors_](Outcome&& o) mutable {
    HttpResponse r = responseFor(std::move(o), id, expose);
    r.headers.emplace_back("traceparent", std::move(traceparent));
    responder.send(std::move(r));
  });
}

void HttpTrigger::close(std::function<void()> on_closed) {
  if (!streams_) return server_.close(std::move(on_closed));
  // The streams' clients and GraphQL connections end first (their connections are the
  // server's to close).
  streams_->close([this, on_closed = std::move(on_closed)]() mutable {
    graphql_->close([this, on_closed = std::move(on_closed)]() mutable { server_.close(std::move(on_closed)); });
  });
}

Invocation HttpTrigger::asyncInvocation(const AsyncInvocation& stored) const {
  Invocation inv;
  inv.id = stored.id;  // the function's ctx.invocationId() is the id the caller polls
  inv.async = true;
  inv.attempt = std::max(1, stored.attempts);
  inv.app = stored.app;
  inv.function = stored.function;
  inv.payload.trigger = GUST_TRIGGER_HTTP;
  inv.payload.method = stored.request.method;
  inv.payload.path = stored.request.path;
  inv.payload.query = stored.request.query;
  inv.payload.headers = stored.request.headers;
  inv.payload.body = stored.request.body;
  // The parameters come from the routes of now; a route that moved to another function
  // since the request was accepted leaves them empty rather than guessing.
  RouteMatch match = router_.match(stored.request.method, stored.request.path);
  if (match.kind == RouteMatch::kFound && match.target->app == stored.app && match.target->function == stored.function) {
    inv.payload.params = std::move(match.params);
  }
  return inv;
}

std::optional<std::string> HttpTrigger::callerFor(HttpRequest& request, const RouteTarget& target) const {
  auto app = keyed_.find(target.app);
  std::string caller(kAnonymousCaller);
  if (app != keyed_.end() && app->second.contains(target.function)) {
    const FunctionKey* key = keys_ ? keys_->find(presentedKey(request)) : nullptr;
    if (key == nullptr || !key->allows(target.app, target.function)) return std::nullopt;
    caller = callerOf(*key);
  }
  // A function key sent to a public function (by mistake, or to probe) does not reach it
  // either: no function ever sees one.
  removeKeyFields(request.headers);
  return caller;
}

std::optional<WebhookRefusal> HttpTrigger::signatureRefusal(const HttpRequest& request,
                                                            const RouteTarget& target) const {
  auto app = verifiers_.find(target.app);
  if (app == verifiers_.end()) return std::nullopt;
  auto verifier = app->second.find(target.function);
  if (verifier == app->second.end()) return std::nullopt;
  return verifier->second.verify(request.headers, request.body, clock_.wallNow());
}

void HttpTrigger::acceptAsync(HttpRequest&& request, const RouteTarget& target, std::string caller,
                              HttpResponder&& responder) {
  if (store_ == nullptr || runner_ == nullptr) {
    responder.send(retryLater(503, "Async invocations unavailable", "this host does not store async invocations"));
    return;
  }
  const InvocationStoreOptions& limits = store_->options();
  AsyncInvocation inv;
  inv.app = target.app;
  inv.function = target.function;
  std::string_view callback = request.header("x-callback-url");
  if (!callback.empty()) {
    if (auto ok = checkCallbackUrl(callback, limits.max_callback_url_bytes, runner_->callbacks().options().allowed);
        !ok) {
      responder.send(problemResponse(400, "Bad callback URL", ok.error().message));
      return;
    }
    inv.callback_url = std::string(callback);
  }
  std::string_view key = request.header("idempotency-key");
  if (!key.empty()) {
    if (key.size() > limits.max_idempotency_key_bytes) {
      responder.send(problemResponse(400, "Bad Idempotency-Key",
                                     "Idempotency-Key is longer than " +
                                         std::to_string(limits.max_idempotency_key_bytes) + " bytes; use a shorter key"));
      return;
    }
    inv.idempotency_key = std::string(key);
  }
  std::optional<size_t> own_bound;
  if (const AppInfo* app = dispatcher_.app(target.app); app && app->manifest.storage.max_pending_async) {
    own_bound = *app->manifest.storage.max_pending_async;
  }
  if (!runner_->admit(target.app, own_bound)) {
    // Nothing is stored: what was accepted before runs on, and room comes as it finishes.
    responder.send(retryLater(429, "Too Many Pending",
                              "app " + target.app + " has " + std::to_string(runner_->unfinished(target.app)) +
                                  " async invocations queued or running, its bound (max_pending_async " +
                                  std::to_string(runner_->boundOf(own_bound)) +
                                  "); retry once some have finished"));
    return;
  }
  inv.request = AsyncRequest{std::move(request.method), std::move(request.path), std::move(request.query),
                             std::move(request.headers), std::move(request.body)};
  inv.caller = std::move(caller);
  if (!inv.idempotency_key.empty()) inv.fingerprint = requestFingerprint(inv.request);
  std::string fingerprint = inv.fingerprint;
  auto shared = std::make_shared<HttpResponder>(std::move(responder));
  auto on_created = [this, shared, app = target.app, fingerprint = std::move(fingerprint)](
                        Result<AsyncCreated> created) {
    if (!created || created->existing) runner_->unadmit(app);
    if (!created) {
      shared->send(storeRefused(created.error(), expose_errors_));
      return;
    }
    const AsyncInvocation& a = created->invocation;
    // A record stored before fingerprints were kept has none, and is taken as a match.
    if (created->existing && !a.fingerprint.empty() && a.fingerprint != fingerprint) {
      // The IETF httpapi-idempotency-key draft: a key reused for another request is the
      // client's mistake, answered 422, never with the first request's result.
      shared->send(problemResponse(422, "Idempotency-Key reused",
                                   "this Idempotency-Key was first sent with another request (method, path, query or "
                                   "body differ); send a new key for a new request"));
      return;
    }
    const bool done = a.status == AsyncStatus::kSucceeded || a.status == AsyncStatus::kFailed;
    nlohmann::json body;
    HttpResponse r;
    if (created->existing && done) {
      // The key's invocation has finished: answer its state, as a GET of its Location would.
      body = asyncInvocationJson(a);
      r.status = 200;
    } else {
      body = {{"id", a.id}, {"status", asyncStatusName(a.status)}, {"location", invocationLocation(a.id)}};
      r.status = 202;
      r.headers.emplace_back("Preference-Applied", "respond-async");
    }
    r.headers.emplace_back("Content-Type", "application/json");
    r.headers.emplace_back("Location", invocationLocation(a.id));
    r.headers.emplace_back("X-Gust-Invocation-Id", a.id);
    r.body = body.dump();
    const bool fresh = !created->existing;
    AsyncInvocation record = created->invocation;
    shared->send(std::move(r));
    if (fresh) runner_->submit(std::move(record));
  };
  auto posted = store_->createAsync(std::move(inv), std::move(on_created));
  if (!posted) {
    runner_->unadmit(target.app);
    HttpResponder& responder_again = *shared;
    if (posted.error().kind == ErrorKind::kBadInput) {
      responder_again.send(problemResponse(400, "Bad async request", posted.error().message));
    } else {
      responder_again.send(storeRefused(posted.error(), expose_errors_));
    }
  }
}

void HttpTrigger::serveInvocation(const HttpRequest& request, HttpResponder&& responder) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = problemResponse(405, "Method Not Allowed",
                                     "async invocation status is read with GET, not " + request.method);
    r.headers.emplace_back("Allow", "GET, HEAD");
    responder.send(std::move(r));
    return;
  }
  std::string id = request.path.substr(kInvocationsPrefix.size());
  if (store_ == nullptr) {
    responder.send(retryLater(503, "Async invocations unavailable", "this host does not store async invocations"));
    return;
  }
  // Who asks: the holder of a valid key, or anyone. A keyed caller's invocation is theirs
  // alone; another caller is told it does not exist, exactly as for an unknown id.
  const FunctionKey* key = keys_ ? keys_->find(presentedKey(request)) : nullptr;
  std::string asker_app = key ? key->app : std::string();
  std::string asker = key ? callerOf(*key) : std::string(kAnonymousCaller);
  auto shared = std::make_shared<HttpResponder>(std::move(responder));
  auto not_found = [id] {
    return problemResponse(404, "Not Found",
                           "no async invocation " + id + " (unknown, expired after its retention, or started by "
                           "another caller: send the function key that started it)");
  };
  auto posted = store_->getAsync(id, [shared, not_found, asker_app = std::move(asker_app), asker = std::move(asker)](
                                         Result<std::optional<AsyncInvocation>> found) {
    const auto visible = [&](const AsyncInvocation& a) {
      return a.caller == kAnonymousCaller || (a.app == asker_app && a.caller == asker);
    };
    if (!found) {
      shared->send(retryLater(503, "Store unavailable", found.error().message));
    } else if (!*found || !visible(**found)) {
      shared->send(not_found());
    } else {
      HttpResponse r;
      r.headers.emplace_back("Content-Type", "application/json");
      r.headers.emplace_back("Cache-Control", "no-store");
      r.body = asyncInvocationJson(**found).dump();
      shared->send(std::move(r));
    }
  });
  if (!posted) {
    // A malformed id is an unknown one.
    shared->send(posted.error().kind == ErrorKind::kBadInput
                     ? not_found()
                     : retryLater(503, "Store unavailable", posted.error().message));
  }
}

}  // namespace gust
