#pragma once
// The opening handshake of a WebSocket, server side (RFC 6455 §4.2): whether an upgrade
// request is a valid WebSocket request, and the Sec-WebSocket-Accept answer to its key.

#include <string>
#include <string_view>
#include <variant>

#include "triggers/http/http_server.h"
#include "triggers/http/websocket.h"

namespace gust {

// Checks `request` against RFC 6455 §4.2.1: GET, HTTP/1.1, "Upgrade: websocket", a
// Connection field naming "upgrade", Sec-WebSocket-Version 13 and a key that is the base64
// of 16 bytes. On failure, the answer to give instead: 400 with a problem body, or 426 with
// "Sec-WebSocket-Version: 13" when only the version is wrong (§4.4).
std::variant<WebSocketHandshake, HttpResponse> checkWebSocketHandshake(const HttpRequest& request);

// The answer to a plain request for a path that only a WebSocket serves: 426 with
// "Upgrade: websocket" and `detail` saying how to connect.
HttpResponse upgradeRequired(std::string_view detail);

// base64(SHA-1(key + the RFC's GUID)), the Sec-WebSocket-Accept value for `key`.
std::string webSocketAccept(std::string_view key);

}  // namespace gust
