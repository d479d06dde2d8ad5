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

#include "runtime/protocol/connection_call.h"

namespace gust {

class ConnectionSink {
 public:
  virtual ~ConnectionSink() = default;
  // Carries out `call` on the connection of `app` (the caller's app, as the host knows it,
  // never a name the function gave) and answers with a gust_status: GUST_OK, or
  // GUST_E_NOT_FOUND when `app` has no open connection of that id, or GUST_E_LIMIT when the
  // message could never fit the connection's send buffer.
  virtual int32_t call(std::string_view app, const ConnectionCall& call) = 0;
};

}  // namespace gust
