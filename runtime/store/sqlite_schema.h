#pragma once
// Schema versioning for gust.db. Several components (queues, invocation records, later
// timer state) share the file, so each has its own version in a `schema_versions` table
// and its own ordered list of migrations; PRAGMA user_version holds the version of that
// bookkeeping itself. A database written by a newer gust (a version above what this build
// knows, for the file or for a component) is refused with a message naming both versions,
// rather than being read or, worse, written with the wrong shape.

#include <span>
#include <string_view>

#include "runtime/base/result.h"
#include "runtime/store/sqlite_connection.h"

namespace gust {

// The layout of schema_versions itself; PRAGMA user_version of a gust.db.
constexpr int kGustDbFormatVersion = 1;

struct Migration {
  int version;      // 1, 2, 3 ... in order, no gaps
  const char* sql;  // brings the component from version-1 to version
};

// Brings `component` up to the last of `migrations`, applying the missing ones in order.
// Runs inside the caller's transaction (a SqliteWriter job), so a failed migration leaves
// nothing half-applied.
Result<void> migrateSchema(SqliteConnection& db, std::string_view component, std::span<const Migration> migrations);

}  // namespace gust
