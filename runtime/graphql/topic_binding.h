#pragma once
// How a schema's Subscription fields map to topics: each field carries
//   @topic(name: "order.progress", filter: {subject: "id"})
// naming the topic whose events it delivers and, optionally, which event attribute each of
// its arguments must equal. An attribute is one of the event's "id", "type", "subject",
// "source", or "data.<member>" (a top-level member of the event's JSON data). An argument
// that is absent or null filters nothing; a list argument matches any of its items.
// Value types; any thread.

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/values.h"

namespace gust::graphql {

struct TopicBinding {
  std::string field;  // the Subscription field
  std::string topic;
  std::vector<std::pair<std::string, std::string>> filters;  // event attribute, argument name
};

// What a topic event offers the filters and the selection set.
struct TopicEventView {
  std::string id, type, subject, source, time;
  Json data;  // the event's data as JSON (a string when it is not JSON)
};

// The binding of every Subscription field; an error names a field without @topic, a topic
// name that is not valid, or a filter on an unknown argument or attribute.
Result<std::map<std::string, TopicBinding>> topicBindings(const Schema& schema);

// Does the event pass the field's filters for these (coerced) arguments?
bool eventMatches(const TopicBinding& binding, const Json& arguments, const TopicEventView& event);

// The value of the root field for one event: its JSON data, which the selection set shapes.
inline const Json& rootValueOf(const TopicEventView& event) { return event.data; }

}  // namespace gust::graphql
