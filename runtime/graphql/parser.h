#pragma once
// Parses a GraphQL document (spec §2 and §3): operations and fragments, and the type system
// definitions of an SDL schema, into the syntax tree of ast.h. Syntax errors carry
// graphql-js's wording ("Syntax Error: Expected Name, found <EOF>.") and the place they were
// found. Bounds keep a hostile document from costing more than a fair one. Any thread.

#include <cstddef>
#include <optional>
#include <string_view>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/error.h"

namespace gust::graphql {

struct ParseLimits {
  size_t max_bytes = 64 * 1024;
  size_t max_tokens = 10'000;  // graphql-js's maxTokens, with its message
  size_t max_depth = 64;       // nested selection sets, lists, objects and list types
  size_t max_aliases = 256;
};

struct ParseResult {
  Document document;
  std::optional<GraphQLError> error;  // the first syntax error; the document is then empty
};

ParseResult parse(std::string_view source, const ParseLimits& limits = {});

}  // namespace gust::graphql
