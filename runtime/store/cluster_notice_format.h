#pragma once
// The two notices the cluster's queue script publishes (runtime/store/redis_queue_script.cc)
// and ClusterNotices hears (cluster_notices.h), read from bytes any client of that Redis
// could have published: a bad one reads as nothing, never as something else.
//   P events: "<seq> <topic>"       one retained event of a topic
//   P ready:  "<name>\n<name>..."   the queues and topics a send or settle put messages in

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gust {

struct EventNotice {
  std::string topic;
  uint64_t seq = 0;
};

// nullopt unless it is a seq of 1 or more, one space, and a non-empty topic.
std::optional<EventNotice> parseEventNotice(std::string_view message);
// The non-empty names, in order.
std::vector<std::string> parseReadyNotice(std::string_view message);

}  // namespace gust
