#include "runtime/admin/admin_webhooks.h"

#include <memory>

#include "runtime/base/iso8601.h"
#include "runtime/base/names.h"

namespace gust {
namespace {

using json = nlohmann::json;

json webhookJson(const Webhook& hook) {
  return {{"id", hook.id},
          {"topic", hook.topic},
          {"url", hook.url},
          {"type", hook.type.empty() ? json(nullptr) : json(hook.type)},
          {"queue", subscriptionQueue(hook.topic, hook.id)},
          {"created_at", formatIso8601(hook.created_at, nullptr)}};
}

// The answer that shows a secret: the only times it is shown.
HttpResponse secretResponse(const Webhook& hook, int status) {
  json answer = webhookJson(hook);
  answer["secret"] = hook.secret;
  HttpResponse r = jsonResponse(answer, status);
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

}  // namespace

void addWebhookRoutes(AdminApi& api, WebhookDeliveries& webhooks, QueueBackend& queues) {
  api.route({"POST"}, "/v1/webhooks", [&webhooks](AdminCall&& call) {
    json body = json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
    const char* example = "the body must be a JSON object such as "
                          "{\"topic\": \"orders\", \"url\": \"https://example.com/hook\", \"type\": \"order.created\"} "
                          "(type optional)";
    if (body.is_discarded() || !body.is_object()) return call.responder.send(badRequest(example));
    std::string topic, url, type;
    for (const auto& [field, value] : body.items()) {
      if (field != "topic" && field != "url" && field != "type") {
        return call.responder.send(
            badRequest("unknown field \"" + field + "\"; a webhook takes \"topic\", \"url\" and \"type\""));
      }
      if (value.is_null() && field == "type") continue;
      if (!value.is_string()) return call.responder.send(badRequest("\"" + field + "\" must be a string"));
      (field == "topic" ? topic : field == "url" ? url : type) = value.get<std::string>();
    }
    if (topic.empty() || url.empty()) return call.responder.send(badRequest(example));
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto added = webhooks.add(topic, url, type, [responder](Result<Webhook> made) {
      if (!made) return responder->send(errorResponse(made.error()));
      responder->send(secretResponse(*made, 201));
    });
    if (!added) responder->send(errorResponse(added.error()));
  });

  api.route({"GET"}, "/v1/webhooks", [&webhooks, &queues](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto asked = queues.stats([responder, &webhooks](Result<std::vector<QueueStats>> stats) {
      if (!stats) return responder->send(errorResponse(stats.error()));
      json list = json::array();
      for (const Webhook& hook : webhooks.store().list()) {
        json item = webhookJson(hook);
        json backlog = {{"ready", 0}, {"in_flight", 0}, {"delayed", 0}, {"dead", 0}};
        for (const QueueStats& q : *stats) {
          if (q.queue != item["queue"].get<std::string>()) continue;
          backlog = {{"ready", q.ready}, {"in_flight", q.in_flight}, {"delayed", q.delayed}, {"dead", q.dead}};
        }
        item["backlog"] = backlog;
        list.push_back(std::move(item));
      }
      responder->send(jsonResponse({{"webhooks", list}}));
    });
    if (!asked) responder->send(errorResponse(asked.error()));
  });

  api.route({"DELETE"}, "/v1/webhooks/{id}", [&webhooks](AdminCall&& call) {
    std::string id = call.param("id");
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto removed = webhooks.remove(id, [responder, id](Result<void> done) {
      if (!done) return responder->send(errorResponse(done.error()));
      responder->send(jsonResponse({{"id", id}, {"removed", true}}));
    });
    if (!removed) responder->send(errorResponse(removed.error()));
  });

  api.route({"POST"}, "/v1/webhooks/{id}/rotate", [&webhooks](AdminCall&& call) {
    std::string id = call.param("id");
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto rotated = webhooks.rotate(id, [responder](Result<Webhook> done) {
      if (!done) return responder->send(errorResponse(done.error()));
      HttpResponse r = secretResponse(*done, 200);
      responder->send(std::move(r));
    });
    if (!rotated) responder->send(errorResponse(rotated.error()));
  });
}

}  // namespace gust
