#pragma once
// Invocations in gust.db (invocation_store.h), in two tables: async invocations, and
// invocation records. On one machine every async invocation is this host's, so there are
// no orphans to adopt.
//
// Contract: as invocation_store.h, and:
// - Borrows the writer, which outlives it. Close the writer before freeing the store (its
//   jobs borrow it).
// - Times are read when the job runs on the writer thread.

#include <memory>

#include "runtime/store/invocation_store.h"
#include "runtime/store/sqlite_writer.h"
#include "runtime/store/store_jobs.h"

namespace gust {

class SqliteInvocationStore final : public InvocationStore {
 public:
  // Creates or migrates the tables (blocking on the writer); refuses a newer schema.
  static Result<std::unique_ptr<InvocationStore>> open(SqliteWriter& writer, const Clock& clock,
                                                       InvocationStoreOptions options = {});

  Result<void> adoptOrphanedAsync(Done<std::vector<AdoptedAsync>> done) override;

 private:
  SqliteInvocationStore(SqliteWriter& writer, const Clock& clock, InvocationStoreOptions options)
      : InvocationStore(clock, std::move(options)), jobs_(writer) {}

  Result<void> storeNewAsync(AsyncInvocation invocation, Done<AsyncCreated> done) override;
  Result<void> loadAsync(std::string id, Done<std::optional<AsyncInvocation>> done) override;
  Result<void> loadAsyncByKey(std::string app, std::string caller, std::string key,
                              Done<std::optional<AsyncInvocation>> done) override;
  Result<void> storeAsyncUpdate(std::string id, AsyncUpdate update, Done<AsyncInvocation> done) override;
  Result<void> deleteExpiredAsync(Done<int64_t> done) override;
  Result<void> storeCallbackError(std::string id, std::string error, Done<void> done) override;
  Result<void> loadUnfinishedAsync(size_t limit, Done<std::vector<std::string>> done) override;
  Result<void> countUnfinished(Done<std::map<std::string, size_t>> done) override;
  Result<void> storeRecords(std::vector<InvocationRecord> records, Done<void> done) override;
  Result<void> loadRecords(RecordFilter filter, Done<std::vector<InvocationRecord>> done) override;
  Result<void> loadRecord(std::string id, Done<std::optional<InvocationRecord>> done) override;
  Result<void> deleteOldRecords(Done<int64_t> done) override;

  Result<int64_t> prune(SqliteConnection& db, int64_t now);

  StoreJobs jobs_;                  // the writer jobs in flight (store_jobs.h)
  size_t inserts_since_prune_ = 0;  // writer thread (inside jobs)
};

}  // namespace gust
