#include "runtime/host/store_probe.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include <optional>

#include "runtime/store/sqlite_schema.h"
#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::WriterFixture;

// What a store opening leaves: schema_versions with the component's row.
void openComponent(WriterFixture& fx) {
  GUST_REQUIRE_OK(fx.writer().runSync<void>(
      [](SqliteConnection& db) { return migrateSchema(db, "probe_test", std::span<const Migration>{}); }));
}

std::optional<bool> probeOnce(WriterFixture& fx) {
  std::optional<bool> answer;
  probeSqliteStore(fx.writer(), [&answer](bool writable) { answer = writable; });
  REQUIRE(test::runLoopUntil(fx.loop(), "the store probe's answer", [&answer] { return answer.has_value(); }));
  return answer;
}

TEST_CASE("the store probe commits a write through the writer and answers true") {
  WriterFixture fx;
  openComponent(fx);
  uint64_t before = fx.writer().jobsCommitted();
  CHECK(probeOnce(fx) == true);
  CHECK(fx.writer().jobsCommitted() == before + 1);
  CHECK(sqliteStoreTakesWrites(fx.writer()));
  // What it rewrote is what was there.
  CHECK(testing::countCommitted(fx.dbPath(), "SELECT version FROM schema_versions WHERE component = 'probe_test'") ==
        0);
}

TEST_CASE("the store probe answers false while another connection holds the write lock, true once it lets go") {
  SqliteWriterOptions options;
  options.busy_timeout = std::chrono::milliseconds(20);
  WriterFixture fx(options);
  openComponent(fx);
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(fx.dbPath().c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  CHECK(probeOnce(fx) == false);
  CHECK_FALSE(sqliteStoreTakesWrites(fx.writer()));
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
  CHECK(probeOnce(fx) == true);
}

TEST_CASE("the store probe answers false on a database no store has opened") {
  WriterFixture fx;
  CHECK(probeOnce(fx) == false);
}

}  // namespace
}  // namespace gust
