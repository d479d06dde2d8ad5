#include "runtime/store/cluster_topic_events.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace gust {

ClusterTopicEvents::ClusterTopicEvents(uv_loop_t* loop, const RedisEndpoint& endpoint, TopicEventHub& hub,
                                       std::string prefix)
    : hub_(hub), subscriber_(loop, endpoint) {
  hub_.setShared();
  subscriber_.subscribe(prefix + "events", [this](std::string_view message) { onNotice(message); });
  subscriber_.start();
}

void ClusterTopicEvents::close(std::function<void()> on_closed) { subscriber_.close(std::move(on_closed)); }

void ClusterTopicEvents::onNotice(std::string_view message) {
  const size_t space = message.find(' ');
  uint64_t seq = 0;
  if (space == std::string_view::npos || space + 1 == message.size() ||
      std::from_chars(message.data(), message.data() + space, seq).ptr != message.data() + space) {
    spdlog::warn("ignored a topic event notice from the cluster that is not one a host sends");
    return;
  }
  hub_.committedElsewhere(std::string(message.substr(space + 1)), seq);
}

}  // namespace gust
