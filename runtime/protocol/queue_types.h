#pragma once
// The values a queue invocation carries between a queue trigger, the worker and back: the
// messages of a batch, what the function decided for each, and what it published. Plain
// structs; the frames (runtime/protocol/frame.h) carry them and an Outcome hands them to the trigger.
//
// The limits here are checked twice: by the worker, so that a function gets an error code
// at the call that crossed one, and by the host, which trusts no worker.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/base/names.h"

namespace gust {

using Pairs = std::vector<std::pair<std::string, std::string>>;

// Messages in one batch, settlements in one RESULT.
constexpr size_t kMaxBatch = 1000;
// What one invocation may publish: bounded so that a RESULT stays far below the frame limit
// and one invocation cannot flood a queue.
constexpr size_t kMaxPublishes = 1000;
constexpr size_t kMaxPublishBytes = 8u << 20;  // bodies, headers, ids and queue names together
constexpr size_t kMaxMessageHeaders = 64;
constexpr size_t kMaxMessageIdBytes = 128;  // printable ASCII
constexpr size_t kMaxQueueNameBytes = 100;
constexpr size_t kMaxSettleReasonBytes = 4096;  // longer dead-letter reasons are cut
// A retry or a publish may be delayed by at most this long.
constexpr std::chrono::milliseconds kMaxMessageDelay = std::chrono::hours(24 * 7);

// One message of a batch, as the queue trigger leased it.
struct QueueMessage {
  std::string id;
  std::string queue;
  std::string body;
  Pairs headers;
  uint32_t attempt = 1;        // 1 on the first delivery
  int64_t enqueued_at_ms = 0;  // Unix time in milliseconds
};

// Values match gust_settle_action of the SDK's ABI.
enum class SettleAction : uint32_t { kAck = 1, kRetry = 2, kDeadLetter = 3 };

// What the function decided for one message of its batch.
struct Settlement {
  uint32_t index = 0;  // into the batch
  SettleAction action = SettleAction::kAck;
  std::chrono::milliseconds delay{0};  // for kRetry: wait at least this long before redelivery
  std::string reason;                  // for kDeadLetter
};

// A message the function published; committed by the host together with the outcome of the
// invocation, so that a failed or retried invocation publishes nothing.
struct Publish {
  std::string queue;
  std::string id;  // for deduplication; empty: the host assigns one
  std::string body;
  Pairs headers;
  std::chrono::milliseconds delay{0};
  // Set by the host, never read from a worker: who published it (an event's ce-source).
  std::string source;
};

// Queue names: 1..100 of [A-Za-z0-9._-], not ending in ".dead" (those are the dead-letter
// queues the host keeps for each queue; nothing publishes there directly).
// The rule of runtime/base/names.h: checked in the worker (so a function hears at once) and
// again by the host when it decodes the worker's answer.
inline bool validQueueName(std::string_view name) { return validateQueueName(name).ok(); }

inline const char* settleActionName(SettleAction action) {
  switch (action) {
    case SettleAction::kAck: return "ack";
    case SettleAction::kRetry: return "retry";
    case SettleAction::kDeadLetter: return "dead_letter";
  }
  return "unknown";
}

}  // namespace gust
