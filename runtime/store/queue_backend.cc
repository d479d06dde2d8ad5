#include "runtime/store/queue_backend.h"

#include <cstdio>

#include "runtime/base/names.h"

namespace gust {
namespace {

std::string describeByte(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return std::string("'") + c + "'";
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", u);
  return hex;
}

}  // namespace

bool isDeadQueue(std::string_view queue) {
  return queue.size() > kDeadQueueSuffix.size() && queue.ends_with(kDeadQueueSuffix);
}

std::string deadQueueOf(std::string_view queue) { return std::string(queue) + std::string(kDeadQueueSuffix); }

Result<void> validateStoredQueueName(std::string_view queue) {
  // One rule for names users give (runtime/base/names.h); a dead-letter queue is one of those
  // plus ".dead"; a subscription's queue is a topic, ':' and a subscriber.
  std::string_view base = queue;
  if (isDeadQueue(base)) base.remove_suffix(kDeadQueueSuffix.size());
  const size_t colon = base.find(kSubscriptionSeparator);
  if (colon == std::string_view::npos) return validateQueueName(base);
  if (auto topic = validateQueueName(base.substr(0, colon)); !topic.ok()) return topic;
  std::string_view subscriber = base.substr(colon + 1);
  const size_t second = subscriber.find(kSubscriptionSeparator);
  if (second == std::string_view::npos) {
    if (validateKeyName(subscriber).ok()) return {};  // a webhook id
  } else if (validateAppName(subscriber.substr(0, second)).ok() &&
             validateFunctionName(subscriber.substr(second + 1)).ok()) {
    return {};
  }
  return makeError(ErrorKind::kBadInput, "'" + std::string(queue.substr(0, 200)) +
                                             "' is not a subscription queue: after the topic and ':' comes"
                                             " \"<app>:<function>\" or a webhook id");
}

Result<void> validateMessageId(std::string_view id) {
  if (id.empty()) return makeError(ErrorKind::kBadInput, "message id is empty; omit it to have one generated");
  if (id.size() > kMaxMessageIdBytes) {
    return makeError(ErrorKind::kBadInput, "message id '" + std::string(id.substr(0, 40)) + "...' is " +
                                               std::to_string(id.size()) + " bytes; the limit is 128");
  }
  for (char c : id) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) {
      return makeError(ErrorKind::kBadInput, "message id contains " + describeByte(c) +
                                                 "; use printable ASCII without spaces");
    }
  }
  return {};
}

const char* messageStateName(MessageState state) {
  switch (state) {
    case MessageState::kReady:
      return "ready";
    case MessageState::kInFlight:
      return "in_flight";
    case MessageState::kDelayed:
      return "delayed";
  }
  return "unknown";
}

}  // namespace gust
