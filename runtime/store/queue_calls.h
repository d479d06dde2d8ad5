#pragma once
// What every queue backend (queue_backend.h) checks of a call before it takes it, and the
// event it makes of a message published to a topic: one owner for these rules, so that the
// embedded and the Redis backends refuse and fan out alike. Each check fails with kBadInput,
// naming the call and what is wrong; message checks fill in generated ids.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/ids.h"
#include "runtime/store/queue_backend.h"

namespace gust {

Result<void> checkSendCall(const QueueLimits& limits, const std::string& queue,
                           std::vector<OutgoingMessage>& messages, IdGenerator& ids);
Result<void> checkLeaseCall(const QueueLimits& limits, const std::string& queue, const LeaseOptions& options);
// Also cuts errors longer than max_error_bytes (kept, not refused).
Result<void> checkSettleCall(const QueueLimits& limits, std::vector<MessageSettlement>& settlements,
                             std::vector<MessagePublish>& publishes, const AppStateWrites& state, IdGenerator& ids);
Result<void> checkPeekCall(const QueueLimits& limits, const std::string& queue, size_t max_count);
Result<void> checkRedriveCall(const std::string& dead_queue);
// A call that names one stored queue (purge, nextVisibleAt).
Result<void> checkQueueCall(std::string_view what, const std::string& queue);
Result<void> checkBindTopicsCall(const std::string& owner, const TopicBindings& bindings);
Result<void> checkRetainedEventsCall(const QueueLimits& limits, const std::string& topic, size_t limit);

// The bounds of `queue` in a table set with setBounds: a dead-letter queue has its source's.
const QueueBounds& boundsOfQueue(const QueueBounds& defaults, const std::map<std::string, QueueBounds>& by_queue,
                                 const std::string& queue);
// The answer about a name that is not a topic.
Error noSuchTopicError(const std::string& topic);
// The refusal of a message that would take `queue` past its max_bytes.
Error queueFullError(const std::string& queue, uint64_t held, uint64_t adds, const std::string& id,
                     const QueueBounds& bounds);

// The event a message becomes when it is published to `topic` at `now_ms`: the publisher's
// headers, its ce-type (the topic when it set none), and the attributes only the backend
// sets (ce-id, ce-source, ce-time, ce-specversion), whatever the publisher sent.
OutgoingMessage topicEventOf(const std::string& topic, const OutgoingMessage& message, int64_t now_ms);
// One event of a retained log, its attributes read from its headers.
TopicEvent retainedEventOf(std::string topic, uint64_t seq, std::string body, Pairs headers);

}  // namespace gust
