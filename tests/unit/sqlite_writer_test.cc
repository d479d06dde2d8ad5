#include "runtime/store/sqlite_writer.h"

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <uv.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::countCommitted;
using testing::WriterFixture;

void createTable(WriterFixture& fx) {
  auto made = fx.writer().runSync<bool>([](SqliteConnection& db) -> Result<bool> {
    if (auto r = db.exec("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, note TEXT)"); !r.ok()) return r.error();
    return true;
  });
  GUST_REQUIRE_OK(made);
}

SqliteWriter::Job<int64_t> insertJob(int64_t n) {
  return [n](SqliteConnection& db) -> Result<int64_t> {
    auto insert = db.prepare("INSERT INTO t (n) VALUES (?1)");
    if (!insert.ok()) return insert.error();
    insert->bind(1, n);
    if (auto r = insert->run(); !r.ok()) return r.error();
    return n;
  };
}

// Holds the writer thread inside a job until release(), so the test knows exactly which
// jobs queue up behind it.
class WriterBlocker {
 public:
  void post(SqliteWriter& writer) {
    auto posted = writer.post<bool>(
        [this](SqliteConnection&) -> Result<bool> {
          started_.set_value();
          release_future_.wait();
          return true;
        },
        nullptr);
    REQUIRE(posted.ok());
    REQUIRE_MESSAGE(started_.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready,
                    test::timedOut("the writer thread to start the blocking job", std::chrono::seconds(10)));
  }
  void release() { release_.set_value(); }

 private:
  std::promise<void> started_;
  std::promise<void> release_;
  std::shared_future<void> release_future_{release_.get_future().share()};
};

TEST_CASE("a completion runs on the loop thread after its transaction committed") {
  WriterFixture fx;
  createTable(fx);
  const auto loop_thread = std::this_thread::get_id();
  bool ran = false;
  auto posted = fx.writer().post<int64_t>(insertJob(7), [&](Result<int64_t> r) {
    REQUIRE(r.ok());
    CHECK(*r == 7);
    CHECK(std::this_thread::get_id() == loop_thread);
    // Another connection already sees the row: the ack came after the commit.
    CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t WHERE n = 7") == 1);
    ran = true;
  });
  REQUIRE(posted.ok());
  // The pending write keeps the loop alive until its completion ran.
  REQUIRE(test::runLoopToEnd(fx.loop(), "the completion to run"));
  CHECK(ran);
}

TEST_CASE("jobs queued while the writer is busy share one transaction and complete in order") {
  WriterFixture fx;
  createTable(fx);
  const uint64_t before = fx.writer().transactionsCommitted();
  WriterBlocker blocker;
  blocker.post(fx.writer());
  std::vector<int64_t> order;
  for (int64_t i = 0; i < 1000; ++i) {
    auto posted = fx.writer().post<int64_t>(insertJob(i), [&order](Result<int64_t> r) {
      REQUIRE(r.ok());
      order.push_back(*r);
    });
    REQUIRE(posted.ok());
  }
  blocker.release();
  REQUIRE(test::runLoopToEnd(fx.loop(), "every completion to run"));
  REQUIRE(order.size() == 1000);
  for (int64_t i = 0; i < 1000; ++i) CHECK(order[static_cast<size_t>(i)] == i);
  // One transaction for the blocker, one for all thousand inserts.
  CHECK(fx.writer().transactionsCommitted() - before == 2);
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t") == 1000);
}

TEST_CASE("a failing job rolls back only its own writes; the rest of its batch commits") {
  WriterFixture fx;
  createTable(fx);
  WriterBlocker blocker;
  blocker.post(fx.writer());
  std::vector<std::string> results;
  auto record = [&results](Result<int64_t> r) { results.push_back(r.ok() ? "ok" : r.error().message); };
  REQUIRE(fx.writer().post<int64_t>(insertJob(1), record).ok());
  REQUIRE(fx.writer()
              .post<int64_t>(
                  [](SqliteConnection& db) -> Result<int64_t> {
                    // Writes, then fails: its write must not survive.
                    if (auto r = db.exec("INSERT INTO t (n) VALUES (2)"); !r.ok()) return r.error();
                    return makeError(ErrorKind::kBadInput, "job two refuses");
                  },
                  record)
              .ok());
  REQUIRE(fx.writer()
              .post<int64_t>(
                  [](SqliteConnection&) -> Result<int64_t> { throw std::runtime_error("job three throws"); },
                  record)
              .ok());
  REQUIRE(fx.writer().post<int64_t>(insertJob(4), record).ok());
  const uint64_t before = fx.writer().transactionsCommitted();
  blocker.release();
  REQUIRE(test::runLoopToEnd(fx.loop(), "every completion to run"));
  REQUIRE(results.size() == 4);
  CHECK(results[0] == "ok");
  CHECK(results[1] == "job two refuses");
  CHECK(results[2].find("job three throws") != std::string::npos);
  CHECK(results[3] == "ok");
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t WHERE n IN (1, 4)") == 2);
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t WHERE n = 2") == 0);
  CHECK(fx.writer().transactionsCommitted() - before == 2);  // the blocker's, then the four
}

TEST_CASE("a batch whose COMMIT fails reports the error to every job and keeps none of their writes") {
  WriterFixture fx;
  createTable(fx);
  int vetoes_left = 1;
  WriterBlocker blocker;
  blocker.post(fx.writer());
  // A commit hook that returns non-zero turns the COMMIT into a rollback: SQLite's own way
  // to make a commit fail, standing in for a full disk.
  REQUIRE(fx.writer()
              .post<int64_t>(
                  [&vetoes_left](SqliteConnection& db) -> Result<int64_t> {
                    sqlite3_commit_hook(
                        db.db(),
                        [](void* arg) -> int {
                          int* left = static_cast<int*>(arg);
                          return (*left)-- > 0 ? 1 : 0;
                        },
                        &vetoes_left);
                    return 0;
                  },
                  nullptr)
              .ok());
  std::vector<Result<int64_t>> results;
  for (int64_t i = 10; i < 13; ++i) {
    REQUIRE(fx.writer().post<int64_t>(insertJob(i), [&results](Result<int64_t> r) { results.push_back(r); }).ok());
  }
  blocker.release();
  REQUIRE(test::runLoopToEnd(fx.loop(), "every completion to run"));
  REQUIRE(results.size() == 3);
  for (auto& r : results) {
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find("COMMIT") != std::string::npos);
  }
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t") == 0);
  // The writer goes on: the next batch commits.
  auto later = fx.wait<int64_t>([&](auto done) { return fx.writer().post<int64_t>(insertJob(20), std::move(done)); });
  GUST_REQUIRE_OK(later);
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t") == 1);
}

TEST_CASE("a full database is kStorageFull naming the folder to free; reads go on and writes resume once there is room") {
  WriterFixture fx;
  createTable(fx);
  // max_page_count makes SQLite answer SQLITE_FULL as a full disk would, at a size the
  // test picks.
  auto pages = fx.writer().runSync<int64_t>([](SqliteConnection& db) -> Result<int64_t> {
    auto count = db.prepare("PRAGMA page_count");
    if (!count.ok()) return count.error();
    if (auto row = count->step(); !row.ok()) return row.error();
    const int64_t now = count->integer(0);
    const std::string limit = "PRAGMA max_page_count = " + std::to_string(now + 2);
    if (auto r = db.exec(limit.c_str()); !r.ok()) return r.error();
    return now;
  });
  GUST_REQUIRE_OK(pages);
  auto fill = [](SqliteConnection& db) -> Result<int64_t> {
    auto insert = db.prepare("INSERT INTO t (note) VALUES (?1)");
    if (!insert.ok()) return insert.error();
    insert->bindText(1, std::string(64 * 1024, 'x'));
    if (auto r = insert->run(); !r.ok()) return r.error();
    return 1;
  };
  auto full = fx.wait<int64_t>([&](auto done) { return fx.writer().post<int64_t>(fill, std::move(done)); });
  REQUIRE_FALSE(full.ok());
  CHECK(full.error().kind == ErrorKind::kStorageFull);
  CHECK(full.error().message.find("disk is full; free space on " + fx.dbPath().parent_path().string()) !=
        std::string::npos);
  // Reads still answer.
  auto read = fx.wait<int64_t>([&](auto done) {
    return fx.writer().post<int64_t>(
        [](SqliteConnection& db) -> Result<int64_t> {
          auto count = db.prepare("SELECT COUNT(*) FROM t");
          if (!count.ok()) return count.error();
          if (auto row = count->step(); !row.ok()) return row.error();
          return count->integer(0);
        },
        std::move(done));
  });
  GUST_REQUIRE_OK(read);
  CHECK(*read == 0);
  // Room again (the operator freed space): the same write commits, without reopening.
  auto roomy = fx.wait<int64_t>([&](auto done) {
    return fx.writer().post<int64_t>(
        [](SqliteConnection& db) -> Result<int64_t> {
          if (auto r = db.exec("PRAGMA max_page_count = 1000000"); !r.ok()) return r.error();
          return 0;
        },
        std::move(done));
  });
  GUST_REQUIRE_OK(roomy);
  auto again = fx.wait<int64_t>([&](auto done) { return fx.writer().post<int64_t>(fill, std::move(done)); });
  GUST_REQUIRE_OK(again);
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t") == 1);
}

TEST_CASE("post fails with kOverloaded once max_queued_jobs wait, and never calls back") {
  SqliteWriterOptions options;
  options.max_queued_jobs = 4;
  WriterFixture fx(options);
  createTable(fx);
  WriterBlocker blocker;
  blocker.post(fx.writer());  // running, so not waiting
  int completed = 0;
  for (int64_t i = 0; i < 4; ++i) {
    REQUIRE(fx.writer().post<int64_t>(insertJob(i), [&completed](Result<int64_t> r) { completed += r.ok(); }).ok());
  }
  bool called = false;
  auto refused = fx.writer().post<int64_t>(insertJob(99), [&called](Result<int64_t>) { called = true; });
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().kind == ErrorKind::kOverloaded);
  CHECK(refused.error().message.find("max_queued_jobs") != std::string::npos);
  blocker.release();
  REQUIRE(test::runLoopToEnd(fx.loop(), "every completion to run"));
  CHECK(completed == 4);
  CHECK_FALSE(called);
  // The queue drained: room again.
  GUST_REQUIRE_OK(fx.wait<int64_t>([&](auto done) { return fx.writer().post<int64_t>(insertJob(5), std::move(done)); }));
}

TEST_CASE("close drains what was queued, runs every completion, and refuses later writes") {
  WriterFixture fx;
  createTable(fx);
  int completed = 0;
  for (int64_t i = 0; i < 200; ++i) {
    REQUIRE(fx.writer().post<int64_t>(insertJob(i), [&completed](Result<int64_t> r) { completed += r.ok(); }).ok());
  }
  bool closed = false;
  fx.writer().close([&closed] { closed = true; });
  CHECK(completed == 200);  // delivered inside close(), before the handle closes
  auto late = fx.writer().post<int64_t>(insertJob(500), nullptr);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().kind == ErrorKind::kUnavailable);
  auto late_sync = fx.writer().runSync<int64_t>(insertJob(501));
  REQUIRE_FALSE(late_sync.ok());
  CHECK(late_sync.error().kind == ErrorKind::kUnavailable);
  REQUIRE(test::runLoopToEnd(fx.loop(), "the writer to close"));
  CHECK(closed);
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t") == 200);
  fx.openWriter();  // the fixture closes this one
}

TEST_CASE("an idle writer does not keep the loop alive") {
  WriterFixture fx;
  // Nothing outstanding: the loop has nothing referenced and returns at once.
  CHECK(uv_run(fx.loop(), UV_RUN_NOWAIT) == 0);
}

TEST_CASE("runSync from another thread interleaves safely with posts from the loop thread") {
  WriterFixture fx;
  createTable(fx);
  std::atomic<int> synced{0};
  // A jthread: a failed REQUIRE below joins it rather than abort the test.
  std::jthread other([&fx, &synced] {
    for (int64_t i = 0; i < 300; ++i) {
      auto r = fx.writer().runSync<int64_t>(insertJob(10000 + i));
      if (r.ok() && *r == 10000 + i) ++synced;
    }
  });
  int completed = 0;
  for (int64_t i = 0; i < 300; ++i) {
    REQUIRE(fx.writer().post<int64_t>(insertJob(i), [&completed](Result<int64_t> r) { completed += r.ok(); }).ok());
    if (i % 50 == 0) uv_run(fx.loop(), UV_RUN_NOWAIT);
  }
  other.join();
  REQUIRE(test::runLoopToEnd(fx.loop(), "every completion to run"));
  CHECK(synced == 300);
  CHECK(completed == 300);
  CHECK(countCommitted(fx.dbPath(), "SELECT COUNT(*) FROM t") == 600);
  CHECK(fx.writer().jobsCommitted() >= 601);  // the table, 600 inserts
}

TEST_CASE("the connection is in WAL mode with the configured synchronous level") {
  auto pragma = [](WriterFixture& fx, const char* sql) {
    auto value = fx.writer().runSync<int64_t>([sql](SqliteConnection& db) -> Result<int64_t> {
      auto s = db.prepare(sql);
      if (!s.ok()) return s.error();
      auto row = s->step();
      if (!row.ok()) return row.error();
      return s->integer(0);
    });
    REQUIRE(value.ok());
    return *value;
  };
  {
    WriterFixture fx;
    CHECK(pragma(fx, "PRAGMA synchronous") == 2);  // FULL
    CHECK(countCommitted(fx.dbPath(), "SELECT journal_mode = 'wal' FROM pragma_journal_mode") == 1);
  }
  {
    SqliteWriterOptions options;
    options.synchronous = SqliteConnection::Synchronous::kNormal;
    WriterFixture fx(options);
    CHECK(pragma(fx, "PRAGMA synchronous") == 1);  // NORMAL
  }
}

TEST_CASE("open fails with a message naming a file it cannot create") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  SqliteWriterOptions options;
  options.path = "/nonexistent-gust-dir/sub/gust.db";
  auto writer = SqliteWriter::open(&loop, options);
  REQUIRE_FALSE(writer.ok());
  CHECK(writer.error().kind == ErrorKind::kIo);
  CHECK(writer.error().message.find("/nonexistent-gust-dir/sub/gust.db") != std::string::npos);
  CHECK(uv_loop_close(&loop) == 0);
}

}  // namespace
}  // namespace gust
