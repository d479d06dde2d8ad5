#pragma once
// Retained events across the hosts of a cluster (docs/scale-out.md "Retained events across
// hosts"): the queue script publishes "<seq> <topic>" on the channel P events for each event
// it logs, and this hands each notice to the host's TopicEventHub, which reads what its
// listeners have not had from the log. So an SSE, WebSocket or GraphQL subscriber on one
// host gets the events published through every host. Redis pub/sub keeps nothing: a notice
// missed while the subscriber reconnects is made up by the next one of that topic (the hub
// reads from the last seq it delivered).
//
// Owning thread: the loop thread. Borrows the hub, which outlives it; owns its subscriber
// client. close() before the hub goes.

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "runtime/store/redis_client.h"
#include "runtime/store/topic_event_hub.h"

namespace gust {

class ClusterTopicEvents {
 public:
  ClusterTopicEvents(uv_loop_t* loop, const RedisEndpoint& endpoint, TopicEventHub& hub, std::string prefix = "gust:");
  ClusterTopicEvents(const ClusterTopicEvents&) = delete;
  ClusterTopicEvents& operator=(const ClusterTopicEvents&) = delete;

  void close(std::function<void()> on_closed);

 private:
  void onNotice(std::string_view message);

  TopicEventHub& hub_;
  RedisClient subscriber_;
};

}  // namespace gust
