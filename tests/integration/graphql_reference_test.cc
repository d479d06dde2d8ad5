// Our GraphQL library against graphql-js 16.11.0 (npm, tests/js), case by case: the same
// syntax errors, the same validation errors and the same execution results, messages and
// locations included. tests/js/graphql_reference.mjs prints graphql-js's answers for the
// written cases of tests/fixtures/graphql and for the ones it derives from them (cut short,
// a token dropped, a character changed); this test replays each document here.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

#include "runtime/graphql/execution.h"
#include "runtime/graphql/parser.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/validation.h"
#include "runtime/graphql/values.h"
#include "tests/integration/harness.h"

namespace gust::test {
namespace {

using graphql::Json;

// Errors compare as a multiset: graphql-js reports them in the order of one combined walk of
// the document, which the order of a rule's errors need not follow.
Json sorted(Json errors) {
  std::vector<std::string> dumped;
  for (const auto& e : errors) dumped.push_back(e.dump());
  std::sort(dumped.begin(), dumped.end());
  Json out = Json::array();
  for (const auto& d : dumped) out.push_back(Json::parse(d));
  return out;
}

Json ourAnswer(const graphql::Schema& schema, const Json& reference) {
  Json out;
  auto document = reference["document"].get<std::string>();
  auto parsed = graphql::parse(document);
  if (parsed.error) {
    out["syntax"] = graphql::toJson(*parsed.error);
    return out;
  }
  auto errors = graphql::validate(schema, parsed.document);
  out["validation"] = sorted(graphql::toJson(errors));
  if (!errors.empty() || !reference.contains("root")) return out;
  std::string operation_error;
  const auto* operation = graphql::selectOperation(parsed.document, reference.value("op", ""), &operation_error);
  if (!operation) {
    out["execution"] = {{"errors", Json::array({{{"message", operation_error}}})}};
    return out;
  }
  auto variables = graphql::coerceVariableValues(schema, *operation, reference.value("vars", Json::object()));
  if (!variables.errors.empty()) {
    out["execution"] = {{"errors", sorted(graphql::toJson(variables.errors))}};
    return out;
  }
  auto result = graphql::execute(schema, parsed.document, *operation, variables.values, reference["root"]);
  out["execution"] = graphql::toJson(result);
  if (out["execution"].contains("errors")) out["execution"]["errors"] = sorted(out["execution"]["errors"]);
  return out;
}

Json referenceAnswer(const Json& reference) {
  Json out;
  for (const char* key : {"syntax", "validation", "execution"}) {
    if (reference.contains(key)) out[key] = reference[key];
  }
  if (out.contains("validation")) out["validation"] = sorted(out["validation"]);
  if (out.contains("execution") && out["execution"].contains("errors")) {
    out["execution"]["errors"] = sorted(out["execution"]["errors"]);
  }
  return out;
}

TEST_CASE("GraphQL: each reference case gets graphql-js's syntax error, validation errors and result") {
  fs::path fixtures = fs::path(env("GUST_SOURCE_ROOT")) / "tests" / "fixtures" / "graphql";
  TempDir dir;
  auto run = Process({"/usr/bin/env", "node", (fs::path(env("GUST_SOURCE_ROOT")) / "tests" / "js" / "graphql_reference.mjs").string(),
                      fixtures.string()},
                     dir.path() / "node.stderr")
                 .finish(std::chrono::seconds(120));
  REQUIRE_MESSAGE(run.status == 0, readFile(dir.path() / "node.stderr"));
  auto schema = graphql::Schema::fromSdl(readFile(fixtures / "schema.graphql"));
  REQUIRE_MESSAGE(schema.ok(), schema.error().message);

  std::istringstream lines(run.out);
  std::string line;
  size_t cases = 0, compared = 0, mismatches = 0;
  std::string report;
  while (std::getline(lines, line)) {
    ++cases;
    auto reference = Json::parse(line);
    if (reference.contains("crash")) continue;  // graphql-js threw; nothing to compare with
    ++compared;
    auto theirs = referenceAnswer(reference);
    auto ours = ourAnswer(*schema, reference);
    if (ours == theirs) continue;
    if (++mismatches <= 25) {
      report += "\ndocument: " + reference["document"].dump() + "\n graphql-js: " + theirs.dump() + "\n ours:       " + ours.dump() + "\n";
    }
  }
  INFO(report);
  CHECK(mismatches == 0);
  MESSAGE(compared << " of " << cases << " cases compared, " << mismatches << " differ");
  CHECK(compared > 1000);  // the written cases and the derived ones all came through
}

}  // namespace
}  // namespace gust::test
