#pragma once
// The HTTP trigger: turns requests into Invocations through the router, and Outcomes into
// responses. Every error answer is application/problem+json.
//
// Owning thread: the loop thread. Owned by the Host; close() closes the server and calls
// back once every connection is closed.

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "runtime/exec/dispatcher.h"
#include "runtime/base/clock.h"
#include "runtime/base/ids.h"
#include "runtime/store/invocation_store.h"
#include "runtime/store/key_store.h"
#include "runtime/protocol/trace_context.h"
#include "triggers/http/connection_registry.h"
#include "triggers/http/http_server.h"
#include "triggers/http/router.h"
#include "triggers/http/graphql_endpoint.h"
#include "triggers/http/topic_streams.h"
#include "triggers/http/webhook_verify.h"
#include "triggers/trigger.h"

namespace gust {

class AsyncRunner;

// True when the Prefer fields of `headers` (RFC 7240: comma-separated preferences, each
// `token [= value] *(; parameter)`, tokens case-insensitive) ask for respond-async.
bool prefersRespondAsync(const std::vector<std::pair<std::string, std::string>>& headers);

// What a caller may be told of a failed invocation: its kind only ("the function crashed").
// Signals, paths, exception texts and start errors stay in the log and the invocation record.
std::string_view publicDetailOf(OutcomeKind kind);

// The one place an Outcome becomes an HTTP response. A failure's body names the invocation
// and, unless `expose_errors` (--expose-errors, on in `gust dev`), only the kind of failure.
HttpResponse responseFor(Outcome&& outcome, const std::string& invocation_id, bool expose_errors);

class HttpTrigger final : public Trigger {
 public:
  // `clock`'s wall time is what a webhook signature's timestamp is checked against.
  HttpTrigger(uv_loop_t* loop, const Clock& clock, Dispatcher& dispatcher, HttpLimits limits,
              bool expose_errors = false);

  // Adds every route of `app`, replacing the routes of an earlier version of it; fails on
  // an invalid pattern, a conflict with another app (kConflict), or a function's verify
  // secret that the app's variables lack or that is not of its scheme's form (kBadInput),
  // and then changes nothing.
  Result<void> addApp(const AppInfo& app) override;
  Result<void> checkApp(const AppInfo& app) const override;
  void removeApp(const std::string& name) override;
  const char* name() const override { return "routes"; }

  // Async invocations (`Prefer: respond-async`) and `GET /v1/invocations/{id}`; without
  // this call they are answered 503. Both outlive the trigger.
  void enableAsync(InvocationStore& store, AsyncRunner& runner) {
    store_ = &store;
    runner_ = &runner;
  }
  // The function keys that routes of `"auth": "key"` functions check; it outlives the
  // trigger. Without it such routes refuse every request (401).
  void enableKeys(const KeyStore& keys) { keys_ = &keys; }
  // The apps' streams (manifest "streams"), served from `hub`'s events; without this call a
  // stream's path is answered 503. Both outlive the trigger. Call before the first app.
  void enableStreams(uv_loop_t* loop, TopicEventHub& hub, QueueBackend& backend, TopicStreamLimits limits = {}) {
    streams_ = std::make_unique<TopicStreams>(loop, hub, backend, limits);
    graphql_ = std::make_unique<GraphqlEndpoints>(loop, clock_, hub, backend, GraphqlEndpointLimits{});
  }
  const TopicStreams* streams() const { return streams_.get(); }
  const GraphqlEndpoints* graphql() const { return graphql_.get(); }
  // What runs a stored async request: its route matched again for the parameters.
  Invocation asyncInvocation(const AsyncInvocation& stored) const;

  // See HttpServer::setMaxConnections; call before listen().
  void setMaxConnections(size_t max) { server_.setMaxConnections(max); }
  // See HttpServer::setMaxWebSockets; call before listen().
  void setMaxWebSockets(size_t max) { server_.setMaxWebSockets(max); }
  Result<int> listen(const std::string& host, int port) { return server_.listen(host, port); }
  void stopAccepting() { server_.stopAccepting(); }
  size_t inFlight() const { return server_.inFlight(); }
  const HttpServer& server() const { return server_; }
  // The open WebSocket connections of `"websocket": true` functions; the host hands it to
  // the dispatcher as its ConnectionSink, and the admin API lists, sends and closes through it.
  ConnectionRegistry& connections() { return connections_; }
  void close(std::function<void()> on_closed);

 private:
  void onRequest(HttpRequest&& request, HttpResponder&& responder);
  // The caller of a request to `target`: kAnonymousCaller for a public function, "key:NAME"
  // for a valid key of a keyed one, or nullopt when the request is to be refused with
  // keyRequired(). Unless refused, `request` loses its key fields (removeKeyFields).
  std::optional<std::string> callerFor(HttpRequest& request, const RouteTarget& target) const;
  // Why a request to `target` is refused for its webhook signature; nullopt when its
  // function requires none or the request carries a valid one.
  std::optional<WebhookRefusal> signatureRefusal(const HttpRequest& request, const RouteTarget& target) const;
  void acceptAsync(HttpRequest&& request, const RouteTarget& target, std::string caller, HttpResponder&& responder);
  void serveInvocation(const HttpRequest& request, HttpResponder&& responder);
  // Makes the invocation's span a child of the caller's traceparent/tracestate (an invalid
  // one counts as absent) or a new root; returns the traceparent to answer with.
  std::string continueTrace(Invocation& inv);

  // Every app's routes; the router is rebuilt from them when an app changes, which keeps
  // matching as fast as a router built once.
  Result<Router> build(const std::map<std::string, std::vector<Route>>& routes) const;
  static std::vector<Route> routesOf(const AppInfo& app);

  const Clock& clock_;
  Dispatcher& dispatcher_;
  const bool expose_errors_;
  std::map<std::string, std::vector<Route>> routes_;
  // app -> its functions whose auth is "key".
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> keyed_;
  const KeyStore* keys_ = nullptr;
  // app -> its functions whose routes take WebSocket connections.
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> websocket_;
  // app -> its functions that require a webhook signature, with their secrets.
  std::map<std::string, AppVerifiers, std::less<>> verifiers_;
  Router router_;
  IdGenerator ids_;
  InvocationStore* store_ = nullptr;
  AsyncRunner* runner_ = nullptr;
  TraceIdGenerator trace_ids_;
  // Before the server: the server's WebSocket handlers call into it until they close.
  ConnectionRegistry connections_;
  HttpServer server_;
  std::unique_ptr<TopicStreams> streams_;
  std::unique_ptr<GraphqlEndpoints> graphql_;  // made with streams_, from the same hub
};

}  // namespace gust
