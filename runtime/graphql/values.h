#pragma once
// Input values (spec §6.1.2 CoerceVariableValues, §6.4.1 CoerceArgumentValues): variables
// from a client's JSON and literals from the document, turned into values of the types that
// ask for them, with graphql-js's error messages. Any thread.

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/error.h"
#include "runtime/graphql/schema.h"

namespace gust::graphql {

using Json = nlohmann::ordered_json;

struct CoercedVariables {
  Json values = Json::object();
  std::vector<GraphQLError> errors;  // then the operation does not run
};

CoercedVariables coerceVariableValues(const Schema& schema, const OperationDefinition& operation, const Json& inputs);

// A literal of the document as a value of `type`, variables substituted; nullopt when it does
// not fit (validation has said why) or names a variable without a value.
std::optional<Json> valueFromAst(const Schema& schema, const Value& value, const TypeRef& type, const Json& variables);

// A field's or directive's arguments with defaults applied, by name.
Json coerceArgumentValues(const Schema& schema, const std::vector<InputValue>& definitions,
                          const std::vector<Argument>& arguments, const Json& variables);

// A JSON value as graphql-js's inspect() prints it in messages: strings quoted, objects as
// "{ a: 1 }", nesting past two levels as [Object] / [Array].
std::string inspect(const Json& value);

// A number as JavaScript's String(n) writes it ("3", "1.5", "1e+21").
std::string jsNumber(double n);

}  // namespace gust::graphql
