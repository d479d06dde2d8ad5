// The GraphQL library's own bounds and refusals, which graphql-js has no counterpart for
// (tests/integration/graphql_reference_test.cc compares everything else with graphql-js).
#include <doctest/doctest.h>

#include <string>

#include "runtime/graphql/execution.h"
#include "runtime/graphql/parser.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/validation.h"

namespace gust::graphql {
namespace {

constexpr const char* kSdl = R"(
type Query { a: Int }
type Node { id: ID! next: Node }
type Subscription { node: Node }
)";

TEST_CASE("GraphQL: a document past the size limit is refused before it is read") {
  std::string big = "{ a }" + std::string(100, ' ');
  auto parsed = parse(big, ParseLimits{64, 100, 10, 10});
  REQUIRE(parsed.error);
  CHECK(parsed.error->message == "Document is 105 bytes, over the limit of 64; send a smaller document.");
}

TEST_CASE("GraphQL: a document of too many tokens is refused with graphql-js's message") {
  auto parsed = parse("{ a a a a a a }", ParseLimits{1024, 5, 10, 10});
  REQUIRE(parsed.error);
  CHECK(parsed.error->message == "Syntax Error: Document contains more than 5 tokens. Parsing aborted.");
  CHECK(parsed.error->locations.at(0).column == 11);
  CHECK_FALSE(parse("{ a a a }", ParseLimits{1024, 5, 10, 10}).error);
}

TEST_CASE("GraphQL: nesting past the depth limit is refused, in selections, values and types") {
  ParseLimits limits{1 << 16, 10'000, 3, 10};
  CHECK_FALSE(parse("{ a { b { c } } }", limits).error);
  auto deep = parse("{ a { b { c { d } } } }", limits);
  REQUIRE(deep.error);
  CHECK(deep.error->message == "Syntax Error: Document nests deeper than 3 levels. Parsing aborted.");
  CHECK(parse("{ a(x: [[[[1]]]]) }", limits).error);
  CHECK(parse("query ($x: [[[[Int]]]]) { a }", limits).error);
  // Thousands of brackets end in an error, not a stack overflow.
  CHECK(parse(std::string(5000, '[')).error);
}

TEST_CASE("GraphQL: aliases past their limit are refused") {
  auto parsed = parse("{ a1: a a2: a a3: a }", ParseLimits{1024, 100, 10, 2});
  REQUIRE(parsed.error);
  CHECK(parsed.error->message == "Syntax Error: Document uses more than 2 aliases. Parsing aborted.");
}

TEST_CASE("GraphQL: bytes that are not UTF-8 are refused") {
  auto parsed = parse("{ a(x: \"\xff\") }");
  REQUIRE(parsed.error);
  CHECK(parsed.error->message == "Syntax Error: The document is not valid UTF-8.");
}

TEST_CASE("GraphQL: a schema that refers to an unknown type names it") {
  auto schema = Schema::fromSdl("type Query { a: Missing }");
  REQUIRE_FALSE(schema.ok());
  CHECK(schema.error().message == "GraphQL schema: field \"Query.a\" refers to unknown type \"Missing\".");
  auto input = Schema::fromSdl("type Query { a: Int } input I { q: Query }");
  REQUIRE_FALSE(input.ok());
  CHECK(input.error().message.find("input field \"I.q\" must be an input type") != std::string::npos);
  auto syntax = Schema::fromSdl("type Query { a: }");
  REQUIRE_FALSE(syntax.ok());
  CHECK(syntax.error().message == "GraphQL schema: Syntax Error: Expected Name, found \"}\". (line 1, column 17)");
}

TEST_CASE("GraphQL: execution shapes a recursive value and reports a null in a non-null place with its path") {
  auto schema = Schema::fromSdl(kSdl);
  REQUIRE(schema.ok());
  auto parsed = parse("subscription { node { id next { id next { id } } } }");
  REQUIRE_FALSE(parsed.error);
  CHECK(validate(*schema, parsed.document).empty());
  std::string error;
  const auto* op = selectOperation(parsed.document, "", &error);
  REQUIRE(op);
  auto root = Json::parse(R"({"node": {"id": "a", "next": {"id": "b", "next": {"other": 1}}}})");
  auto result = execute(*schema, parsed.document, *op, Json::object(), root);
  CHECK(toJson(result).dump() ==
        R"({"errors":[{"message":"Cannot return null for non-nullable field Node.id.","locations":[{"line":1,"column":43}],)"
        R"("path":["node","next","next","id"]}],"data":{"node":{"id":"a","next":{"id":"b","next":null}}}})");
}

TEST_CASE("GraphQL: validation errors come in the order of their place in the document") {
  auto schema = Schema::fromSdl(kSdl);
  REQUIRE(schema.ok());
  // The unused variable is found last (when the operation ends), the unknown fields first;
  // the answer lists the variable first because it comes first in the text.
  auto parsed = parse("subscription ($unused: Int) { node { nope id other } }");
  REQUIRE_FALSE(parsed.error);
  auto errors = validate(*schema, parsed.document);
  REQUIRE(errors.size() == 3);
  CHECK(errors[0].message == "Variable \"$unused\" is never used.");
  CHECK(errors[1].message == "Cannot query field \"nope\" on type \"Node\".");
  CHECK(errors[2].message == "Cannot query field \"other\" on type \"Node\".");
}

}  // namespace
}  // namespace gust::graphql
