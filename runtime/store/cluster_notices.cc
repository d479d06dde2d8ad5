#include "runtime/store/cluster_notices.h"

#include <spdlog/spdlog.h>

#include "runtime/store/cluster_notice_format.h"

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
  auto notice = parseEventNotice(message);
  if (!notice) {
    spdlog::warn("ignored a topic event notice from the cluster that is not one a host sends");
    return;
  }
  handlers_.event_logged(notice->topic, notice->seq);
}

void ClusterNotices::onReady(std::string_view message) {
  for (const auto& name : parseReadyNotice(message)) handlers_.messages_ready(name);
}

}  // namespace gust
