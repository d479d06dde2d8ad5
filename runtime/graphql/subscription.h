#pragma once
// A subscription request made ready to serve (spec §6.2.3): parsed, validated, its operation
// chosen, its variables coerced and its one root field found; then each event shaped by the
// selection set into a response. Value type; any thread.

#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/error.h"
#include "runtime/graphql/parser.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/values.h"

namespace gust::graphql {

struct PreparedSubscription {
  std::shared_ptr<const Document> document;
  const OperationDefinition* operation = nullptr;  // inside *document
  Json variables = Json::object();
  const FieldDef* root_field = nullptr;  // the Subscription field asked for (inside the schema)
  Json arguments = Json::object();       // its arguments, coerced, defaults applied
};

// The errors to answer with when the request cannot be served: a syntax error, validation
// errors, an unknown operation, bad variables, or an operation that is not a subscription.
std::variant<PreparedSubscription, std::vector<GraphQLError>> prepareSubscription(
    const Schema& schema, std::string_view query, std::string_view operation_name, const Json& variables,
    const ParseLimits& limits = {});

// {"data": {...}, "errors"?: [...]}: one event, as the value of the root field, shaped by the
// subscription's selection set.
Json shapeEvent(const Schema& schema, const PreparedSubscription& subscription, const Json& event);

}  // namespace gust::graphql
