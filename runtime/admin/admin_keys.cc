#include "runtime/admin/admin_keys.h"

#include <memory>

#include "runtime/base/iso8601.h"
#include "runtime/base/names.h"
#include "runtime/base/suggest.h"

namespace gust {
namespace {

using json = nlohmann::json;

json keyJson(const FunctionKey& key) {
  return {{"name", key.name},
          {"function", key.function.empty() ? json(nullptr) : json(key.function)},
          {"created_at", formatIso8601(key.created_at, nullptr)}};
}

// Refuses a scope naming a function that the app's active version does not have. An app
// not deployed yet may be given keys ahead of its first deploy.
Result<void> checkScope(const Dispatcher& dispatcher, const std::string& app, const std::string& function) {
  const AppInfo* info = dispatcher.app(app);
  if (function.empty() || info == nullptr) return {};
  std::vector<std::string> names;
  for (const auto& f : info->manifest.functions) {
    if (f.name == function) return {};
    names.push_back(f.name);
  }
  std::string message = "app " + app + " has no function \"" + function + "\"";
  if (auto close = closestMatch(function, names)) message += " (did you mean \"" + *close + "\"?)";
  return makeError(ErrorKind::kBadInput, message + "; a key's function must be one of the app's");
}

}  // namespace

void addKeyRoutes(AdminApi& api, KeyStore& keys, const Dispatcher& dispatcher) {
  api.route({"POST"}, "/v1/apps/{app}/keys", [&keys, &dispatcher](AdminCall&& call) {
    std::string app = call.param("app");
    if (auto valid = validateAppName(app); !valid) return call.responder.send(errorResponse(valid.error()));
    json body = call.request.body.empty() ? json::object()
                                          : json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) {
      return call.responder.send(
          badRequest("the body must be a JSON object such as {\"name\": \"ci\", \"function\": \"checkout\"} "
                     "(both optional)"));
    }
    std::string function, name;
    for (const auto& [field, value] : body.items()) {
      if (field != "function" && field != "name") {
        return call.responder.send(badRequest("unknown field \"" + field + "\"; a key takes \"name\" and \"function\""));
      }
      if (!value.is_string() && !value.is_null()) {
        return call.responder.send(badRequest("\"" + field + "\" must be a string"));
      }
      (field == "function" ? function : name) = value.is_string() ? value.get<std::string>() : "";
    }
    if (auto scoped = checkScope(dispatcher, app, function); !scoped) {
      return call.responder.send(errorResponse(scoped.error()));
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto created = keys.create(app, function, name, [responder, app](Result<CreatedKey> made) {
      if (!made) return responder->send(errorResponse(made.error()));
      json answer = keyJson(made->key);
      answer["app"] = app;
      answer["key"] = made->secret;  // the only time it is shown
      HttpResponse r = jsonResponse(answer, 201);
      r.headers.emplace_back("Cache-Control", "no-store");
      responder->send(std::move(r));
    });
    if (!created) responder->send(errorResponse(created.error()));
  });

  api.route({"GET"}, "/v1/apps/{app}/keys", [&keys](AdminCall&& call) {
    std::string app = call.param("app");
    if (auto valid = validateAppName(app); !valid) return call.responder.send(errorResponse(valid.error()));
    json list = json::array();
    for (const FunctionKey& key : keys.list(app)) list.push_back(keyJson(key));
    call.responder.send(jsonResponse({{"app", app}, {"keys", list}}));
  });

  api.route({"DELETE"}, "/v1/apps/{app}/keys/{name}", [&keys](AdminCall&& call) {
    std::string app = call.param("app"), name = call.param("name");
    if (auto valid = validateAppName(app); !valid) return call.responder.send(errorResponse(valid.error()));
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto revoked = keys.revoke(app, name, [responder, app, name](Result<void> done) {
      if (!done) return responder->send(errorResponse(done.error()));
      responder->send(jsonResponse({{"app", app}, {"name", name}, {"revoked", true}}));
    });
    if (!revoked) responder->send(errorResponse(revoked.error()));
  });
}

}  // namespace gust
