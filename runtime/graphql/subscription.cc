#include "runtime/graphql/subscription.h"

#include <set>
#include <utility>

#include "runtime/graphql/collect_fields.h"
#include "runtime/graphql/execution.h"
#include "runtime/graphql/validation.h"

namespace gust::graphql {

std::variant<PreparedSubscription, std::vector<GraphQLError>> prepareSubscription(
    const Schema& schema, std::string_view query, std::string_view operation_name, const Json& variables,
    const ParseLimits& limits) {
  auto parsed = parse(query, limits);
  if (parsed.error) return std::vector<GraphQLError>{*parsed.error};
  auto document = std::make_shared<const Document>(std::move(parsed.document));
  auto errors = validate(schema, *document);
  if (!errors.empty()) return errors;
  std::string problem;
  const auto* operation = selectOperation(*document, operation_name, &problem);
  if (!operation) return std::vector<GraphQLError>{GraphQLError{problem, {}, nullptr}};
  if (operation->operation != OperationType::kSubscription) {
    return std::vector<GraphQLError>{GraphQLError{
        "Only subscriptions are served here; send queries and mutations to an HTTP function.", {operation->loc}, nullptr}};
  }
  const auto* root = schema.root(OperationType::kSubscription);
  if (!root) {
    return std::vector<GraphQLError>{GraphQLError{"Schema is not configured to execute subscription operation.", {operation->loc}, nullptr}};
  }
  auto coerced = coerceVariableValues(schema, *operation, variables);
  if (!coerced.errors.empty()) return coerced.errors;
  std::vector<FieldGroup> groups;
  std::set<std::string> visited;
  collectFields(schema, *document, *root, operation->selection_set, coerced.values, groups, visited);
  if (groups.empty()) {
    return std::vector<GraphQLError>{GraphQLError{"The subscription selects no field (all of them are skipped).", {operation->loc}, nullptr}};
  }
  const Selection& field = *groups[0].fields[0];
  PreparedSubscription out;
  out.root_field = root->field(field.name.value);
  out.arguments = coerceArgumentValues(schema, out.root_field->arguments, field.arguments, coerced.values);
  out.document = std::move(document);
  out.operation = operation;
  out.variables = std::move(coerced.values);
  return out;
}

Json shapeEvent(const Schema& schema, const PreparedSubscription& subscription, const Json& event) {
  Json root = Json::object();
  root[subscription.root_field->name] = event;
  auto result = execute(schema, *subscription.document, *subscription.operation, subscription.variables, root);
  return toJson(result);
}

}  // namespace gust::graphql
