#include "runtime/admin/admin_cluster.h"

#include <memory>

namespace gust {

extern const std::string_view kRedisQueueScript;

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr milliseconds kBeat{2000};

}  // namespace

ClusterHosts::ClusterHosts(uv_loop_t* loop, RedisClient& client, const Clock& clock, std::function<json()> report,
                           std::string prefix)
    : client_(client),
      clock_(clock),
      report_(std::move(report)),
      script_(client, kRedisQueueScript, std::move(prefix)) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

int64_t ClusterHosts::nowMs() const {
  return std::chrono::duration_cast<milliseconds>(clock_.wallNow().time_since_epoch()).count();
}

void ClusterHosts::start(std::string name) {
  name_ = std::move(name);
  beat(false);
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<ClusterHosts*>(t->data)->beat(false); },
      static_cast<uint64_t>(kBeat.count()), static_cast<uint64_t>(kBeat.count()));
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

void ClusterHosts::beat(bool leaving) {
  std::string report = leaving ? std::string() : report_().dump();
  // A beat that fails is the next one's to make: the host just shows as older meanwhile.
  (void)script_.run("host-beat", nowMs(), {name_, std::move(report), std::to_string(ClusterHosts::kGoneAfter.count())},
                    [](Result<RedisReply>) {});
}

void ClusterHosts::close(std::function<void()> on_closed) {
  if (!name_.empty()) beat(true);
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&timer_)}, std::move(on_closed));
}

void ClusterHosts::addRoutes(AdminApi& api) {
  api.route({"GET"}, "/v1/cluster", [this](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    const int64_t now = nowMs();
    auto asked = script_.run("hosts", now, {}, [this, responder, now](Result<RedisReply> reply) {
      if (!reply || reply->isError()) {
        return responder->send(errorResponse(
            makeError(ErrorKind::kUnavailable, "the cluster's Redis cannot be read: " +
                                                   (reply ? reply->str : reply.error().message))));
      }
      json hosts = json::array();
      for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
        const RedisReply& entry = reply->elements[i + 1];
        if (entry.elements.size() < 2) continue;
        const int64_t seen = std::strtoll(entry.elements[0].str.c_str(), nullptr, 10);
        if (now - seen > ClusterHosts::kGoneAfter.count()) continue;
        json report = json::parse(entry.elements[1].str, nullptr, false);
        if (!report.is_object()) report = json::object();
        report["name"] = reply->elements[i].str;
        report["seen_ms_ago"] = std::max<int64_t>(0, now - seen);
        report["self"] = reply->elements[i].str == name_;
        hosts.push_back(std::move(report));
      }
      responder->send(jsonResponse({{"hosts", hosts}}));
    });
    if (!asked) {
      responder->send(errorResponse(asked.error()));
    }
  });
}

}  // namespace gust
