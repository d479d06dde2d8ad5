#include "runtime/base/names.h"

#include <cstdio>

#include "runtime/base/text.h"

namespace gust {
namespace {

bool isLower(char c) { return c >= 'a' && c <= 'z'; }
bool isUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string describeChar(char c) {
  auto byte = static_cast<unsigned char>(c);
  char buf[48];
  if (byte < 0x20 || byte == 0x7f) std::snprintf(buf, sizeof buf, "the control character 0x%02x", byte);
  else if (byte >= 0x80) std::snprintf(buf, sizeof buf, "the non-ASCII byte 0x%02x", byte);
  else if (c == '\'') std::snprintf(buf, sizeof buf, "\"'\"");
  else std::snprintf(buf, sizeof buf, "'%c'", c);
  return buf;
}

// The rule of one kind of name: what it is called, which characters it may hold, which
// may start it, how long it may be, and the sentence that tells the user what is allowed.
struct NameRule {
  const char* what;  // "app name"
  size_t max_length;
  bool (*allowed)(char c);
  bool (*allowed_first)(char c);
  const char* allowed_text;
};

bool appChar(char c) { return isLower(c) || isDigit(c) || c == '-' || c == '_'; }
bool appFirst(char c) { return isLower(c); }
bool identChar(char c) { return isLower(c) || isUpper(c) || isDigit(c) || c == '_'; }
bool identFirst(char c) { return isLower(c) || isUpper(c) || c == '_'; }

constexpr NameRule kAppRule{"app name", kMaxAppNameLength, appChar, appFirst,
                            "use 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter"};
bool queueChar(char c) { return isLower(c) || isUpper(c) || isDigit(c) || c == '-' || c == '_' || c == '.'; }
bool queueFirst(char c) { return isLower(c) || isUpper(c) || isDigit(c); }
constexpr NameRule kQueueRule{"queue name", kMaxQueueNameLength, queueChar, queueFirst,
                              "use 1 to 100 letters, digits, '.', '-' or '_', starting with a letter or digit"};
constexpr NameRule kTopicRule{"topic name", kMaxQueueNameLength, queueChar, queueFirst,
                              "use 1 to 100 letters, digits, '.', '-' or '_', starting with a letter or digit"};
constexpr NameRule kFunctionRule{"function name", kMaxFunctionNameLength, identChar, identFirst,
                                 "use a C identifier of 1 to 64 letters, digits and '_', not starting with a digit"};

bool keyChar(char c) { return isLower(c) || isUpper(c) || isDigit(c) || c == '-' || c == '_'; }
bool keyFirst(char c) { return isLower(c) || isUpper(c) || isDigit(c); }
constexpr NameRule kKeyRule{"key name", kMaxKeyNameLength, keyChar, keyFirst,
                            "use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit"};

Error invalid(const NameRule& rule, std::string_view name, const std::string& problem) {
  return makeError(ErrorKind::kBadInput, quote(name) + " is not a valid " + rule.what + ": " +
                                             problem + "; " + rule.allowed_text);
}

Result<void> check(const NameRule& rule, std::string_view name) {
  if (name.empty()) return makeError(ErrorKind::kBadInput, std::string("the ") + rule.what + " is empty; " + rule.allowed_text);
  if (name.size() > rule.max_length) {
    return invalid(rule, name, "it is " + std::to_string(name.size()) + " characters long, more than " +
                                   std::to_string(rule.max_length));
  }
  // The characters that would let a name escape its directory or hide in a terminal are
  // named first, so the message points at the real danger rather than a generic rule.
  for (size_t i = 0; i < name.size(); ++i) {
    auto byte = static_cast<unsigned char>(name[i]);
    if (byte < 0x20 || byte == 0x7f) return invalid(rule, name, describeChar(name[i]) + " at position " + std::to_string(i + 1) + " is not allowed");
  }
  if (name.find('/') != std::string_view::npos || name.find('\\') != std::string_view::npos) {
    return invalid(rule, name, "it contains a path separator");
  }
  if (name.find("..") != std::string_view::npos) return invalid(rule, name, "it contains \"..\"");
  if (name[0] == '.' || name[0] == '-') return invalid(rule, name, "it starts with " + describeChar(name[0]));
  for (size_t i = 0; i < name.size(); ++i) {
    if (!rule.allowed(name[i])) {
      return invalid(rule, name, describeChar(name[i]) + " at position " + std::to_string(i + 1) + " is not allowed");
    }
  }
  if (!rule.allowed_first(name[0])) return invalid(rule, name, "it starts with " + describeChar(name[0]));
  return {};
}

}  // namespace

Result<void> validateAppName(std::string_view name) { return check(kAppRule, name); }
Result<void> validateQueueName(std::string_view name) {
  if (auto valid = check(kQueueRule, name); !valid) return valid;
  if (name.ends_with(".dead")) {
    return makeError(ErrorKind::kBadInput, quote(name) +
                                               " names a dead-letter queue; Gust fills those itself, and "
                                               "`gust queue redrive` empties them");
  }
  return {};
}
Result<void> validateTopicName(std::string_view name) {
  if (auto valid = check(kTopicRule, name); !valid) return valid;
  if (name.ends_with(".dead")) {
    return makeError(ErrorKind::kBadInput, quote(name) + " ends in \".dead\", which names dead-letter queues; "
                                                         "pick another name");
  }
  return {};
}
Result<void> validateFunctionName(std::string_view name) { return check(kFunctionRule, name); }

std::string functionSubscriber(std::string_view app, std::string_view function) {
  return std::string(app) + kSubscriptionSeparator + std::string(function);
}

std::string subscriptionQueue(std::string_view topic, std::string_view subscriber) {
  return std::string(topic) + kSubscriptionSeparator + std::string(subscriber);
}

std::string_view topicOfQueue(std::string_view queue) {
  const size_t colon = queue.find(kSubscriptionSeparator);
  return colon == std::string_view::npos ? std::string_view() : queue.substr(0, colon);
}
Result<void> validateKeyName(std::string_view name) { return check(kKeyRule, name); }

std::optional<uint64_t> versionNumber(std::string_view name) {
  if (name.size() < 2 || name.size() > kMaxVersionNameLength || name[0] != 'v' || name[1] == '0') return std::nullopt;
  uint64_t n = 0;
  for (char c : name.substr(1)) {
    if (!isDigit(c)) return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - digit) / 10) return std::nullopt;
    n = n * 10 + digit;
  }
  return n;
}

std::string versionName(uint64_t number) { return "v" + std::to_string(number); }

Result<void> validateVersionName(std::string_view name) {
  if (versionNumber(name)) return {};
  std::string problem = name.empty() ? "the version is empty" : quote(name) + " is not a valid version";
  return makeError(ErrorKind::kBadInput,
                   problem + "; versions are named v1, v2, v3 ... in the order they were deployed (see the app's "
                             "version list)");
}

}  // namespace gust
