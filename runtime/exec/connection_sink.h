#pragma once
// Where a function's calls on WebSocket connections go (ctx.send, ctx.close): the host's
// registry of open connections, which lives with the HTTP trigger, above this layer. The
// dispatcher, its pools and its thread executors know only this interface; the host wires
// the registry in (docs/architecture.md "Layers", "WebSocket functions").
//
// Thread: the loop thread, always. A worker process's call arrives there as a frame; a
// thread executor's handler thread posts its call there and waits.

#include <cstdint>
#include <string_view>

#include "runtime/base/unique_function.h"
#include "runtime/protocol/connection_call.h"

namespace gust {

class ConnectionSink {
 public:
  virtual ~ConnectionSink() = default;
  using Done = UniqueFunction<void(int32_t status)>;
  // Carries out `call` on the connection of `app` (the caller's app, as the host knows it,
  // never a name the function gave) and answers `done` once, on the loop thread, with a
  // gust_status: GUST_OK, or GUST_E_NOT_FOUND when `app` has no open connection of that id,
  // or GUST_E_LIMIT when the message could never fit the connection's send buffer, or
  // GUST_E_UNAVAILABLE when the connection is held by another host of the cluster and the
  // cluster's Redis cannot be reached. A connection of this host answers before call()
  // returns; one held by another host answers once Redis has (docs/scale-out.md).
  virtual void call(std::string_view app, const ConnectionCall& call, Done done) = 0;
};

}  // namespace gust
