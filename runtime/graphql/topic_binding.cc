#include "runtime/graphql/topic_binding.h"

#include "runtime/base/names.h"

namespace gust::graphql {
namespace {

Error badBinding(const std::string& field, std::string message) {
  return makeError(ErrorKind::kBadInput, "GraphQL schema: Subscription." + field + ": " + std::move(message));
}

bool isAttribute(const std::string& a) {
  return a == "id" || a == "type" || a == "subject" || a == "source" || (a.rfind("data.", 0) == 0 && a.size() > 5);
}

// The attribute's value as text, if the event has it.
std::optional<std::string> attributeOf(const TopicEventView& event, const std::string& attribute) {
  if (attribute == "id") return event.id;
  if (attribute == "type") return event.type;
  if (attribute == "subject") return event.subject;
  if (attribute == "source") return event.source;
  if (!event.data.is_object()) return std::nullopt;
  auto it = event.data.find(attribute.substr(5));
  if (it == event.data.end() || it->is_null()) return std::nullopt;
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string asText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

Result<std::map<std::string, TopicBinding>> topicBindings(const Schema& schema) {
  std::map<std::string, TopicBinding> out;
  const auto* root = schema.root(OperationType::kSubscription);
  if (!root) return makeError(ErrorKind::kBadInput, "GraphQL schema: it has no Subscription type, so it has nothing to serve.");
  for (const auto& field : root->fields) {
    const Directive* topic = nullptr;
    for (const auto& d : field.directives)
      if (d.name.value == "topic") topic = &d;
    if (!topic) return badBinding(field.name, "no @topic(name: \"...\") says which topic's events it delivers.");
    TopicBinding binding{field.name, {}, {}};
    for (const auto& a : topic->arguments) {
      if (a.name.value == "name" && a.value.kind == Value::Kind::kString) {
        binding.topic = a.value.text;
      } else if (a.name.value == "filter" && a.value.kind == Value::Kind::kObject) {
        for (const auto& f : a.value.fields) {
          if (!isAttribute(f.name.value)) {
            return badBinding(field.name, "@topic filter on \"" + f.name.value +
                                              "\": filter on id, type, subject, source or data.<member>.");
          }
          if (f.value.kind != Value::Kind::kString || !field.argument(f.value.text)) {
            return badBinding(field.name, "@topic filter \"" + f.name.value + "\" must name one of the field's arguments.");
          }
          binding.filters.emplace_back(f.name.value, f.value.text);
        }
      } else {
        return badBinding(field.name, "@topic takes name: \"<topic>\" and filter: {<attribute>: \"<argument>\"}.");
      }
    }
    if (auto valid = validateTopicName(binding.topic); !valid) return badBinding(field.name, valid.error().message);
    out.emplace(field.name, std::move(binding));
  }
  return out;
}

bool eventMatches(const TopicBinding& binding, const Json& arguments, const TopicEventView& event) {
  for (const auto& [attribute, argument] : binding.filters) {
    auto it = arguments.find(argument);
    if (it == arguments.end() || it->is_null()) continue;
    auto value = attributeOf(event, attribute);
    if (!value) return false;
    if (it->is_array()) {
      bool any = false;
      for (const auto& item : *it) any = any || asText(item) == *value;
      if (!any) return false;
    } else if (asText(*it) != *value) {
      return false;
    }
  }
  return true;
}

}  // namespace gust::graphql
