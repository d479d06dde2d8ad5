#pragma once
// The spec's FieldsInSetCanMerge (§5.3.2, graphql-js's OverlappingFieldsCanBeMerged): two
// fields under one response name must be the same field with the same arguments, unless
// their parents are different object types, and must never return conflicting shapes.
// Compares fields through fragments with graphql-js's algorithm and memoisation, so that it
// reports the same conflicts, in its words. Any thread.

#include <vector>

#include "runtime/graphql/ast.h"
#include "runtime/graphql/error.h"
#include "runtime/graphql/schema.h"

namespace gust::graphql {

void findFieldMergeConflicts(const Schema& schema, const Document& document, std::vector<GraphQLError>& errors);

}  // namespace gust::graphql
