#pragma once
// Prints values and type references back as GraphQL source, the way graphql-js's print()
// does: error messages quote what the user wrote in this form. Any thread.

#include <string>

#include "runtime/graphql/ast.h"

namespace gust::graphql {

std::string print(const Value& value);
std::string print(const TypeRef& type);
// The string as a GraphQL string literal, with JSON-style escapes.
std::string printString(const std::string& value);

}  // namespace gust::graphql
