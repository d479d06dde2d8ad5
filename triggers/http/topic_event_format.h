#pragma once
// How a topic's retained event (runtime/store/topic_event_hub.h) is written to a stream
// client: as a Server-Sent Event (the WHATWG HTML "Server-sent events" wire format), or as
// one WebSocket text message of JSON. Plus the query a client filters with. Pure functions;
// any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/store/queue_backend.h"

namespace gust {

// `id: <seq>`, `event: <type>`, one `data:` line per line of the body (a body's CR LF, LF
// and CR all end a line, as the client reads them), then the blank line that dispatches it.
std::string sseEvent(const TopicEvent& event);
// The reconnection delay a client should wait before resuming.
std::string sseRetry(uint64_t ms);
// A comment line: a client ignores it, and a proxy sees traffic on an idle stream.
std::string sseHeartbeat();

// {"id", "seq", "type", "subject", "time", "data"}: data as JSON when the body is JSON,
// else as a string (a body that is not UTF-8 has its bad bytes replaced).
std::string webSocketEventJson(const TopicEvent& event);

// A resume point as a client sends it (Last-Event-ID, ?last_event_id=, ?after=): a seq in
// decimal; nullopt when empty or not one (the client then starts from now).
std::optional<uint64_t> parseEventSeq(std::string_view text);

// Attribute = value pairs a client asked for, each to hold exactly.
struct StreamFilter {
  std::vector<std::pair<std::string, std::string>> equals;  // "subject", "type" or "source"
  bool matches(const TopicEvent& event) const;
};

}  // namespace gust
