#pragma once
// Calls one function of a loaded module for one INVOKE and produces its RESULT: builds the
// gust_request and gust_context, serves the host API (respond, fail, log, the deadline, a
// queue batch and its settlements, publishes, trace context, app state, webhook signatures,
// WebSocket connections)
// and keeps the queue and state limits of runtime/protocol/queue_types.h and state_types.h,
// answering a call that breaks one with an error code and a log line. State writes are
// buffered in the RESULT like publishes, and reads see them. The worker process serves its INVOKE frames with it; an in-process executor can
// call the very same code.
//
// Thread: runs the function on the calling thread. Calls share no state, so several
// threads may invoke at once, provided their InvocationLog may be called from each.

#include <cstdint>
#include <string_view>

#include <optional>

#include "gust/abi.h"
#include "runtime/base/result.h"
#include "runtime/protocol/frame.h"

namespace gust {

// Where the lines a function logs through its Context go while it runs: LOG frames in a
// worker process.
class InvocationLog {
 public:
  virtual ~InvocationLog() = default;
  // `level` is a gust_log_level; `message` is capped at kMaxLogLine bytes.
  virtual void line(uint64_t seq, uint32_t level, std::string_view message) = 0;
};

// Where a function's state reads go while it runs: to the host, which answers with the
// committed state of the worker's own app (it never takes an app name from the worker).
// Called on the thread that runs the function, which waits for the answer.
class StateReader {
 public:
  virtual ~StateReader() = default;
  // nullopt when the key is absent or expired; an error saying why the host could not read.
  virtual Result<std::optional<StateValue>> get(uint64_t seq, std::string_view key) = 0;
};

// Where a function's calls on WebSocket connections go while it runs: to the host, which
// owns the connections and answers for the worker's own app only. Called on the thread
// that runs the function, which waits for the gust_status.
class ConnectionCaller {
 public:
  virtual ~ConnectionCaller() = default;
  virtual int32_t call(uint64_t seq, const ConnectionCall& call) = 0;
};

// The host keeps at most this much of one logged line.
constexpr size_t kMaxLogLine = 64 * 1024;

// Runs `fn` (the module's function `function` of `app`) for `frame`. The RESULT is the
// function's response, or an error when it failed or returned without answering (a queue
// function may simply return: 204). Settlements are only the explicit ones; a failed
// invocation keeps neither settlements nor publishes nor state writes. Without a `state`
// reader, state_get answers GUST_E_UNAVAILABLE; without `connections`, connection calls
// answer GUST_E_NOT_FOUND (there is no connection to reach). Never throws.
ResultFrame invokeModule(gust_function_fn fn, const InvokeFrame& frame, std::string_view app,
                         std::string_view function, InvocationLog& log, StateReader* state = nullptr,
                         ConnectionCaller* connections = nullptr);

}  // namespace gust
