#include "runtime/store/sqlite_schema.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/store_test_support.h"

namespace gust {
namespace {

using testing::WriterFixture;

constexpr Migration kTwoSteps[] = {
    {1, "CREATE TABLE widgets (id INTEGER PRIMARY KEY)"},
    {2, "ALTER TABLE widgets ADD COLUMN name TEXT NOT NULL DEFAULT ''"},
};

Result<bool> migrate(WriterFixture& fx, std::string component, std::span<const Migration> migrations) {
  return fx.writer().runSync<bool>([component, migrations](SqliteConnection& db) -> Result<bool> {
    if (auto r = migrateSchema(db, component, migrations); !r.ok()) return r.error();
    return true;
  });
}

Result<int64_t> scalar(WriterFixture& fx, std::string sql) {
  return fx.writer().runSync<int64_t>([sql](SqliteConnection& db) -> Result<int64_t> {
    auto s = db.prepare(sql);
    if (!s.ok()) return s.error();
    auto row = s->step();
    if (!row.ok()) return row.error();
    return *row ? s->integer(0) : -1;
  });
}

TEST_CASE("migrations run once, in order, and the version survives a reopen") {
  WriterFixture fx;
  GUST_REQUIRE_OK(migrate(fx, "widgets", std::span(kTwoSteps).first(1)));
  CHECK(*scalar(fx, "SELECT version FROM schema_versions WHERE component = 'widgets'") == 1);
  fx.closeWriter();
  fx.openWriter();
  // Step 1 is not run again (CREATE TABLE would fail); step 2 is.
  GUST_REQUIRE_OK(migrate(fx, "widgets", kTwoSteps));
  CHECK(*scalar(fx, "SELECT version FROM schema_versions WHERE component = 'widgets'") == 2);
  CHECK(*scalar(fx, "SELECT COUNT(*) FROM pragma_table_info('widgets') WHERE name = 'name'") == 1);
  CHECK(*scalar(fx, "PRAGMA user_version") == kGustDbFormatVersion);
  GUST_REQUIRE_OK(migrate(fx, "widgets", kTwoSteps));  // nothing to do
}

TEST_CASE("a database written by a newer gust is refused with both versions named") {
  WriterFixture fx;
  GUST_REQUIRE_OK(migrate(fx, "widgets", kTwoSteps));
  GUST_REQUIRE_OK(scalar(fx, "UPDATE schema_versions SET version = 7 WHERE component = 'widgets' RETURNING 0"));
  auto refused = migrate(fx, "widgets", kTwoSteps);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().message.find("widgets schema is at version 7, this gust knows up to 2") != std::string::npos);
  CHECK(refused.error().message.find("newer gust") != std::string::npos);

  GUST_REQUIRE_OK(scalar(fx, "PRAGMA user_version = 5"));
  auto refused_file = migrate(fx, "other", kTwoSteps);
  REQUIRE_FALSE(refused_file.ok());
  CHECK(refused_file.error().message.find("format version 5, this gust knows up to 1") != std::string::npos);
  // Nothing of the refused component was created.
  CHECK(*scalar(fx, "SELECT COUNT(*) FROM schema_versions WHERE component = 'other'") == 0);
}

TEST_CASE("a failing migration leaves nothing half-applied") {
  WriterFixture fx;
  constexpr Migration kBroken[] = {
      {1, "CREATE TABLE gadgets (id INTEGER PRIMARY KEY); CREATE TABLE gadgets (again INTEGER)"},
  };
  auto failed = migrate(fx, "gadgets", kBroken);
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().message.find("gadgets schema migration to version 1 failed") != std::string::npos);
  CHECK(*scalar(fx, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'gadgets'") == 0);
}

}  // namespace
}  // namespace gust
