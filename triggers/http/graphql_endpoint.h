#pragma once
// The apps' GraphQL endpoints (manifest "graphql"): graphql-transport-ws WebSockets whose
// subscriptions deliver the events of the topics their Subscription fields are bound to
// with @topic, each shaped by the subscription's selection set (docs/architecture.md
// "GraphQL endpoint", README "GraphQL").
//
// Contract:
// - Owning thread: the loop thread; owned by the HttpTrigger, which routes an endpoint's path
//   here (the router checks it against every app's routes and streams).
// - Borrows the clock, the hub and the queue backend, which outlive it. Each app with an
//   endpoint retains its bound topics under the owner "graphql:<app>" (QueueBackend::
//   bindTopics) from its deploy until its removal, so that the hub hears their events.
// - A connection keeps the schema it connected under: a redeploy with the same schema and
//   access keeps open connections; a new schema or access closes them with 1012 (service
//   restart: graphql-ws reconnects and subscribes again under the new one); moving or
//   dropping the endpoint, or removing the app, closes them with 1001.
// - A connection that sends no connection_init within init_timeout_ms is closed with 4408
//   (checked on one shared timer, by the clock).
// - close() ends every connection and closes the timer; `done` runs once it is closed.

#include <uv.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "functions/manifest.h"
#include "runtime/base/clock.h"
#include "runtime/base/uv_close.h"
#include "runtime/store/key_store.h"
#include "runtime/store/topic_event_hub.h"
#include "triggers/http/http_server.h"

namespace gust {

struct GraphqlEndpointLimits {
  size_t max_buffered_bytes = 1u << 20;  // per connection; past it the connection is dropped
  uint64_t init_timeout_ms = 10'000;     // connection_init must come this soon
  size_t max_subscriptions = 100;        // per connection
};

class GraphqlEndpoints {
 public:
  GraphqlEndpoints(uv_loop_t* loop, const Clock& clock, TopicEventHub& hub, QueueBackend& backend,
                   GraphqlEndpointLimits limits);
  ~GraphqlEndpoints();
  GraphqlEndpoints(const GraphqlEndpoints&) = delete;
  GraphqlEndpoints& operator=(const GraphqlEndpoints&) = delete;

  // The app's endpoint from now on (none: nullopt); retains its bound topics.
  void setApp(const std::string& app, const std::optional<GraphqlSpec>& spec, Auth app_auth);
  void removeApp(const std::string& app) { setApp(app, std::nullopt, Auth::kPublic); }

  // Serves a GET of `app`'s endpoint path: a WebSocket upgrade asking for the
  // graphql-transport-ws subprotocol; anything else is refused with a problem body. `keys`
  // checks a keyed endpoint's caller (null: refuse).
  void serve(const std::string& app, HttpRequest&& request, HttpResponder&& responder, const KeyStore* keys);

  void close(std::function<void()> done);

  size_t connections() const { return connections_.size(); }

 private:
  struct Endpoint {
    std::shared_ptr<const GraphqlSpec> spec;
    Auth auth = Auth::kPublic;
  };
  class Connection;

  void sweepInitTimeouts();

  uv_timer_t sweep_{};
  CloseCounter closer_;
  const Clock& clock_;
  TopicEventHub& hub_;
  QueueBackend& backend_;
  const GraphqlEndpointLimits limits_;
  std::map<std::string, Endpoint> endpoints_;      // by app
  std::map<uint64_t, Connection*> connections_;  // each owned by its WebSocket
  uint64_t next_connection_ = 1;
  // Connections are owned by the server and may outlive us: they hold this weakly.
  std::shared_ptr<GraphqlEndpoints*> self_ = std::make_shared<GraphqlEndpoints*>(this);
};

}  // namespace gust
