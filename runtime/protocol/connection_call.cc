#include "runtime/protocol/connection_call.h"

#include <charconv>

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

std::string encodeRelayedCall(std::string_view app, const ConnectionCall& call) {
  std::string out = std::to_string(static_cast<uint32_t>(call.op)) + " " + std::to_string(call.code) + " ";
  out.append(app).append(" ").append(call.id).append("\n").append(call.data);
  return out;
}

bool decodeRelayedCall(std::string_view message, std::string& app, ConnectionCall& call) {
  const size_t eol = message.find('\n');
  if (eol == std::string_view::npos) return false;
  std::string_view head = message.substr(0, eol);
  std::string_view parts[4];
  for (int i = 0; i < 4; ++i) {
    const size_t space = i < 3 ? head.find(' ') : head.size();
    if (space == std::string_view::npos || space == 0) return false;
    parts[i] = head.substr(0, space);
    head.remove_prefix(i < 3 ? space + 1 : space);
  }
  if (parts[3].find(' ') != std::string_view::npos) return false;
  uint32_t op = 0;
  uint32_t code = 0;
  auto number = [](std::string_view text, uint32_t& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size();
  };
  if (!number(parts[0], op) || !number(parts[1], code) || op < 1 || op > 3) return false;
  call.op = static_cast<ConnectionOp>(op);
  call.code = code;
  app.assign(parts[2]);
  call.id.assign(parts[3]);
  call.data.assign(message.substr(eol + 1));
  return true;
}

}  // namespace gust
