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

void ClusterApps::publishEnv(const std::string& app, const AppEnv& env) {
  if (closing_ || applying_env_.count(app) > 0) return;  // the cluster's own change, applied here
  json variables = json::object();
  for (const auto& [key, value] : env) variables[key] = value;
  ++publishing_env_[app];
  auto sent = script_.run("env-set", 0, {app, variables.dump()}, [this, app](Result<RedisReply> reply) {
    if (--publishing_env_[app] == 0) publishing_env_.erase(app);
    if (!reply || reply->isError()) {
      spdlog::warn("[{}] the variables changed here, but the cluster could not be told: {}", app,
                   reply ? reply->str : reply.error().message);
    }
  });
  if (!sent) {
    if (--publishing_env_[app] == 0) publishing_env_.erase(app);
    spdlog::warn("[{}] the variables changed here, but the cluster cannot be told: {}", app, sent.error().message);
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
    auto read = script_.run("apps-read", 0, {}, [this, seen = revision->str](Result<RedisReply> both) {
      if (closing_ || !both || both->isError() || both->elements.size() != 2) {
        polling_ = false;
        return;
      }
      sync(both->elements[0], both->elements[1], seen);
    });
    if (!read) polling_ = false;
  });
  if (!sent) polling_ = false;
}

void ClusterApps::sync(const RedisReply& apps, const RedisReply& envs, const std::string& revision) {
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
  // Variables first: a version that requires a new one then finds it set.
  for (size_t i = 0; i + 1 < envs.elements.size(); i += 2) {
    const std::string app = envs.elements[i].str;
    json variables = json::parse(envs.elements[i + 1].str, nullptr, false);
    if (!variables.is_object() || applying_env_.count(app) > 0 || publishing_env_.count(app) > 0) continue;
    AppEnv wanted;
    for (const auto& [key, value] : variables.items()) {
      if (value.is_string()) wanted[key] = value.get<std::string>();
    }
    auto local = apps_.envStore().load(app);
    if (!local) {
      round->failed = true;
      continue;
    }
    if (*local == wanted) continue;
    std::vector<std::string> unset;
    for (const auto& [key, value] : *local) {
      if (wanted.count(key) == 0) unset.push_back(key);
    }
    ++round->pending;
    applying_env_.insert(app);
    apps_.changeEnv(app, std::move(wanted), std::move(unset), [this, app, round, finish](Result<EnvChange> changed) {
      applying_env_.erase(app);
      if (!changed) {
        spdlog::warn("[{}] the cluster's variables could not be applied here: {}; trying again", app,
                     changed.error().message);
        round->failed = true;
      }
      finish();
    });
  }
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
