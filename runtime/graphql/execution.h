#pragma once
// Executes an operation's selection set over a JSON value (spec §6): the shape a client
// asked for, cut out of an event. Each field reads the member of its name from its parent
// value; an abstract type's runtime type is the value's "__typename". Leaves are coerced
// (§3.5 result coercion), nulls in non-null places null the parent and add an error with its
// path (§6.4.4). Errors and their wording follow graphql-js. Any thread.

#include <string>
#include <string_view>
#include <vector>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/error.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/values.h"

namespace gust::graphql {

struct ExecutionResult {
  Json data;  // null when an error reached the root
  std::vector<GraphQLError> errors;
};

// {"errors"?: [...], "data": ...}
Json toJson(const ExecutionResult& result);

// The operation to run: the one named, or the only one. Null with `error` set otherwise.
const OperationDefinition* selectOperation(const Document& document, std::string_view name, std::string* error);

// Runs the operation's selection set with `root` as the root value and `variables` already
// coerced (coerceVariableValues).
ExecutionResult execute(const Schema& schema, const Document& document, const OperationDefinition& operation,
                        const Json& variables, const Json& root);

}  // namespace gust::graphql
