#include "runtime/host/store_probe.h"

#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace gust {
namespace {

// The key every host's Redis probe writes (docs/scale-out.md "Keys").
constexpr const char* kRedisProbeKey = "gust:readiness-probe";

Result<void> rewriteSchemaVersions(SqliteConnection& db) {
  auto rewrite = db.prepare("UPDATE schema_versions SET version = version");
  if (!rewrite) return rewrite.error();
  if (auto ran = rewrite->run(); !ran) return ran;
  // Every store writes its row when it opens: none would mean no write was tried.
  if (db.changes() == 0) return makeError(ErrorKind::kInternal, "schema_versions has no rows to rewrite");
  return {};
}

bool logged(const char* store, const Result<void>& written) {
  if (!written) spdlog::warn("store probe: {} did not take a write: {}", store, written.error().message);
  return written.ok();
}

}  // namespace

void probeSqliteStore(SqliteWriter& writer, UniqueFunction<void(bool writable)> done) {
  // post() drops its completion when it refuses the job: `done` is kept here to answer then.
  auto shared_done = std::make_shared<UniqueFunction<void(bool)>>(std::move(done));
  auto posted = writer.post<void>(rewriteSchemaVersions, [shared_done](Result<void> written) {
    (*shared_done)(logged("gust.db", written));
  });
  if (!posted) (*shared_done)(logged("gust.db", posted));
}

void probeRedisStore(RedisClient& redis, UniqueFunction<void(bool writable)> done) {
  // command() drops its callback when it refuses to send: `done` is kept here to answer then.
  auto shared_done = std::make_shared<UniqueFunction<void(bool)>>(std::move(done));
  auto sent = redis.command({"SET", kRedisProbeKey, "1", "PX", "60000"}, [shared_done](Result<RedisReply> reply) {
    Result<void> written;
    if (!reply) {
      written = reply.error();
    } else if (reply->isError() || reply->str != "OK") {
      written = makeError(ErrorKind::kUnavailable, "SET answered " + (reply->str.empty() ? "nothing" : reply->str));
    }
    (*shared_done)(logged("the backend Redis", written));
  });
  if (!sent) (*shared_done)(logged("the backend Redis", sent));
}

void probeHostStores(SqliteWriter& writer, RedisClient* redis, UniqueFunction<void(bool writable)> done) {
  if (redis == nullptr) {
    probeSqliteStore(writer, std::move(done));
    return;
  }
  struct Both {
    int left = 2;
    bool writable = true;
    UniqueFunction<void(bool)> done;
  };
  auto both = std::make_shared<Both>();
  both->done = std::move(done);
  auto answer = [both](bool writable) {
    both->writable = both->writable && writable;
    if (--both->left == 0) both->done(both->writable);
  };
  probeSqliteStore(writer, answer);
  probeRedisStore(*redis, answer);
}

}  // namespace gust
