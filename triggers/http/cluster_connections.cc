#include "triggers/http/cluster_connections.h"

#include <gust/abi.h>
#include <spdlog/spdlog.h>

#include <utility>

namespace gust {

extern const std::string_view kRedisQueueScript;

namespace {

constexpr int64_t kNoTime = 0;  // the connection operations read no time

}  // namespace

ClusterConnections::ClusterConnections(uv_loop_t* loop, RedisClient& commands, ConnectionRegistry& registry,
                                       std::string prefix)
    : loop_(loop), script_(commands, kRedisQueueScript, prefix), registry_(registry), prefix_(std::move(prefix)) {}

ClusterConnections::~ClusterConnections() { registry_.setDirectory(nullptr); }

void ClusterConnections::start(std::string host) {
  host_ = std::move(host);
  subscriber_ = std::make_unique<RedisClient>(loop_, script_.client().endpoint());
  subscriber_->subscribe(prefix_ + "host:" + host_, [this](std::string_view message) { onCall(message); });
  subscriber_->start();
  // Failing now (Redis down) leaves the old records to be found stale by the calls that
  // reach nobody; nothing else depends on it.
  (void)script_.run("conn-reset", kNoTime, {host_}, [](Result<RedisReply>) {});
}

void ClusterConnections::close(std::function<void()> on_closed) {
  if (!subscriber_) {
    if (on_closed) on_closed();
    return;
  }
  subscriber_->close(std::move(on_closed));
}

// A record that cannot be written now leaves the connection reachable from this host only;
// the client is not refused for it.
void ClusterConnections::opened(const std::string& id, const std::string& app) {
  auto sent = script_.run("conn-open", kNoTime, {host_, id, app}, [id](Result<RedisReply> r) {
    if (!r || r->isError()) spdlog::warn("connection {} is reachable from this host only: {}", id,
                                         r ? r->str : r.error().message);
  });
  if (!sent) spdlog::warn("connection {} is reachable from this host only: {}", id, sent.error().message);
}

void ClusterConnections::ended(const std::string& id) {
  (void)script_.run("conn-end", kNoTime, {host_, id}, [](Result<RedisReply>) {});
}

void ClusterConnections::callElsewhere(std::string_view app, const ConnectionCall& call, ConnectionSink::Done done) {
  auto shared = std::make_shared<ConnectionSink::Done>(std::move(done));
  auto sent = script_.run("conn-call", kNoTime, {std::string(app), call.id, encodeRelayedCall(app, call)},
                          [shared](Result<RedisReply> r) {
                            if (!r || r->isError()) return (*shared)(GUST_E_UNAVAILABLE);
                            (*shared)(r->type == RedisReply::Type::kInteger && r->integer == 1 ? GUST_OK
                                                                                                 : GUST_E_NOT_FOUND);
                          });
  if (!sent) (*shared)(GUST_E_UNAVAILABLE);
}

void ClusterConnections::onCall(std::string_view message) {
  std::string app;
  ConnectionCall call;
  if (!decodeRelayedCall(message, app, call)) {
    spdlog::warn("ignored a connection call from the cluster that is not one a host sends");
    return;
  }
  // The holding host checks the call as it checks its own functions' (the sender did too).
  if (!connectionCallProblem(call).empty()) return;
  (void)registry_.callHere(app, call);
}

}  // namespace gust
