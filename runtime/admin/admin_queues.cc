#include "runtime/admin/admin_queues.h"

#include <charconv>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "runtime/base/duration.h"
#include "runtime/base/iso8601.h"
#include "runtime/base/text.h"

namespace gust {
namespace {

using json = nlohmann::json;

// Message headers come in as request headers with this prefix (lowercased by the parser).
constexpr std::string_view kHeaderPrefix = "gust-header-";
constexpr size_t kDefaultPeek = 10;

// Text that JSON can carry as is: valid UTF-8; anything else is shown escaped.
std::string jsonSafe(std::string_view s) {
  if (isValidUtf8(s)) return std::string(s);
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out += ch;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  return out;
}

std::string iso8601(QueueTime t) { return formatIso8601(t, nullptr, Iso8601Precision::kMillis); }

json peekedJson(const PeekedMessage& m) {
  json headers = json::object();
  for (const auto& [k, v] : m.headers) headers[jsonSafe(k)] = jsonSafe(v);
  json out = {{"id", m.id},
              {"headers", headers},
              {"attempts", m.attempts},
              {"state", messageStateName(m.state)},
              {"enqueued_at", iso8601(m.enqueued_at)},
              {"visible_at", iso8601(m.visible_at)},
              {"last_error", jsonSafe(m.last_error)}};
  if (isValidUtf8(m.body)) {
    out["body"] = m.body;
  } else {
    out["body_base64"] = base64Encode(m.body);
  }
  if (!m.source_queue.empty()) out["source_queue"] = m.source_queue;
  if (m.dead_at) out["dead_at"] = iso8601(*m.dead_at);
  return out;
}

// One line of the queue list: what the store counts, and who consumes or declares it.
struct ListedQueue {
  QueueStats counts;
  std::vector<std::string> consumers;    // "app/function", by a queue trigger or a topic subscription
  std::vector<std::string> declared_by;  // apps that list it in "publishes"
};

// Every queue the active versions consume or declare, even before its first message: users
// think of an app's queues as there once it is deployed, not once something was sent.
std::map<std::string, ListedQueue> queuesOfApps(const Dispatcher& dispatcher) {
  std::map<std::string, ListedQueue> out;
  for (const auto& name : dispatcher.appNames()) {
    const AppInfo* app = dispatcher.app(name);
    if (app == nullptr) continue;
    for (const auto& f : app->manifest.functions) {
      if (f.queue) out[f.queue->queue].consumers.push_back(name + "/" + f.name);
      if (f.topic && !f.topic->delivery.queue.empty()) {
        out[f.topic->delivery.queue].consumers.push_back(name + "/" + f.name);
      }
    }
    for (const auto& queue : app->manifest.publishes) out[queue].declared_by.push_back(name);
  }
  return out;
}

}  // namespace

void addQueueRoutes(AdminApi& api, QueueBackend& queues, QueueTrigger& trigger, const Dispatcher& dispatcher) {
  api.route({"POST"}, "/v1/queues/{name}/messages", [&queues, &trigger](AdminCall&& call) {
    std::string queue = call.param("name");
    OutgoingMessage message;
    message.source = "/admin";  // its ce-source if the name is a topic
    message.body = std::move(call.request.body);
    for (const auto& [name, value] : call.request.headers) {
      if (name == "gust-message-id") {
        message.id = value;
      } else if (name == "gust-delay") {
        auto delay = parseDuration(value);
        if (!delay) {
          call.responder.send(badRequest("Gust-Delay: " + delay.error().message));
          return;
        }
        message.delay = *delay;
      } else if (name.starts_with(kHeaderPrefix) && name.size() > kHeaderPrefix.size()) {
        message.headers.emplace_back(name.substr(kHeaderPrefix.size()), value);
      }
    }
    if (call.request.header("gust-message-id").empty() &&
        std::any_of(call.request.headers.begin(), call.request.headers.end(),
                    [](const auto& h) { return h.first == "gust-message-id"; })) {
      call.responder.send(badRequest("Gust-Message-Id is empty; leave it out to let the host choose an id"));
      return;
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    std::vector<OutgoingMessage> batch;
    batch.push_back(std::move(message));
    auto sent = queues.send(queue, std::move(batch), [responder, queue, &trigger](Result<std::vector<SendResult>> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      const SendResult& one = r->front();
      if (!one.duplicate) trigger.notify(queue);
      responder->send(jsonResponse({{"id", one.id}, {"duplicate", one.duplicate}}, one.duplicate ? 200 : 201));
    });
    if (!sent) responder->send(errorResponse(sent.error()));
  });

  api.route({"GET"}, "/v1/queues", [&queues, &dispatcher](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    // The apps as they are when the call comes; the counts come a moment later.
    auto started = queues.stats([responder, apps = queuesOfApps(dispatcher)](Result<std::vector<QueueStats>> r) mutable {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      for (auto& s : *r) apps[s.queue].counts = s;
      json list = json::array();
      for (const auto& [name, q] : apps) {
        list.push_back({{"name", name},
                        {"depth", q.counts.ready},
                        {"in_flight", q.counts.in_flight},
                        {"delayed", q.counts.delayed},
                        {"dead", q.counts.dead},
                        {"consumers", q.consumers},
                        {"declared_by", q.declared_by}});
      }
      responder->send(jsonResponse({{"queues", list}}));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });

  api.route({"GET"}, "/v1/queues/{name}/messages", [&queues](AdminCall&& call) {
    size_t limit = kDefaultPeek;
    if (std::string text = call.query("limit"); !text.empty()) {
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), limit);
      if (ec != std::errc() || end != text.data() + text.size() || limit < 1 || limit > 1000) {
        call.responder.send(badRequest("limit must be a whole number from 1 to 1000, got \"" + jsonSafe(text) + "\""));
        return;
      }
    }
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto started = queues.peek(call.param("name"), limit, [responder](Result<std::vector<PeekedMessage>> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      json list = json::array();
      for (const auto& m : *r) list.push_back(peekedJson(m));
      responder->send(jsonResponse({{"messages", list}}));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });

  api.route({"POST"}, "/v1/queues/{name}/redrive", [&queues, &trigger](AdminCall&& call) {
    std::string dead = call.param("name");
    if (!isDeadQueue(dead)) {
      call.responder.send(badRequest("redrive moves the messages of a dead-letter queue back to its source: name a "
                                     "queue ending in .dead, such as " + deadQueueOf(validateStoredQueueName(dead)
                                                                                          ? dead
                                                                                          : std::string("orders"))));
      return;
    }
    std::string source = dead.substr(0, dead.size() - kDeadQueueSuffix.size());
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto started = queues.redrive(dead, [responder, source, &trigger](Result<int64_t> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      if (*r > 0) trigger.notify(source);
      responder->send(jsonResponse({{"moved", *r}, {"to", source}}));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });

  api.route({"DELETE"}, "/v1/queues/{name}/messages", [&queues](AdminCall&& call) {
    auto responder = std::make_shared<HttpResponder>(std::move(call.responder));
    auto started = queues.purge(call.param("name"), [responder](Result<int64_t> r) {
      if (!r) {
        responder->send(errorResponse(r.error()));
        return;
      }
      responder->send(jsonResponse({{"purged", *r}}));
    });
    if (!started) responder->send(errorResponse(started.error()));
  });
}

}  // namespace gust
