#include "runtime/store/queue_calls.h"

#include <algorithm>
#include <cctype>

#include "runtime/base/iso8601.h"
#include "runtime/base/names.h"

namespace gust {
namespace {

using std::chrono::milliseconds;

Error badInput(std::string_view what, const std::string& message) {
  return makeError(ErrorKind::kBadInput, std::string(what) + ": " + message);
}

bool sameName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string headerOf(const Pairs& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (sameName(k, name)) return v;
  }
  return {};
}

Result<void> checkMessage(const QueueLimits& limits, std::string_view what, OutgoingMessage& message,
                          IdGenerator& ids) {
  if (message.id.empty()) {
    message.id = ids.next();
  } else if (auto r = validateMessageId(message.id); !r.ok()) {
    return badInput(what, r.error().message);
  }
  if (message.body.size() > limits.max_body_bytes) {
    return badInput(what, "message '" + message.id + "' body is " + std::to_string(message.body.size()) +
                              " bytes; the limit is " + std::to_string(limits.max_body_bytes));
  }
  if (message.headers.size() > limits.max_headers) {
    return badInput(what, "message '" + message.id + "' has " + std::to_string(message.headers.size()) +
                              " headers; the limit is " + std::to_string(limits.max_headers));
  }
  size_t header_bytes = 0;
  for (const auto& [name, value] : message.headers) {
    if (name.empty()) return badInput(what, "message '" + message.id + "' has a header with an empty name");
    header_bytes += name.size() + value.size();
  }
  if (header_bytes > limits.max_header_bytes) {
    return badInput(what, "message '" + message.id + "' headers total " + std::to_string(header_bytes) +
                              " bytes; the limit is " + std::to_string(limits.max_header_bytes));
  }
  if (message.delay < milliseconds(0) || message.delay > limits.max_delay) {
    return badInput(what, "message '" + message.id + "' delay of " + std::to_string(message.delay.count()) +
                              " ms is outside 0.." + std::to_string(limits.max_delay.count()) + " ms");
  }
  return {};
}

Result<void> checkStateWrites(const AppStateWrites& state) {
  if (state.empty()) return {};
  if (auto r = validateAppName(state.app); !r.ok()) return badInput("state", r.error().message);
  if (state.writes.size() > kMaxStateWrites) {
    return badInput("state", std::to_string(state.writes.size()) + " writes; the limit is " +
                                 std::to_string(kMaxStateWrites));
  }
  for (const StateWrite& w : state.writes) {
    if (std::string why = stateKeyProblem(w.key); !why.empty()) return badInput("state", why);
    if (w.value.size() > kMaxStateValueBytes) {
      return badInput("state", "a value of " + std::to_string(w.value.size()) + " bytes is larger than the limit of " +
                                   std::to_string(kMaxStateValueBytes));
    }
  }
  return {};
}

}  // namespace

Result<void> checkSendCall(const QueueLimits& limits, const std::string& queue,
                           std::vector<OutgoingMessage>& messages, IdGenerator& ids) {
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("send", r.error().message);
  if (isDeadQueue(queue)) {
    return badInput("send", "'" + queue + "' is a dead-letter queue, filled only by the queue itself; send to '" +
                                queue.substr(0, queue.size() - kDeadQueueSuffix.size()) + "' instead");
  }
  if (messages.empty()) return badInput("send", "no messages to send");
  if (messages.size() > limits.max_batch) {
    return badInput("send", std::to_string(messages.size()) + " messages in one call; the limit is " +
                                std::to_string(limits.max_batch));
  }
  for (auto& m : messages) {
    if (auto r = checkMessage(limits, "send", m, ids); !r.ok()) return r;
  }
  return {};
}

Result<void> checkLeaseCall(const QueueLimits& limits, const std::string& queue, const LeaseOptions& options) {
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("lease", r.error().message);
  if (options.max_count == 0 || options.max_count > limits.max_batch) {
    return badInput("lease", "max_count " + std::to_string(options.max_count) + " is outside 1.." +
                                 std::to_string(limits.max_batch));
  }
  if (options.visibility_timeout <= milliseconds(0) || options.visibility_timeout > limits.max_visibility_timeout) {
    return badInput("lease", "visibility timeout of " + std::to_string(options.visibility_timeout.count()) +
                                 " ms is outside 1.." + std::to_string(limits.max_visibility_timeout.count()) +
                                 " ms");
  }
  if (options.max_attempts < 0) return badInput("lease", "max_attempts is negative; use 0 for unlimited");
  if (options.max_age < milliseconds(0)) return badInput("lease", "max_age is negative; use 0 for no limit");
  return {};
}

Result<void> checkSettleCall(const QueueLimits& limits, std::vector<MessageSettlement>& settlements,
                             std::vector<MessagePublish>& publishes, const AppStateWrites& state, IdGenerator& ids) {
  if (settlements.empty() && publishes.empty() && state.empty()) {
    return badInput("settle", "nothing to settle, publish or write");
  }
  if (auto r = checkStateWrites(state); !r.ok()) return r;
  if (settlements.size() > limits.max_batch || publishes.size() > limits.max_batch) {
    return badInput("settle", std::to_string(settlements.size()) + " settlements and " +
                                  std::to_string(publishes.size()) + " publishes; the limit is " +
                                  std::to_string(limits.max_batch) + " of each");
  }
  for (auto& s : settlements) {
    if (auto r = validateStoredQueueName(s.queue); !r.ok()) return badInput("settle", r.error().message);
    if (auto r = validateMessageId(s.id); !r.ok()) return badInput("settle", r.error().message);
    if (s.lease_token.empty()) return badInput("settle", "message '" + s.id + "' has no lease token");
    if (s.action == SettleAction::kDeadLetter && isDeadQueue(s.queue)) {
      return badInput("settle", "message '" + s.id + "' is already in dead-letter queue '" + s.queue +
                                    "'; ack or retry it instead");
    }
    if (s.retry_delay < milliseconds(0) || s.retry_delay > limits.max_delay) {
      return badInput("settle", "message '" + s.id + "' retry delay of " + std::to_string(s.retry_delay.count()) +
                                    " ms is outside 0.." + std::to_string(limits.max_delay.count()) + " ms");
    }
    if (s.error.size() > limits.max_error_bytes) s.error.resize(limits.max_error_bytes);
  }
  for (auto& p : publishes) {
    if (auto r = validateStoredQueueName(p.queue); !r.ok()) return badInput("publish", r.error().message);
    if (isDeadQueue(p.queue)) return badInput("publish", "'" + p.queue + "' is a dead-letter queue");
    if (auto r = checkMessage(limits, "publish", p.message, ids); !r.ok()) return r;
  }
  return {};
}

Result<void> checkPeekCall(const QueueLimits& limits, const std::string& queue, size_t max_count) {
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput("peek", r.error().message);
  if (max_count == 0 || max_count > limits.max_batch) {
    return badInput("peek", "count " + std::to_string(max_count) + " is outside 1.." +
                                std::to_string(limits.max_batch));
  }
  return {};
}

Result<void> checkRedriveCall(const std::string& dead_queue) {
  if (auto r = validateStoredQueueName(dead_queue); !r.ok()) return badInput("redrive", r.error().message);
  if (!isDeadQueue(dead_queue)) {
    return badInput("redrive", "'" + dead_queue + "' is not a dead-letter queue; redrive '" + dead_queue +
                                   std::string(kDeadQueueSuffix) + "'");
  }
  return {};
}

Result<void> checkQueueCall(std::string_view what, const std::string& queue) {
  if (auto r = validateStoredQueueName(queue); !r.ok()) return badInput(what, r.error().message);
  return {};
}

Result<void> checkBindTopicsCall(const std::string& owner, const TopicBindings& bindings) {
  if (owner.empty()) return badInput("bindTopics", "no owner");
  for (const auto& topic : bindings.declared) {
    if (auto r = validateQueueName(topic); !r.ok()) return badInput("bindTopics", "topic: " + r.error().message);
  }
  for (const auto& sub : bindings.subscriptions) {
    if (auto r = validateQueueName(sub.topic); !r.ok()) return badInput("bindTopics", "topic: " + r.error().message);
    if (auto r = validateStoredQueueName(subscriptionQueue(sub.topic, sub.subscriber)); !r.ok()) {
      return badInput("bindTopics", r.error().message);
    }
  }
  for (const auto& kept : bindings.retained) {
    if (auto r = validateQueueName(kept.topic); !r.ok()) return badInput("bindTopics", "topic: " + r.error().message);
    if (kept.retention <= milliseconds(0) || kept.retention > kMaxTopicRetention) {
      return badInput("bindTopics", "topic '" + kept.topic + "': a retention of " +
                                        std::to_string(kept.retention.count()) + " ms is outside 1.." +
                                        std::to_string(kMaxTopicRetention.count()) + " ms");
    }
    if (kept.max_events == 0 || kept.max_events > kMaxRetainedEventsPerTopic) {
      return badInput("bindTopics", "topic '" + kept.topic + "': " + std::to_string(kept.max_events) +
                                        " retained events is outside 1.." +
                                        std::to_string(kMaxRetainedEventsPerTopic));
    }
  }
  return {};
}

Result<void> checkRetainedEventsCall(const QueueLimits& limits, const std::string& topic, size_t limit) {
  if (auto r = validateQueueName(topic); !r.ok()) return badInput("retainedEvents", r.error().message);
  if (limit == 0 || limit > limits.max_batch) {
    return badInput("retainedEvents", "limit " + std::to_string(limit) + " is outside 1.." +
                                          std::to_string(limits.max_batch));
  }
  return {};
}

const QueueBounds& boundsOfQueue(const QueueBounds& defaults, const std::map<std::string, QueueBounds>& by_queue,
                                 const std::string& queue) {
  // A dead-letter queue is bounded by its source's retention; its bytes count for nothing.
  std::string_view source = queue;
  if (isDeadQueue(source)) source.remove_suffix(kDeadQueueSuffix.size());
  auto it = by_queue.find(std::string(source));
  return it == by_queue.end() ? defaults : it->second;
}

Error noSuchTopicError(const std::string& topic) {
  return makeError(ErrorKind::kNotFound, "no topic named '" + topic +
                                             "': a topic exists while an app declares it (\"topics\" in "
                                             "gust.json), a function subscribes to it or a webhook does");
}

Error queueFullError(const std::string& queue, uint64_t held, uint64_t adds, const std::string& id,
                     const QueueBounds& bounds) {
  return makeError(ErrorKind::kLimitReached,
                   "queue '" + queue + "' holds " + std::to_string(held) + " bytes and message '" + id + "' adds " +
                       std::to_string(adds) + ", past its bound of " + std::to_string(bounds.max_bytes) +
                       " bytes (max_queue_bytes" +
                       (bounds.owner.empty() ? std::string(" of the host") : " of " + bounds.owner) +
                       "); nothing of this call was queued: retry once consumers catch up, or purge the queue");
}

OutgoingMessage topicEventOf(const std::string& topic, const OutgoingMessage& message, int64_t now_ms) {
  OutgoingMessage event;
  event.id = message.id;
  event.body = message.body;
  event.delay = message.delay;
  bool has_type = false;
  for (const auto& [name, value] : message.headers) {
    if (sameName(name, "ce-id") || sameName(name, "ce-source") || sameName(name, "ce-time") ||
        sameName(name, "ce-specversion")) {
      continue;
    }
    has_type = has_type || sameName(name, "ce-type");
    event.headers.emplace_back(name, value);
  }
  if (!has_type) event.headers.emplace_back("ce-type", topic);
  event.headers.emplace_back("ce-specversion", "1.0");
  event.headers.emplace_back("ce-id", message.id);
  event.headers.emplace_back("ce-source", message.source.empty() ? "/gust" : message.source);
  event.headers.emplace_back(
      "ce-time", formatIso8601(QueueTime(milliseconds(now_ms)), nullptr, Iso8601Precision::kMillis));
  return event;
}

TopicEvent retainedEventOf(std::string topic, uint64_t seq, std::string body, Pairs headers) {
  TopicEvent e;
  e.topic = std::move(topic);
  e.seq = seq;
  e.id = headerOf(headers, "ce-id");
  e.type = headerOf(headers, "ce-type");
  e.subject = headerOf(headers, "ce-subject");
  e.source = headerOf(headers, "ce-source");
  e.time = headerOf(headers, "ce-time");
  e.headers = std::move(headers);
  e.data = std::move(body);
  return e;
}

}  // namespace gust
