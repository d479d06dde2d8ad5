#pragma once
// Invocations on the cluster's Redis (invocation_store.h; docs/scale-out.md "Async
// invocations and records"): an async invocation accepted by any host is polled through any
// other, and every host's invocation records list through any host's admin API, each with
// the host that ran it.
//
// The host that accepts an async invocation runs it (AsyncRunner). Redis keeps, per host,
// the ids it has queued or running: a host that restarts under the same name resumes them,
// and the invocations of a host silent for `adopt_after` are taken over by the first host
// that asks (adoptOrphanedAsync), so no accepted invocation waits for a host that is gone.
// A host cut off from Redis for that long may then run one again: delivery is at least
// once, as on one machine.
//
// Contract: as invocation_store.h, and:
// - Borrows the client and the clock, which outlive it; loop thread, like the client.
// - Every call fails now with kUnavailable while the client is down, without calling back.
// - setHost() before the first async call: the host's name in the cluster.

#include <chrono>
#include <string>

#include "runtime/store/invocation_store.h"
#include "runtime/store/redis_script.h"

namespace gust {

class RedisInvocationStore final : public InvocationStore {
 public:
  // Fails on options no backend takes (checkOptions).
  static Result<std::unique_ptr<RedisInvocationStore>> open(RedisClient& client, const Clock& clock,
                                                            InvocationStoreOptions options = {},
                                                            std::string prefix = "gust:");

  void setHost(std::string host) { host_ = std::move(host); }
  // How long a host is silent before its unfinished invocations are taken over.
  void setAdoptAfter(std::chrono::milliseconds after) { adopt_after_ = after; }

  Result<void> adoptOrphanedAsync(Done<std::vector<AdoptedAsync>> done) override;

 private:
  RedisInvocationStore(RedisClient& client, const Clock& clock, InvocationStoreOptions options, std::string prefix)
      : InvocationStore(clock, std::move(options)), script_(client, script(), std::move(prefix)) {}
  static std::string_view script();

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

  Result<void> needHost(std::string_view what) const;

  RedisScript script_;
  std::string host_;
  std::chrono::milliseconds adopt_after_{30'000};  // the host sets ClusterHosts::kGoneAfter
};

}  // namespace gust
