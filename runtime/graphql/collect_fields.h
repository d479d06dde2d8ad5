#pragma once
// The spec's CollectFields() (§6.3.2): the fields a selection set asks of one object type,
// grouped by response key in document order, through fragments whose type condition
// applies and past @skip/@include. Execution and the single-root-field rule share it.
// Any thread.

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/schema.h"

namespace gust::graphql {

struct FieldGroup {
  std::string response_key;
  std::vector<const Selection*> fields;  // every field node under that key
};

// `variables` holds coerced variable values; a variable it lacks neither skips nor includes.
void collectFields(const Schema& schema, const Document& document, const NamedType& object_type,
                   const SelectionSet& selection_set, const nlohmann::ordered_json& variables,
                   std::vector<FieldGroup>& groups, std::set<std::string>& visited_fragments);

bool shouldInclude(const std::vector<Directive>& directives, const nlohmann::ordered_json& variables);

}  // namespace gust::graphql
