#pragma once
// What the other hosts of a cluster commit, heard as it happens (docs/scale-out.md
// "Notices"): the queue script publishes on two pub/sub channels (their format:
// cluster_notice_format.h), and this host subscribes to both with a connection of its own.
// - P events: "<seq> <topic>" for each retained event it logs. The host's TopicEventHub
//   reads what its listeners have not had from the log, so an SSE, WebSocket or GraphQL
//   subscriber on one host gets the events published through every host.
// - P ready: the queues and topics (one per line) a send or settle put messages in. The
//   host's queue trigger wakes their idle consumers, as it does for its own commits.
// Redis pub/sub keeps nothing: a notice missed while the subscriber reconnects is made up
// by the next one (the hub reads from the last seq it delivered), or by the consumers'
// idle recheck.
//
// Owning thread: the loop thread; the callbacks run there. Owns its subscriber client.
// close() before what the callbacks reach goes.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "runtime/store/redis_client.h"

namespace gust {

struct ClusterNoticeHandlers {
  std::function<void(const std::string& topic, uint64_t seq)> event_logged;
  std::function<void(const std::string& queue_or_topic)> messages_ready;
};

class ClusterNotices {
 public:
  ClusterNotices(uv_loop_t* loop, const RedisEndpoint& endpoint, ClusterNoticeHandlers handlers,
                 std::string prefix = "gust:");
  ClusterNotices(const ClusterNotices&) = delete;
  ClusterNotices& operator=(const ClusterNotices&) = delete;

  void close(std::function<void()> on_closed);

 private:
  void onEvent(std::string_view message);
  void onReady(std::string_view message);

  ClusterNoticeHandlers handlers_;
  RedisClient subscriber_;
};

}  // namespace gust
