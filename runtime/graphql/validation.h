#pragma once
// Checks an executable document against a schema (spec §5): the rules a subscription
// endpoint needs, with graphql-js's messages and locations, so that a client reads the same
// errors from us as from its own tools. Any thread; the schema is only read.
//
// Introspection fields other than __typename are unknown fields here: they are not served.

#include <vector>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/error.h"
#include "runtime/graphql/schema.h"

namespace gust::graphql {

// Every error found, in the order of their first location, at most `max_errors` (then
// graphql-js's "Too many validation errors").
std::vector<GraphQLError> validate(const Schema& schema, const Document& document, size_t max_errors = 100);

// The fragments of a document by name (the first of each name).
const FragmentDefinition* findFragment(const Document& document, std::string_view name);

}  // namespace gust::graphql
