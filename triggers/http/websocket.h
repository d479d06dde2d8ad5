#pragma once
// What a handler sees of a WebSocket the HttpServer holds (RFC 6455): the limits it runs
// under, the handler that receives its messages, and a weak handle to send and close.
//
// Contract:
//  - Thread: everything here belongs to the loop's thread of the HttpServer that made it.
//  - Lifetime: the connection owns its WebSocketHandler and destroys it right after
//    onClose() returns. A WebSocket handle is weak: it may be copied and kept anywhere, and
//    every call stays safe after the connection is gone (send() answers false, open() false).
//  - The protocol itself (pings, pongs, the close handshake, fragmentation, limits) is the
//    server's: a handler sees whole messages and one onClose().

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gust {

// Close codes the host sends (RFC 6455 §7.4.1).
namespace ws_close {
inline constexpr uint16_t kNormal = 1000;
inline constexpr uint16_t kGoingAway = 1001;        // the host drains, or the peer went quiet
inline constexpr uint16_t kProtocolError = 1002;
inline constexpr uint16_t kUnsupportedData = 1003;
inline constexpr uint16_t kNoStatus = 1005;         // received a close frame without a code
inline constexpr uint16_t kAbnormal = 1006;         // no close frame at all (never sent)
inline constexpr uint16_t kInvalidPayload = 1007;   // text that is not UTF-8
inline constexpr uint16_t kPolicyViolation = 1008;  // the peer does not read what it is sent
inline constexpr uint16_t kTooBig = 1009;
inline constexpr uint16_t kInternalError = 1011;
inline constexpr uint16_t kServiceRestart = 1012;  // reconnect: what the client was served changed
}  // namespace ws_close

struct WebSocketLimits {
  size_t max_message_bytes = 1 << 20;   // a reassembled message past it: close 1009
  size_t max_frame_bytes = 1 << 20;     // one frame's payload past it: close 1009
  size_t max_buffered_bytes = 1 << 20;  // unsent bytes queued to the peer past it: close 1008
  uint64_t idle_timeout_ms = 300'000;   // nothing received (pongs count): close 1001
  // The host pings a peer that has sent nothing for this long, so that idleness means a
  // dead peer, not a quiet one.
  uint64_t ping_interval_ms = 30'000;
};

// What the client asked for in its upgrade request (see websocket_handshake.h).
struct WebSocketHandshake {
  std::string key;                     // Sec-WebSocket-Key, checked: base64 of 16 bytes
  std::vector<std::string> protocols;  // Sec-WebSocket-Protocol, in the client's order
};

// How a handler accepts an upgrade (HttpResponder::acceptWebSocket).
struct WebSocketAccept {
  std::string protocol;                                      // one of the client's, or empty
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields on the 101
  WebSocketLimits limits;
};

// One per connection, owned by the connection.
class WebSocketHandler {
 public:
  virtual ~WebSocketHandler() = default;
  // A whole message; text has been checked to be UTF-8.
  virtual void onMessage(std::string&& data, bool binary) = 0;
  // The connection ended (close handshake done, the peer vanished, a limit, the host
  // closing). `code` is the close code received or sent; 1006 when there was none. Called
  // once; the handler is destroyed after it returns, and may not be reached by send() from
  // inside it (the handle is no longer open).
  virtual void onClose(uint16_t code, std::string_view reason) = 0;
};

// Shared by a WebSocket connection and its handles; the connection clears `conn` when it
// stops being open. Internal to the server.
struct WebSocketLink;

// A weak handle to an open WebSocket.
class WebSocket {
 public:
  WebSocket() = default;  // never open
  bool open() const;
  // Queues one message. False when closed or closing, or when bytes the peer has not taken
  // yet wait and the message would take them past max_buffered_bytes: the connection is then
  // closed with 1008, since a consumer that does not read is dropped rather than buffered
  // for. A message into an empty queue always goes, however large.
  bool send(std::string_view data, bool binary = false);
  // Starts the close handshake (a no-op once closing). `reason` is cut to fit a control frame.
  void close(uint16_t code = ws_close::kNormal, std::string_view reason = {});
  // Bytes queued to the peer and not yet taken by the kernel; 0 once closed.
  size_t bufferedBytes() const;
  // `callback` runs each time bytes that had to wait for the peer have all been taken by
  // the kernel (bufferedBytes() is 0 again), while the WebSocket is open: a writer that
  // paused for a slow peer goes on then. A later call replaces it.
  void onDrained(std::function<void()> callback);
  const std::string& protocol() const;     // the subprotocol accepted, or empty
  const std::string& peerAddress() const;  // "127.0.0.1"; empty over a Unix socket

 private:
  friend class HttpConnection;
  explicit WebSocket(std::shared_ptr<WebSocketLink> link) : link_(std::move(link)) {}
  std::shared_ptr<WebSocketLink> link_;
};

}  // namespace gust
