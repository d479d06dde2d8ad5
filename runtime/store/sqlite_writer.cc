#include "runtime/store/sqlite_writer.h"

#include <cassert>
#include <string>

namespace gust {
namespace {

// The per-job savepoint statements run for every job of every batch: prepared once.
Result<void> runCached(SqliteConnection& db, std::string_view sql) {
  auto statement = db.prepare(sql);
  if (!statement.ok()) return statement.error();
  return statement->run();
}

}  // namespace

Result<std::unique_ptr<SqliteWriter>> SqliteWriter::open(uv_loop_t* loop, SqliteWriterOptions options) {
  if (options.max_queued_jobs == 0) {
    return makeError(ErrorKind::kBadInput, "sqlite writer: max_queued_jobs must be at least 1");
  }
  auto connection = SqliteConnection::open(options.path, options.synchronous,
                                           static_cast<int>(options.busy_timeout.count()));
  if (!connection.ok()) return connection.error();
  std::unique_ptr<SqliteWriter> writer(new SqliteWriter(loop, std::move(options), std::move(*connection)));
  int rc = uv_async_init(loop, &writer->async_, [](uv_async_t* handle) {
    static_cast<SqliteWriter*>(handle->data)->deliverCompletions();
  });
  if (rc != 0) {
    writer->closed_ = true;  // nothing to close; lets the destructor pass
    return makeError(ErrorKind::kIo, std::string("sqlite writer: cannot create its wake-up handle: ") + uv_strerror(rc));
  }
  writer->async_.data = writer.get();
  uv_unref(reinterpret_cast<uv_handle_t*>(&writer->async_));
  writer->thread_ = std::thread([w = writer.get()] { w->writerMain(); });
  return writer;
}

SqliteWriter::SqliteWriter(uv_loop_t* loop, SqliteWriterOptions options,
                           std::unique_ptr<SqliteConnection> connection)
    : loop_(loop), options_(std::move(options)), connection_(std::move(connection)) {}

SqliteWriter::~SqliteWriter() {
  // Freeing a writer whose uv_async is still registered with the loop would leave the loop
  // pointing at freed memory: close() first, free after its callback.
  assert(closed_ && "SqliteWriter freed before close() finished");
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closing_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
}

Result<void> SqliteWriter::enqueue(std::unique_ptr<Entry> entry, bool sync) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (closing_) return makeError(ErrorKind::kUnavailable, "sqlite writer is closed; no more writes accepted");
    if (!sync && queued_async_ >= options_.max_queued_jobs) {
      return makeError(ErrorKind::kOverloaded, "sqlite writer has " + std::to_string(queued_async_) +
                                                   " writes waiting (max_queued_jobs); try again later");
    }
    if (!sync) ++queued_async_;
    queued_.push_back(Queued{std::move(entry), sync});
  }
  wake_.notify_one();
  if (!sync) {
    ++outstanding_;
    uv_ref(reinterpret_cast<uv_handle_t*>(&async_));
  }
  return {};
}

void SqliteWriter::writerMain() {
  std::deque<Queued> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return !queued_.empty() || closing_; });
      if (queued_.empty()) return;  // closing, and everything posted ran
      // Everything that queued while the previous batch was committing goes into this one:
      // that is the group commit.
      batch.swap(queued_);
      queued_async_ = 0;
    }
    runBatch(batch);
    bool any_async = false;
    for (auto& q : batch) {
      if (q.sync) q.entry->complete();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto& q : batch) {
        if (q.sync) continue;
        completed_.push_back(std::move(q));
        any_async = true;
      }
    }
    batch.clear();
    if (any_async) uv_async_send(&async_);
  }
}

void SqliteWriter::runBatch(std::deque<Queued>& batch) {
  size_t from = 0;
  while (from < batch.size()) from = runTransaction(batch, from);
}

size_t SqliteWriter::runTransaction(std::deque<Queued>& batch, size_t from) {
  SqliteConnection& db = *connection_;
  // A job that changed no rows (a read) lost nothing when the transaction did not commit:
  // its answer stands, so GET and list calls keep working while the disk is full. The
  // jobs that wrote get the error.
  auto failWriters = [&batch, from](size_t end, const Error& error) {
    for (size_t i = from; i < end; ++i) {
      if (batch[i].wrote) batch[i].entry->fail(error);
    }
  };
  auto failAll = [&batch, from](const Error& error) {
    for (size_t i = from; i < batch.size(); ++i) batch[i].entry->fail(error);
    return batch.size();
  };
  // IMMEDIATE takes the write lock now, so a second process on the same file fails here
  // (after busy_timeout) rather than midway through the batch.
  if (auto begun = db.exec("BEGIN IMMEDIATE"); !begun.ok()) return failAll(begun.error());
  uint64_t succeeded = 0;
  for (size_t i = from; i < batch.size(); ++i) {
    Queued& q = batch[i];
    if (auto savepoint = runCached(db, "SAVEPOINT gust_job"); !savepoint.ok()) {
      q.entry->fail(savepoint.error());
      continue;
    }
    const int64_t changes_before = sqlite3_total_changes64(db.db());
    const bool ok = q.entry->run(db);
    q.wrote = sqlite3_total_changes64(db.db()) != changes_before;
    if (ok) {
      ++succeeded;
    } else if (db.inTransaction()) {
      if (auto rolled = runCached(db, "ROLLBACK TO gust_job"); !rolled.ok()) {
        (void)db.exec("ROLLBACK");
        return failAll(rolled.error());
      }
    } else {
      // Some errors (I/O, disk full) make SQLite roll back the whole transaction, taking
      // the writes of the jobs before this one with it. A full disk stays a full disk for
      // them, so each caller answers 507, not 500. The jobs after this one have not run:
      // they get a transaction of their own.
      Error why = q.entry->failure();
      if (why.kind != ErrorKind::kStorageFull) {
        why = makeError(ErrorKind::kIo, "sqlite: the transaction was rolled back by an earlier error in its batch: " +
                                            why.message);
      }
      failWriters(i, why);
      return i + 1;
    }
    if (auto released = runCached(db, "RELEASE gust_job"); !released.ok()) {
      if (db.inTransaction()) (void)db.exec("ROLLBACK");
      return failAll(released.error());
    }
  }
  if (auto committed = db.exec("COMMIT"); !committed.ok()) {
    if (db.inTransaction()) (void)db.exec("ROLLBACK");
    failWriters(batch.size(), committed.error());
    return batch.size();
  }
  transactions_.fetch_add(1, std::memory_order_relaxed);
  jobs_committed_.fetch_add(succeeded, std::memory_order_relaxed);
  return batch.size();
}

void SqliteWriter::deliverCompletions() {
  std::deque<Queued> done;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done.swap(completed_);
  }
  for (auto& q : done) {
    --outstanding_;
    q.entry->complete();  // may post again (outstanding_ goes back up)
  }
  if (outstanding_ == 0 && !close_started_) uv_unref(reinterpret_cast<uv_handle_t*>(&async_));
}

void SqliteWriter::close(UniqueFunction<void()> closed) {
  assert(!close_started_ && "SqliteWriter::close called twice");
  close_started_ = true;
  on_closed_ = std::move(closed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    closing_ = true;
  }
  wake_.notify_one();
  // The writer finishes what was queued (at most one more batch) and exits.
  thread_.join();
  connection_.reset();
  deliverCompletions();
  uv_close(reinterpret_cast<uv_handle_t*>(&async_), [](uv_handle_t* handle) {
    auto* self = static_cast<SqliteWriter*>(handle->data);
    self->closed_ = true;
    if (self->on_closed_) {
      auto on_closed = std::move(self->on_closed_);
      on_closed();  // may free the writer: touch nothing after it
    }
  });
}

}  // namespace gust
