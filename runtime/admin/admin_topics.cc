#include "runtime/admin/admin_topics.h"

#include <memory>

#include "runtime/base/iso8601.h"

namespace gust {
namespace {

using json = nlohmann::json;

std::string iso8601(QueueTime t) { return formatIso8601(t, nullptr, Iso8601Precision::kMillis); }

json filterJson(const EventFilter& filter) {
  json headers = json::object();
  for (const auto& [name, value] : filter.headers) headers[name] = value;
  return {{"types", filter.types}, {"headers", headers}};
}

// CloudEvents' HTTP binary mode: the event's attributes come as ce-* headers. The host
// sets id (from ce-id, which deduplicates), source, time and specversion itself.
Result<OutgoingMessage> eventOf(AdminCall& call) {
  OutgoingMessage event;
  event.source = "/admin";
  event.body = std::move(call.request.body);
  for (const auto& [name, value] : call.request.headers) {
    if (name == "ce-id") {
      if (value.empty()) return makeError(ErrorKind::kBadInput, "ce-id is empty; leave it out to let the host choose one");
      event.id = value;
    } else if (name == "content-type") {
      event.headers.emplace_back("content-type", value);
    } else if (name.starts_with("ce-") && name.size() > 3 && name != "ce-source" && name != "ce-time" &&
               name != "ce-specversion") {
      event.headers.emplace_back(name, value);
    }
  }
  return event;
}

}  // namespace

void addTopicRoutes(AdminApi& api, QueueBackend& queues, QueueTrigger& trigger) {
  api.route({"GET"}, "/v1/topics", [&queues](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto started = queues.topics([responder](Result<std::vector<TopicInfo>> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      json list = json::array();
      for (const auto& t : *r) {
        json one = {{"name", t.name},
                    {"declared_by", t.declared_by},
                    {"subscriptions", t.subscriptions},
                    {"published", t.published}};
        if (t.last_published_at) one["last_published_at"] = iso8601(*t.last_published_at);
        list.push_back(std::move(one));
      }
      responder->send(jsonResponse({{"topics", list}}));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });

  api.route({"GET"}, "/v1/topics/{name}/subscriptions", [&queues](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto started = queues.subscriptions(call.param("name"), [responder](Result<std::vector<SubscriptionInfo>> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      json list = json::array();
      for (const auto& s : *r) {
        list.push_back({{"subscriber", s.subscription.subscriber},
                        {"owner", s.owner},
                        {"queue", s.queue},
                        {"filter", filterJson(s.subscription.filter)},
                        {"created_at", iso8601(s.created_at)},
                        {"backlog", s.backlog.ready},
                        {"in_flight", s.backlog.in_flight},
                        {"delayed", s.backlog.delayed},
                        {"dead", s.backlog.dead}});
      }
      responder->send(jsonResponse({{"subscriptions", list}}));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });

  api.route({"POST"}, "/v1/topics/{name}/events", [&queues, &trigger](AdminCall&& call) {
    std::string topic = call.param("name");
    auto event = eventOf(call);
    if (!event) {
      call.responder.send(errorResponse(event.error()));
      return;
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    // Only to a topic: the same call to a plain name would make a queue of a typo.
    auto checked = queues.subscriptions(
        topic, [&queues, &trigger, responder, topic, event = std::move(*event)](
                   Result<std::vector<SubscriptionInfo>> subs) mutable {
          if (!subs) {
            responder->send(errorResponse(subs.error()));
            return;
          }
          std::vector<OutgoingMessage> batch;
          batch.push_back(std::move(event));
          auto sent = queues.send(topic, std::move(batch), [&trigger, responder, topic](Result<std::vector<SendResult>> r) {
            if (!r) {
              responder->send(errorResponse(r.error()));
              return;
            }
            const SendResult& one = r->front();
            if (!one.duplicate) trigger.notify(topic);
            responder->send(jsonResponse({{"id", one.id}, {"duplicate", one.duplicate}}, one.duplicate ? 200 : 201));
          });
          if (!sent) responder->send(errorResponse(sent.error()));
        });
    if (!checked) responder->send(errorResponse(checked.error()));
  });
}

}  // namespace gust
