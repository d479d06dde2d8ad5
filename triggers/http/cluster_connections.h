#pragma once
// WebSocket connections across the hosts of a cluster (docs/scale-out.md "Connections"): a
// function on one host sends to, or closes, a connection another host holds.
//
// How: each host records the connections it holds in Redis (id -> host, and per host id ->
// app) and listens on its own pub/sub channel. A call for an id not open here is one script
// run: it checks the id belongs to the caller's app and publishes the call to the holding
// host's channel; that host carries it out as its own functions' calls. The answer is
// GUST_OK once the holding host has the call (as a local send is OK once queued), and
// GUST_E_NOT_FOUND for an id no host of the cluster holds for that app. A host that starts
// removes the records its previous run left; a host that died is found out by the first call
// that reaches nobody on its channel, which removes that connection's records.
//
// Owning thread: the loop thread. Borrows the command client and the registry, which
// outlive it; owns its subscriber client. close() before they go.

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "runtime/store/redis_client.h"
#include "runtime/store/redis_script.h"
#include "triggers/http/connection_registry.h"

namespace gust {

class ClusterConnections final : public ConnectionDirectory {
 public:
  ClusterConnections(uv_loop_t* loop, RedisClient& commands, ConnectionRegistry& registry, std::string prefix = "gust:");
  ~ClusterConnections() override;
  ClusterConnections(const ClusterConnections&) = delete;
  ClusterConnections& operator=(const ClusterConnections&) = delete;

  // Starts listening for calls to `host` (this host's name in the cluster) and removes the
  // records a previous run of it left. The registry must not have opened a connection yet.
  void start(std::string host);
  void close(std::function<void()> on_closed);

  void opened(const std::string& id, const std::string& app) override;
  void ended(const std::string& id) override;
  void callElsewhere(std::string_view app, const ConnectionCall& call, ConnectionSink::Done done) override;

 private:
  void onCall(std::string_view message);

  uv_loop_t* loop_;
  RedisScript script_;
  ConnectionRegistry& registry_;
  std::string prefix_;
  std::unique_ptr<RedisClient> subscriber_;
  std::string host_;
};

}  // namespace gust
