#pragma once
// The one rule for every name a user gives Gust that ends up in a path, a symbol or a
// queue: apps, versions, functions and queues. The names become directory names under the
// data dir and exported symbol names, so the rules keep them free of '/', "..", control
// characters, leading dots or dashes, and bound their length. Each error says what was
// wrong with the name and what is allowed. Pure functions; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

constexpr size_t kMaxAppNameLength = 63;       // fits a DNS label, a file name, a metric label
constexpr size_t kMaxFunctionNameLength = 64;  // the module exports gust_fn_<name>
constexpr size_t kMaxQueueNameLength = 100;     // "<queue>.dead" names its dead-letter queue
constexpr size_t kMaxKeyNameLength = 63;       // shown in `gust keys ls` and in an invocation's caller
constexpr size_t kMaxVersionNameLength = 21;   // "v" and the 20 digits of the largest uint64

// App: 1 to 63 of [a-z0-9_-], starting with a lower-case letter.
Result<void> validateAppName(std::string_view name);

// Version: "v" followed by a decimal number from 1 without leading zeros ("v1", "v27"), as
// the app store assigns them.
Result<void> validateVersionName(std::string_view name);

// The number of a valid version name ("v27" -> 27); nullopt for anything else.
std::optional<uint64_t> versionNumber(std::string_view name);

// "v27" for 27.
std::string versionName(uint64_t number);

// Function: a C identifier of 1 to 64 characters ([A-Za-z_][A-Za-z0-9_]*), because the
// module exports it as the symbol gust_fn_<name>.
Result<void> validateFunctionName(std::string_view name);

// Queue: 1 to 100 of [A-Za-z0-9._-], starting with a letter or digit, without "..", and
// not ending in ".dead": "<queue>.dead" is the queue's dead-letter queue, which Gust fills.
Result<void> validateQueueName(std::string_view name);

// Topic: the rule of a queue name; topics and queues share one namespace.
Result<void> validateTopicName(std::string_view name);

// A topic subscription's queue is "<topic>:<subscriber>", where the subscriber is
// "<app>:<function>" for a function and a webhook's id (a key name: no ':') for a webhook.
// ':' is in no queue name a user gives, so the two never meet.
constexpr char kSubscriptionSeparator = ':';
std::string functionSubscriber(std::string_view app, std::string_view function);
std::string subscriptionQueue(std::string_view topic, std::string_view subscriber);
// The topic of a subscription queue (or of its dead-letter queue); empty for other queues.
std::string_view topicOfQueue(std::string_view queue);

// Function key name: 1 to 63 of [A-Za-z0-9_-], starting with a letter or digit.
Result<void> validateKeyName(std::string_view name);

}  // namespace gust
