#include "runtime/graphql/error.h"

namespace gust::graphql {

nlohmann::ordered_json toJson(const GraphQLError& error) {
  nlohmann::ordered_json out;
  out["message"] = error.message;
  if (!error.locations.empty()) {
    auto& locations = out["locations"] = nlohmann::ordered_json::array();
    for (const auto& l : error.locations) locations.push_back({{"line", l.line}, {"column", l.column}});
  }
  if (!error.path.is_null()) out["path"] = error.path;
  return out;
}

nlohmann::ordered_json toJson(const std::vector<GraphQLError>& errors) {
  auto out = nlohmann::ordered_json::array();
  for (const auto& e : errors) out.push_back(toJson(e));
  return out;
}

}  // namespace gust::graphql
