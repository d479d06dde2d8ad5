// libFuzzer target: a connection call as another host relays it through Redis
// (decodeRelayedCall, docs/scale-out.md "Connections"). Nothing may crash or read out of
// bounds, and a call that decodes encodes to a message that decodes to the same call.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/protocol/connection_call.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view message(reinterpret_cast<const char*>(data), size);
  std::string app;
  gust::ConnectionCall call;
  if (!gust::decodeRelayedCall(message, app, call)) return 0;
  std::string again_app;
  gust::ConnectionCall again;
  if (!gust::decodeRelayedCall(gust::encodeRelayedCall(app, call), again_app, again)) __builtin_trap();
  if (again_app != app || again.op != call.op || again.code != call.code || again.id != call.id ||
      again.data != call.data) {
    __builtin_trap();
  }
  (void)gust::connectionCallProblem(call);
  return 0;
}
