#include "triggers/queue/queue_backend.h"

#include <cstdio>

namespace gust {
namespace {

bool queueNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

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

Result<void> validateQueueName(std::string_view queue) {
  std::string_view base = queue;
  if (isDeadQueue(base)) base.remove_suffix(kDeadQueueSuffix.size());
  if (base.empty()) return makeError(ErrorKind::kBadInput, "queue name is empty; use 1 to 100 of [A-Za-z0-9._-]");
  if (base.size() > kMaxQueueNameBytes) {
    return makeError(ErrorKind::kBadInput, "queue name '" + std::string(queue.substr(0, 40)) + "...' is " +
                                               std::to_string(base.size()) + " bytes; the limit is 100");
  }
  for (char c : base) {
    if (!queueNameChar(c)) {
      return makeError(ErrorKind::kBadInput, "queue name '" + std::string(queue) + "' contains " + describeByte(c) +
                                                 "; use only letters, digits, '.', '_' and '-'");
    }
  }
  if (isDeadQueue(base)) {
    return makeError(ErrorKind::kBadInput, "queue name '" + std::string(queue) +
                                               "' is the dead-letter queue of a dead-letter queue; there is only one level");
  }
  return {};
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
