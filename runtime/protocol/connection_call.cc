#include "runtime/protocol/connection_call.h"

#include "runtime/base/text.h"

namespace gust {

std::string connectionCallProblem(const ConnectionCall& call) {
  if (call.id.empty() || call.id.size() > kMaxConnectionIdBytes) {
    return "a connection id is 1.." + std::to_string(kMaxConnectionIdBytes) + " bytes, as the host gave it";
  }
  switch (call.op) {
    case ConnectionOp::kSendText:
      // RFC 6455 §8.1: a text message is UTF-8; a client would fail the connection.
      if (!isValidUtf8(call.data)) return "a text message must be UTF-8; send it as binary";
      return {};
    case ConnectionOp::kSendBinary: return {};
    case ConnectionOp::kClose:
      if (call.code != 1000 && (call.code < 3000 || call.code > 4999)) {
        return "close code " + std::to_string(call.code) + " is not one a function may send; use 1000 or 3000..4999";
      }
      if (call.data.size() > kMaxCloseReasonBytes || !isValidUtf8(call.data)) {
        return "a close reason is at most " + std::to_string(kMaxCloseReasonBytes) + " bytes of UTF-8";
      }
      return {};
  }
  return "operation " + std::to_string(static_cast<uint32_t>(call.op)) + " is not a connection call";
}

}  // namespace gust
