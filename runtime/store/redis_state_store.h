#pragma once
// App state on the cluster's Redis (docs/scale-out.md): the StateStore of a host started
// with --backend, with the rules of state_store.h, in the keys the queue script keeps
// (runtime/store/redis_queue_script.cc, "s:<app>"), so that a queue settle commits an
// invocation's state writes in the same script as its acks and publishes.
//
// Contract:
// - Owning thread: the client's loop thread, except getBlocking (any other thread).
// - Borrows the loop, the client and the clock; they outlive it. close() before the loop
//   ends: it answers getBlocking calls still waiting with kUnavailable.

#include <uv.h>

#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/uv_close.h"
#include "runtime/store/redis_script.h"
#include "runtime/store/state_store.h"

namespace gust {

// A commit's writes as the queue script takes them (its "readState").
void appendStateArgs(const AppStateWrites& writes, std::vector<std::string>& args);
// The refusal a script answered for state writes (a version conflict, a bound), if it is one.
std::optional<Error> stateRefusalOf(const RedisReply& reply, const std::string& app);

class RedisStateStore final : public StateStore {
 public:
  RedisStateStore(uv_loop_t* loop, RedisClient& client, const Clock& clock, std::string prefix = "gust:");
  ~RedisStateStore() override;
  RedisStateStore(const RedisStateStore&) = delete;
  RedisStateStore& operator=(const RedisStateStore&) = delete;

  Result<void> get(std::string app, std::string key, Done<std::optional<StateItem>> done) override;
  Result<std::optional<StateItem>> getBlocking(std::string app, std::string key) override;
  Result<void> list(std::string app, std::string prefix, size_t limit, Done<std::vector<StateItem>> done) override;
  Result<void> usage(std::string app, Done<StateUsage> done) override;
  Result<void> removeApp(std::string app, Done<int64_t> done) override;
  Result<void> sweep(Done<int64_t> done) override;
  Result<void> commit(AppStateWrites writes, Done<bool> done) override;

  void close(std::function<void()> on_closed);

 private:
  struct BlockingGet;
  int64_t nowMs() const;
  void answerBlockingGets();  // loop thread

  const Clock& clock_;
  RedisScript script_;
  // getBlocking's calls, handed to the loop thread through wake_.
  std::mutex mutex_;
  std::deque<std::shared_ptr<BlockingGet>> blocking_;
  bool closed_ = false;  // under mutex_
  uv_async_t wake_{};
  CloseCounter closer_;
};

}  // namespace gust
