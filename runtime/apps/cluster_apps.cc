#include "runtime/apps/cluster_apps.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/base/digest.h"

namespace gust {

extern const std::string_view kRedisQueueScript;

namespace {

using json = nlohmann::json;

constexpr const char* kRemoved = "removed";

std::optional<std::string> readWhole(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string digestOf(const std::string& manifest, const std::string& module_sha) {
  return toHex(sha256(manifest + "\n" + module_sha));
}

}  // namespace

ClusterApps::ClusterApps(uv_loop_t* loop, RedisClient& client, AppManager& apps, std::string prefix)
    : client_(client), apps_(apps), script_(client, kRedisQueueScript, prefix), prefix_(std::move(prefix)) {
  uv_timer_init(loop, &timer_);
  timer_.data = this;
}

void ClusterApps::start(std::chrono::milliseconds every) {
  poll();
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<ClusterApps*>(t->data)->poll(); },
      static_cast<uint64_t>(every.count()), static_cast<uint64_t>(every.count()));
}

void ClusterApps::close(std::function<void()> on_closed) {
  closing_ = true;
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&timer_)}, std::move(on_closed));
}

std::string ClusterApps::localDigest(const std::string& app) {
  auto active = apps_.store().active(app);
  if (!active) return {};
  auto manifest = readWhole(active->dir / "gust.json");
  auto module = readWhole(active->module_path);
  if (!manifest || !module) return {};
  return digestOf(*manifest, toHex(sha256(*module)));
}

void ClusterApps::publish(const std::string& app, UniqueFunction<void()> then) {
  if (closing_ || applying_.count(app) > 0) return then();  // the cluster's own change, applied here
  auto active = apps_.store().active(app);
  if (!active) {
    applied_[app] = kRemoved;
    return store(app, json{{"removed", true}}.dump(), std::move(then));
  }
  auto manifest = readWhole(active->dir / "gust.json");
  auto module = readWhole(active->module_path);
  if (!manifest || !module) {
    spdlog::warn("[{}] version {} serves here, but its files cannot be read to share it with the cluster", app,
                 active->version);
    return then();
  }
  const std::string module_sha = toHex(sha256(*module));
  const std::string digest = digestOf(*manifest, module_sha);
  applied_[app] = digest;
  std::string desired = json{{"manifest", *manifest}, {"module", module_sha}, {"digest", digest}}.dump();
  // The bytes first, so that no host reads a version whose module is not there yet.
  auto shared = std::make_shared<UniqueFunction<void()>>(std::move(then));
  auto sent = client_.command(
      {"SET", prefix_ + "module:" + module_sha, std::move(*module)},
      [this, app, desired = std::move(desired), shared](Result<RedisReply> reply) mutable {
        if (!reply || reply->isError()) {
          spdlog::warn("[{}] the new version serves here, but its module could not be stored for the cluster: {}", app,
                       reply ? reply->str : reply.error().message);
          return (*shared)();
        }
        store(app, std::move(desired), [shared] { (*shared)(); });
      });
  if (!sent) {
    spdlog::warn("[{}] the new version serves here, but the cluster cannot be told: {}", app, sent.error().message);
    (*shared)();
  }
}

void ClusterApps::store(const std::string& app, std::string desired, UniqueFunction<void()> then) {
  auto shared = std::make_shared<UniqueFunction<void()>>(std::move(then));
  auto sent = script_.run("app-set", 0, {app, std::move(desired)}, [app, shared](Result<RedisReply> reply) {
    if (!reply || reply->isError()) {
      spdlog::warn("[{}] the change took effect here, but the cluster could not be told: {}", app,
                   reply ? reply->str : reply.error().message);
    }
    (*shared)();
  });
  if (!sent) {
    spdlog::warn("[{}] the change took effect here, but the cluster cannot be told: {}", app, sent.error().message);
    (*shared)();
  }
}

void ClusterApps::poll() {
  if (closing_ || polling_ || !client_.up()) return;
  polling_ = true;
  auto sent = client_.command({"GET", prefix_ + "apps-revision"}, [this](Result<RedisReply> revision) {
    if (closing_ || !revision || revision->isError() || revision->str == revision_) {
      polling_ = false;
      return;
    }
    auto read = client_.command({"HGETALL", prefix_ + "apps"}, [this, seen = revision->str](Result<RedisReply> apps) {
      if (closing_ || !apps || apps->isError()) {
        polling_ = false;
        return;
      }
      sync(*apps, seen);
    });
    if (!read) polling_ = false;
  });
  if (!sent) polling_ = false;
}

void ClusterApps::sync(const RedisReply& apps, const std::string& revision) {
  // Counts the deploys this sync started; the revision counts as caught up once all of them
  // succeeded (a failed one is tried again at the next poll).
  struct Round {
    int pending = 1;
    bool failed = false;
  };
  auto round = std::make_shared<Round>();
  auto finish = [this, round, revision] {
    if (--round->pending != 0) return;
    if (!round->failed) revision_ = revision;
    polling_ = false;
  };
  for (size_t i = 0; i + 1 < apps.elements.size(); i += 2) {
    const std::string app = apps.elements[i].str;
    json desired = json::parse(apps.elements[i + 1].str, nullptr, false);
    if (!desired.is_object()) continue;
    if (desired.value("removed", false)) {
      if (applied_[app] == kRemoved) continue;
      applied_[app] = kRemoved;
      applying_.insert(app);
      auto removed = apps_.remove(app);
      applying_.erase(app);
      if (removed) spdlog::info("[{}] removed, as the cluster's other hosts were told", app);
      continue;
    }
    const std::string digest = desired.value("digest", "");
    if (applied_.count(app) == 0) applied_[app] = localDigest(app);
    if (digest.empty() || applied_[app] == digest || applying_.count(app) > 0) continue;
    ++round->pending;
    applying_.insert(app);
    const std::string module_sha = desired.value("module", "");
    std::string manifest = desired.value("manifest", "");
    auto fetched = client_.command(
        {"GET", prefix_ + "module:" + module_sha},
        [this, app, digest, manifest = std::move(manifest), round, finish](Result<RedisReply> module) mutable {
          if (closing_ || !module || module->type != RedisReply::Type::kString) {
            applying_.erase(app);
            round->failed = true;
            return finish();
          }
          apps_.deploy(app, std::move(manifest), std::move(module->str),
                       [this, app, digest, round, finish](Result<DeployReport> report) mutable {
                         applying_.erase(app);
                         if (!report) {
                           spdlog::warn("[{}] the cluster's version could not be served here: {}; trying again", app,
                                        report.error().message);
                           round->failed = true;
                         } else {
                           applied_[app] = digest;
                         }
                         finish();
                       });
        });
    if (!fetched) {
      applying_.erase(app);
      round->failed = true;
      --round->pending;
    }
  }
  finish();
}

}  // namespace gust
