#pragma once
// Shared by the gust.db tests: a temp dir, a clock the test moves, and a loop that owns a
// real SqliteWriter on a real file, with a way to wait (with a deadline) for one async answer.

#include <doctest/doctest.h>
#include <sqlite3.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>

#include "runtime/base/clock.h"
#include "runtime/store/redis_client.h"
#include "runtime/store/sqlite_writer.h"
#include "tests/support/redis_server.h"
#include "tests/support/run_loop.h"
#include "tests/support/temp_dir.h"

namespace gust::testing {

// True when the store tests run against the Redis backend (GUST_STORE_BACKEND=redis, set by
// the "..._redis" registrations in tests/unit/meson.build) instead of gust.db.
inline bool onRedisBackend() {
  const char* backend = std::getenv("GUST_STORE_BACKEND");
  return backend != nullptr && std::string(backend) == "redis";
}

// One redis-server for the whole run; each fixture keeps its keys under a prefix of its own.
inline test::RedisServer& sharedRedis() {
  static test::RedisServer server;
  return server;
}

// A client of sharedRedis(), connected (the loop runs until it is).
inline std::unique_ptr<RedisClient> connectSharedRedis(uv_loop_t* loop) {
  auto endpoint = parseBackendUrl(sharedRedis().url());
  REQUIRE(endpoint.ok());
  auto client = std::make_unique<RedisClient>(loop, *endpoint);
  client->start();
  REQUIRE(test::runLoopUntil(loop, "the Redis client to connect", [&client] { return client->up(); }));
  return client;
}

// A key prefix no other fixture of this run uses.
inline std::string freshRedisPrefix() {
  static int fixtures = 0;
  return "test" + std::to_string(++fixtures) + ":";
}

// The temp dir every test uses, under the name these tests know it by.
using gust::test::TempDir;

// The first column of the first row of `sql`, read with a connection of its own, as
// another process (or a restarted host) would: it sees only what was committed.
inline int64_t countCommitted(const std::filesystem::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(stmt) == SQLITE_ROW);
  int64_t n = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return n;
}

// Time moves only when the test says so. Read on the writer thread, so atomic.
class FakeClock final : public Clock {
 public:
  FakeClock() : ms_(1'700'000'000'000) {}  // a fixed wall time in November 2023
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  std::chrono::system_clock::time_point wallNow() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms_.load()));
  }
  void advance(std::chrono::milliseconds by) { ms_ += by.count(); }
  int64_t ms() const { return ms_.load(); }

 private:
  std::atomic<int64_t> ms_;
};

// A loop and a writer on <temp>/gust.db. The destructor closes the writer and checks that
// the loop closes clean (STYLE 2).
class WriterFixture {
 public:
  explicit WriterFixture(SqliteWriterOptions options = {}) : options_(std::move(options)) {
    uv_loop_init(&loop_);
    options_.path = dir_.path() / "gust.db";
    openWriter();
  }
  ~WriterFixture() {
    closeWriter();
    CHECK(uv_loop_close(&loop_) == 0);
  }

  void openWriter() {
    auto writer = SqliteWriter::open(&loop_, options_);
    REQUIRE_MESSAGE(writer.ok(), (writer.ok() ? "" : writer.error().message));
    writer_ = std::move(*writer);
  }

  // Closes the writer and runs the loop until its close callback ran.
  void closeWriter() {
    if (!writer_) return;
    bool closed = false;
    writer_->close([&closed] { closed = true; });
    test::runLoopUntil(&loop_, "the writer to close", [&closed] { return closed; });
    writer_.reset();
  }

  // Calls `call` with a completion and runs the loop until that completion ran. A call
  // that fails now is returned as it is.
  template <typename T, typename Call>
  Result<T> wait(Call&& call) {
    std::optional<Result<T>> got;
    Result<void> posted = call([&got](Result<T> r) { got.emplace(std::move(r)); });
    if (!posted.ok()) return posted.error();
    REQUIRE(test::runLoopUntil(&loop_, "the writer's answer", [&got] { return got.has_value(); }));
    return std::move(*got);
  }

  uv_loop_t* loop() { return &loop_; }
  SqliteWriter& writer() { return *writer_; }
  const std::filesystem::path& dbPath() const { return options_.path; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  SqliteWriterOptions& options() { return options_; }

 private:
  TempDir dir_;
  SqliteWriterOptions options_;
  uv_loop_t loop_{};
  std::unique_ptr<SqliteWriter> writer_;
};

// Blocks the writer thread with one job until release() (or the end of the scope), so that
// what a test posts meanwhile queues behind it. The constructor returns once the job runs.
class WriterHold {
 public:
  explicit WriterHold(SqliteWriter& writer) {
    auto started = std::make_shared<std::promise<void>>();
    std::future<void> running = started->get_future();
    std::shared_future<void> released = release_.get_future().share();
    auto posted = writer.post<bool>(
        [started, released](SqliteConnection&) -> Result<bool> {
          started->set_value();
          released.wait();
          return true;
        },
        nullptr);
    REQUIRE(posted.ok());
    REQUIRE_MESSAGE(running.wait_for(std::chrono::seconds(10)) == std::future_status::ready,
                    test::timedOut("the writer thread to start the holding job", std::chrono::seconds(10)));
  }
  ~WriterHold() { release(); }
  WriterHold(const WriterHold&) = delete;
  WriterHold& operator=(const WriterHold&) = delete;

  void release() {
    if (released_) return;
    released_ = true;
    release_.set_value();
  }

 private:
  std::promise<void> release_;
  bool released_ = false;
};

// REQUIRE a Result is ok, printing its error when it is not; yields the value.
#define GUST_REQUIRE_OK(result)                                                              \
  do {                                                                                       \
    const auto& gust_r_ = (result);                                                          \
    REQUIRE_MESSAGE(gust_r_.ok(), (gust_r_.ok() ? std::string() : gust_r_.error().message)); \
  } while (0)

}  // namespace gust::testing
