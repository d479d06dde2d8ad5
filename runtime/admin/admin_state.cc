#include "runtime/admin/admin_state.h"

#include <memory>

#include "runtime/base/iso8601.h"
#include "runtime/base/names.h"

namespace gust {
namespace {

using json = nlohmann::json;

constexpr size_t kDefaultListLimit = 100;
constexpr size_t kMaxListLimit =
    10000; // an app's whole state at the default bound

json itemJson(const StateItem &item) {
  return {{"key", item.key},
          {"version", item.version},
          {"size", item.size},
          {"expires_at", item.expires_at
                             ? json(formatIso8601(*item.expires_at, nullptr))
                             : json(nullptr)},
          {"updated_at", formatIso8601(item.updated_at, nullptr)}};
}

} // namespace

void addStateRoutes(AdminApi &api, StateStore &state) {
  api.route({"GET"}, "/v1/apps/{app}/state", [&state](AdminCall &&call) {
    std::string app = call.param("app");
    if (auto valid = validateAppName(app); !valid)
      return call.responder.send(errorResponse(valid.error()));
    size_t limit = kDefaultListLimit;
    if (std::string text = call.query("limit"); !text.empty()) {
      char *end = nullptr;
      unsigned long long n = std::strtoull(text.c_str(), &end, 10);
      if (end == text.c_str() || *end != '\0' || n == 0 || n > kMaxListLimit) {
        return call.responder.send(
            badRequest("limit must be a number from 1 to " +
                       std::to_string(kMaxListLimit)));
      }
      limit = static_cast<size_t>(n);
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto listed = state.list(
        app, call.query("prefix"), limit,
        [responder, app, limit, &state](Result<std::vector<StateItem>> items) {
          if (!items)
            return responder->send(errorResponse(items.error()));
          json keys = json::array();
          for (const StateItem &item : *items)
            keys.push_back(itemJson(item));
          bool more = items->size() == limit;
          auto counted =
              state.usage(app, [responder, app, keys = std::move(keys),
                                more](Result<StateUsage> usage) mutable {
                if (!usage)
                  return responder->send(errorResponse(usage.error()));
                responder->send(jsonResponse(
                    {{"app", app},
                     {"keys", std::move(keys)},
                     {"truncated", more},
                     {"usage",
                      {{"keys", usage->keys}, {"bytes", usage->bytes}}}}));
              });
          if (!counted)
            responder->send(errorResponse(counted.error()));
        });
    if (!listed)
      responder->send(errorResponse(listed.error()));
  });

  api.route({"GET"}, "/v1/apps/{app}/state/value", [&state](AdminCall &&call) {
    std::string app = call.param("app"), key = call.query("key");
    if (auto valid = validateAppName(app); !valid)
      return call.responder.send(errorResponse(valid.error()));
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto got = state.get(
        app, key, [responder, app, key](Result<std::optional<StateItem>> item) {
          if (!item)
            return responder->send(errorResponse(item.error()));
          if (!*item) {
            return responder->send(errorResponse(makeError(
                ErrorKind::kNotFound, "app " + app + " holds no state key \"" +
                                          key + "\" (`gust state ls " + app +
                                          "` lists its keys)")));
          }
          HttpResponse r;
          r.status = 200;
          r.headers.emplace_back("Content-Type", "application/octet-stream");
          r.headers.emplace_back("Gust-State-Version",
                                 std::to_string((*item)->version));
          if ((*item)->expires_at)
            r.headers.emplace_back(
                "Gust-State-Expires-At",
                formatIso8601(*(*item)->expires_at, nullptr));
          r.body = std::move((*item)->value);
          responder->send(std::move(r));
        });
    if (!got)
      responder->send(errorResponse(got.error()));
  });
}

} // namespace gust
