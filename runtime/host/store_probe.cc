#include "runtime/host/store_probe.h"

#include <spdlog/spdlog.h>

#include <memory>

namespace gust {
namespace {

Result<void> rewriteSchemaVersions(SqliteConnection& db) {
  auto rewrite = db.prepare("UPDATE schema_versions SET version = version");
  if (!rewrite) return rewrite.error();
  if (auto ran = rewrite->run(); !ran) return ran;
  // Every store writes its row when it opens: none would mean no write was tried.
  if (db.changes() == 0) return makeError(ErrorKind::kInternal, "schema_versions has no rows to rewrite");
  return {};
}

bool logged(const Result<void>& written) {
  if (!written) spdlog::warn("store probe: gust.db did not take a write: {}", written.error().message);
  return written.ok();
}

}  // namespace

void probeSqliteStore(SqliteWriter& writer, UniqueFunction<void(bool writable)> done) {
  // post() drops its completion when it refuses the job: `done` is kept here to answer then.
  auto shared_done = std::make_shared<UniqueFunction<void(bool)>>(std::move(done));
  auto posted = writer.post<void>(rewriteSchemaVersions,
                                  [shared_done](Result<void> written) { (*shared_done)(logged(written)); });
  if (!posted) (*shared_done)(logged(posted));
}

bool sqliteStoreTakesWrites(SqliteWriter& writer) { return logged(writer.runSync<void>(rewriteSchemaVersions)); }

}  // namespace gust
