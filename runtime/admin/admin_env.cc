#include "runtime/admin/admin_env.h"

#include <memory>

#include "runtime/base/names.h"

namespace gust {
namespace {

using json = nlohmann::json;

// Names and sizes only: a value never leaves the host.
json variablesJson(const AppEnv& env) {
  json list = json::array();
  for (const auto& [key, value] : env) list.push_back({{"name", key}, {"bytes", value.size()}});
  return list;
}

// Applies a change and answers with the app's variables once its workers have them.
void change(AdminCall&& call, AppManager& apps, AppEnv set, std::vector<std::string> unset) {
  std::string app = call.param("app");
  auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
  apps.changeEnv(app, std::move(set), std::move(unset), [responder](Result<EnvChange> changed) {
    if (!changed) {
      // Workers that do not start with the new variables are the change's fault, as in a deploy.
      if (changed.error().kind == ErrorKind::kUnavailable) {
        responder->send(problemResponse(422, "Workers did not start", changed.error().message));
      } else {
        responder->send(errorResponse(changed.error()));
      }
      return;
    }
    responder->send(jsonResponse({{"app", changed->app},
                                  {"variables", variablesJson(changed->env)},
                                  {"rolled", changed->rolled},
                                  {"version", changed->version}}));
  });
}

}  // namespace

void addEnvRoutes(AdminApi& api, AppManager& apps) {
  api.route({"GET"}, "/v1/apps/{app}/env", [&apps](AdminCall&& call) {
    std::string app = call.param("app");
    if (auto valid = validateAppName(app); !valid) return call.responder.send(errorResponse(valid.error()));
    auto env = apps.envStore().load(app);
    if (!env) return call.responder.send(errorResponse(env.error()));
    call.responder.send(jsonResponse({{"app", app}, {"variables", variablesJson(*env)}}));
  });

  // A JSON merge patch (RFC 7396) of the app's variables: a string sets one, null removes it.
  api.route({"PATCH", "PUT"}, "/v1/apps/{app}/env", [&apps](AdminCall&& call) {
    if (auto valid = validateAppName(call.param("app")); !valid) {
      return call.responder.send(errorResponse(valid.error()));
    }
    json body = json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object() || body.empty()) {
      return call.responder.send(badRequest(
          "the body must be a non-empty JSON object of variables, e.g. {\"API_KEY\": \"value\"} (null removes one)"));
    }
    AppEnv set;
    std::vector<std::string> unset;
    for (const auto& [key, value] : body.items()) {
      if (auto ok = validateEnvKey(key); !ok) return call.responder.send(errorResponse(ok.error()));
      if (value.is_null()) {
        unset.push_back(key);
      } else if (!value.is_string()) {
        return call.responder.send(badRequest("the value of " + key + " must be a string (or null to remove it)"));
      } else if (auto ok = validateEnvValue(key, value.get<std::string>()); !ok) {
        return call.responder.send(errorResponse(ok.error()));
      } else {
        set[key] = value.get<std::string>();
      }
    }
    change(std::move(call), apps, std::move(set), std::move(unset));
  });

  api.route({"DELETE"}, "/v1/apps/{app}/env/{key}", [&apps](AdminCall&& call) {
    if (auto valid = validateAppName(call.param("app")); !valid) {
      return call.responder.send(errorResponse(valid.error()));
    }
    std::string key = call.param("key");
    change(std::move(call), apps, {}, {key});
  });
}

}  // namespace gust
