#include "runtime/graphql/collect_fields.h"

#include <algorithm>
#include <optional>

#include "runtime/graphql/validation.h"

namespace gust::graphql {
namespace {

// The value of a Boolean "if:" argument, if it is known.
std::optional<bool> ifArgument(const Directive& directive, const nlohmann::ordered_json& variables) {
  for (const auto& a : directive.arguments) {
    if (a.name.value != "if") continue;
    if (a.value.kind == Value::Kind::kBoolean) return a.value.boolean;
    if (a.value.kind == Value::Kind::kVariable && variables.is_object()) {
      auto it = variables.find(a.value.text);
      if (it != variables.end() && it->is_boolean()) return it->get<bool>();
    }
  }
  return std::nullopt;
}

bool conditionMatches(const Schema& schema, const std::optional<Name>& condition, const NamedType& object_type) {
  if (!condition) return true;
  const auto* type = schema.type(condition->value);
  if (!type) return false;
  if (type->name == object_type.name) return true;
  return type->isAbstract() && schema.isPossibleType(*type, object_type);
}

}  // namespace

bool shouldInclude(const std::vector<Directive>& directives, const nlohmann::ordered_json& variables) {
  for (const auto& d : directives) {
    if (d.name.value == "skip" && ifArgument(d, variables) == true) return false;
    if (d.name.value == "include" && ifArgument(d, variables) == false) return false;
  }
  return true;
}

void collectFields(const Schema& schema, const Document& document, const NamedType& object_type,
                   const SelectionSet& selection_set, const nlohmann::ordered_json& variables,
                   std::vector<FieldGroup>& groups, std::set<std::string>& visited_fragments) {
  for (const auto& selection : selection_set.selections) {
    if (!shouldInclude(selection.directives, variables)) continue;
    switch (selection.kind) {
      case Selection::Kind::kField: {
        const auto& key = selection.responseName();
        auto it = std::find_if(groups.begin(), groups.end(), [&](const FieldGroup& g) { return g.response_key == key; });
        if (it == groups.end()) {
          groups.push_back(FieldGroup{key, {&selection}});
        } else {
          it->fields.push_back(&selection);
        }
        break;
      }
      case Selection::Kind::kInlineFragment:
        if (!conditionMatches(schema, selection.type_condition, object_type)) break;
        collectFields(schema, document, object_type, selection.selection_set, variables, groups, visited_fragments);
        break;
      case Selection::Kind::kFragmentSpread: {
        if (!visited_fragments.insert(selection.name.value).second) break;
        const auto* fragment = findFragment(document, selection.name.value);
        if (!fragment || !conditionMatches(schema, std::optional<Name>(fragment->type_condition), object_type)) break;
        collectFields(schema, document, object_type, fragment->selection_set, variables, groups, visited_fragments);
        break;
      }
    }
  }
}

}  // namespace gust::graphql
