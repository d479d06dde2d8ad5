#pragma once
// A store's jobs on the one SqliteWriter, counted. A job's completion borrows its store, so a
// store freed while one is still queued would be called back after it is gone: the count
// must be zero when the store goes (close the writer first), which the destructor asserts.
// One per store, a member of it; loop thread only.

#include <cassert>

#include "runtime/store/sqlite_writer.h"

namespace gust {

class StoreJobs {
 public:
  explicit StoreJobs(SqliteWriter& writer) : writer_(writer) {}
  ~StoreJobs() { assert(pending_ == 0 && "a store freed with calls in flight: close its SqliteWriter first"); }
  StoreJobs(const StoreJobs&) = delete;
  StoreJobs& operator=(const StoreJobs&) = delete;

  // SqliteWriter::post, counted until `done` has run.
  template <typename T>
  Result<void> post(SqliteWriter::Job<T> job, SqliteWriter::Completion<T> done) {
    auto posted = writer_.post<T>(std::move(job), [this, done = std::move(done)](Result<T> result) mutable {
      --pending_;
      if (done) done(std::move(result));
    });
    if (posted.ok()) ++pending_;
    return posted;
  }

  // A write that answers only whether it committed.
  Result<void> postWrite(UniqueFunction<Result<void>(SqliteConnection&)> write,
                         UniqueFunction<void(Result<void>)> done) {
    return post<bool>(
        [write = std::move(write)](SqliteConnection& db) mutable -> Result<bool> {
          if (auto r = write(db); !r.ok()) return r.error();
          return true;
        },
        [done = std::move(done)](Result<bool> written) mutable {
          if (!written.ok()) return done(written.error());
          done(Result<void>{});
        });
  }

 private:
  SqliteWriter& writer_;
  size_t pending_ = 0;
};

}  // namespace gust
