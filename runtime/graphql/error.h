#pragma once
// A GraphQL error as a response carries it (spec §7.1.2): a message, the places in the
// document it is about, and for execution errors the path of the response field.
// Value type; any thread.

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "runtime/graphql/ast.h"

namespace gust::graphql {

struct GraphQLError {
  std::string message;
  std::vector<SourceLocation> locations;
  nlohmann::ordered_json path;  // null, or response keys and list indices from the root
};

// {"message", "locations"?, "path"?}: the members a response (or a transport-ws "error"
// message) carries, in the spec's order, without the empty ones.
nlohmann::ordered_json toJson(const GraphQLError& error);
nlohmann::ordered_json toJson(const std::vector<GraphQLError>& errors);

}  // namespace gust::graphql
