#pragma once
// What runs one app version's invocations: a pool of worker processes (the default), or a
// pool of host threads for `"isolation": "thread"`. The dispatcher holds one per version
// and knows nothing of which kind it is.
//
// Owning thread: the loop thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "runtime/protocol/invocation.h"
#include "runtime/base/result.h"
#include "runtime/base/unique_function.h"

namespace gust {

struct PoolStats {
  size_t starting = 0, idle = 0, busy = 0, stopping = 0;
  size_t pending = 0;
  uint64_t cold_starts = 0;
  uint64_t crashes = 0;          // workers that died while serving or before ready
  uint64_t start_failures = 0;   // workers that died before READY
  double last_cold_start_ms = 0;
  std::string last_start_error;
};

class Executor {
 public:
  virtual ~Executor() = default;

  // Starts min_instances instances.
  virtual void start() = 0;

  // Makes sure one instance is up (even with min_instances 0) and calls `on_ready` once:
  // with success when it passed its ready handshake, or with why it could not start. A
  // deploy waits on this before the version takes traffic.
  virtual void warmUp(UniqueFunction<void(Result<void>)> on_ready) = 0;

  // Runs `invocation`; `done` runs exactly once, on the loop thread, with its outcome.
  virtual void submit(Invocation&& invocation, uint32_t function_index, std::chrono::milliseconds timeout,
                      OutcomeCallback&& done) = 0;

  // Stops taking new work, finishes what it holds (pending and in flight), then closes and
  // calls `on_closed`. Used when a newer version took over.
  virtual void drain(std::function<void()> on_closed) = 0;

  // Fails what is pending, stops every instance, and calls `on_closed` once all are gone.
  virtual void close(std::function<void()> on_closed) = 0;

  virtual PoolStats stats() const = 0;
};

}  // namespace gust
