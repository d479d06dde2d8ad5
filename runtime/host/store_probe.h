#pragma once
// Whether the host's stores take writes, for /readyz (runtime/admin/admin_health.h): one real
// write to each, answered on the loop thread.
//
// gust.db: through the SqliteWriter, in its next transaction, the rows of schema_versions
// rewritten with their own values. SQLite counts that as a change and commits it (with
// synchronous=FULL, an fsync), so a full disk, a failing one, or a lock held elsewhere past
// the busy timeout fails the probe, while what it leaves is what was there.
//
// The backend Redis (--backend): SET of one key of its own that expires after a minute. It
// fails while Redis is unreachable, and when Redis answers but refuses writes: a replica
// (READONLY, as after a failover), a full memory under noeviction (OOM), a failed snapshot
// (MISCONF), too few replicas (NOREPLICAS).
//
// Each calls `done` once on the loop thread with whether the write was taken (at once with
// false when the writer or the client refuses to try). A failure is logged with its reason,
// which /readyz does not tell.

#include "runtime/base/unique_function.h"
#include "runtime/store/redis_client.h"
#include "runtime/store/sqlite_writer.h"

namespace gust {

void probeSqliteStore(SqliteWriter& writer, UniqueFunction<void(bool writable)> done);

void probeRedisStore(RedisClient& redis, UniqueFunction<void(bool writable)> done);

// A host's stores: gust.db, and the backend Redis when there is one (`redis` not null);
// writable only when each took its write.
void probeHostStores(SqliteWriter& writer, RedisClient* redis, UniqueFunction<void(bool writable)> done);

}  // namespace gust
