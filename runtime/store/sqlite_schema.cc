#include "runtime/store/sqlite_schema.h"

#include <string>

namespace gust {
namespace {

constexpr const char* kUpgradeAdvice = "; it was written by a newer gust: upgrade gust, or point --data-dir elsewhere";

Result<void> checkFileFormat(SqliteConnection& db) {
  auto version = db.prepare("PRAGMA user_version");
  if (!version.ok()) return version.error();
  auto row = version->step();
  if (!row.ok()) return row.error();
  int64_t found = *row ? version->integer(0) : 0;
  if (auto r = version->run(); !r.ok()) return r.error();
  if (found > kGustDbFormatVersion) {
    return makeError(ErrorKind::kBadInput, db.path().string() + " has format version " + std::to_string(found) +
                                               ", this gust knows up to " + std::to_string(kGustDbFormatVersion) +
                                               kUpgradeAdvice);
  }
  if (found == kGustDbFormatVersion) return {};
  auto created = db.exec(
      "CREATE TABLE IF NOT EXISTS schema_versions ("
      "  component TEXT PRIMARY KEY,"
      "  version INTEGER NOT NULL"
      ") WITHOUT ROWID");
  if (!created.ok()) return created;
  return db.exec(("PRAGMA user_version=" + std::to_string(kGustDbFormatVersion)).c_str());
}

}  // namespace

Result<void> migrateSchema(SqliteConnection& db, std::string_view component, std::span<const Migration> migrations) {
  if (auto r = checkFileFormat(db); !r.ok()) return r;
  int64_t current = 0;
  {
    auto select = db.prepare("SELECT version FROM schema_versions WHERE component = ?1");
    if (!select.ok()) return select.error();
    select->bindText(1, component);
    auto row = select->step();
    if (!row.ok()) return row.error();
    if (*row) current = select->integer(0);
  }
  const int64_t known = migrations.empty() ? 0 : migrations.back().version;
  if (current > known) {
    return makeError(ErrorKind::kBadInput, db.path().string() + ": the " + std::string(component) +
                                               " schema is at version " + std::to_string(current) +
                                               ", this gust knows up to " + std::to_string(known) + kUpgradeAdvice);
  }
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    if (auto r = db.exec(m.sql); !r.ok()) {
      return makeError(r.error().kind, std::string(component) + " schema migration to version " +
                                           std::to_string(m.version) + " failed: " + r.error().message);
    }
    current = m.version;
  }
  auto upsert = db.prepare(
      "INSERT INTO schema_versions (component, version) VALUES (?1, ?2)"
      " ON CONFLICT (component) DO UPDATE SET version = excluded.version");
  if (!upsert.ok()) return upsert.error();
  upsert->bindText(1, component).bind(2, current);
  return upsert->run();
}

}  // namespace gust
