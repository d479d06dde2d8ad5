#pragma once
// Whether gust.db takes writes, for /readyz (runtime/admin/admin_health.h): one real write
// through the SqliteWriter, in its next transaction. It rewrites the rows of schema_versions
// with their own values: SQLite counts that as a change and commits it (with
// synchronous=FULL, an fsync), so a full disk, a failing one, or a lock held elsewhere
// past the busy timeout fails the probe, while what it leaves is what was there.

#include "runtime/base/unique_function.h"
#include "runtime/store/sqlite_writer.h"

namespace gust {

// Posts the write; `done` runs once on the loop thread with whether it committed (at once
// with false when the writer refuses the job, say while it closes). A failure is logged
// with its reason, which /readyz does not tell.
void probeSqliteStore(SqliteWriter& writer, UniqueFunction<void(bool writable)> done);

// The same write, waited for: for startup, before the loop runs.
bool sqliteStoreTakesWrites(SqliteWriter& writer);

}  // namespace gust
