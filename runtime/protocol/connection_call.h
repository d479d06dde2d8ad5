#pragma once
// What a function asks of an open WebSocket connection of its app (docs/architecture.md
// "WebSocket functions"): send it a message, or close it. Such a call crosses from the worker
// to the host as a CONNECTION_CALL frame, answered (CONNECTION_STATUS) with a gust_status at once
// for a connection of this host, or once Redis has for another host's (docs/scale-out.md).
//
// The limits are checked twice, like the state limits: by the worker, so that a function
// gets GUST_E_LIMIT or GUST_E_INVALID at the call that crossed one, and by the host, which
// trusts no worker.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gust {

enum class ConnectionOp : uint32_t { kSendText = 1, kSendBinary = 2, kClose = 3 };

struct ConnectionCall {
  ConnectionOp op = ConnectionOp::kSendText;
  std::string id;    // the connection's id, as the host gave it to a CONNECT invocation
  std::string data;  // the message (a send) or the close reason (a close)
  uint32_t code = 1000;  // a close's status code
};

// Per invocation: a function that loops on send() cannot flood the host.
constexpr size_t kMaxConnectionCalls = 10'000;
constexpr size_t kMaxConnectionSendBytes = 16u << 20;
// A connection id is far shorter; a longer one is no id the host gave.
constexpr size_t kMaxConnectionIdBytes = 64;
// RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of them the code.
constexpr size_t kMaxCloseReasonBytes = 123;

// Empty when `call` may go to the host; otherwise what is wrong with it: a close code
// other than 1000 or 3000..4999 (the codes an application may send, RFC 6455 §7.4), a
// reason past 123 bytes or not UTF-8, a text message that is not UTF-8, an id too long.
std::string connectionCallProblem(const ConnectionCall& call);

// A call relayed to the host of the cluster that holds the connection (docs/scale-out.md
// "Connections"), with the caller's app: "<op> <code> <app> <id>\n<data>". App names and ids
// hold no space or newline; the data is any bytes.
std::string encodeRelayedCall(std::string_view app, const ConnectionCall& call);
// False when `message` is not one encodeRelayedCall could have made.
bool decodeRelayedCall(std::string_view message, std::string& app, ConnectionCall& call);

}  // namespace gust
