#include "runtime/store/cluster_notices.h"

#include <spdlog/spdlog.h>

#include <charconv>

namespace gust {

ClusterNotices::ClusterNotices(uv_loop_t* loop, const RedisEndpoint& endpoint, ClusterNoticeHandlers handlers,
                               std::string prefix)
    : handlers_(std::move(handlers)), subscriber_(loop, endpoint) {
  subscriber_.subscribe(prefix + "events", [this](std::string_view message) { onEvent(message); });
  subscriber_.subscribe(prefix + "ready", [this](std::string_view message) { onReady(message); });
  subscriber_.start();
}

void ClusterNotices::close(std::function<void()> on_closed) { subscriber_.close(std::move(on_closed)); }

void ClusterNotices::onEvent(std::string_view message) {
  const size_t space = message.find(' ');
  uint64_t seq = 0;
  if (space == std::string_view::npos || space + 1 == message.size() ||
      std::from_chars(message.data(), message.data() + space, seq).ptr != message.data() + space) {
    spdlog::warn("ignored a topic event notice from the cluster that is not one a host sends");
    return;
  }
  handlers_.event_logged(std::string(message.substr(space + 1)), seq);
}

void ClusterNotices::onReady(std::string_view message) {
  while (!message.empty()) {
    const size_t end = message.find('\n');
    std::string_view name = message.substr(0, end);
    if (!name.empty()) handlers_.messages_ready(std::string(name));
    if (end == std::string_view::npos) break;
    message.remove_prefix(end + 1);
  }
}

}  // namespace gust
