#include <doctest/doctest.h>

#include <string>
#include <variant>

#include "triggers/http/websocket_handshake.h"

namespace gust {
namespace {

HttpRequest upgradeRequest() {
  HttpRequest request;
  request.method = "GET";
  request.path = "/chat";
  request.upgrade = true;
  request.headers = {{"host", "server.example.com"},
                     {"upgrade", "websocket"},
                     {"connection", "keep-alive, Upgrade"},
                     {"sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="},
                     {"sec-websocket-version", "13"},
                     {"sec-websocket-protocol", "chat, superchat"}};
  return request;
}

void setHeader(HttpRequest& request, const std::string& name, const std::string& value) {
  for (auto& [field, v] : request.headers) {
    if (field == name) v = value;
  }
}

int refusalStatus(const HttpRequest& request) {
  auto checked = checkWebSocketHandshake(request);
  const auto* refusal = std::get_if<HttpResponse>(&checked);
  return refusal == nullptr ? 0 : refusal->status;
}

TEST_CASE("the accept value of the RFC 6455 example key is the RFC's") {
  CHECK(webSocketAccept("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a valid handshake gives its key and the subprotocols in the client's order") {
  auto checked = checkWebSocketHandshake(upgradeRequest());
  const auto* handshake = std::get_if<WebSocketHandshake>(&checked);
  REQUIRE(handshake != nullptr);
  CHECK(handshake->key == "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(handshake->protocols == std::vector<std::string>{"chat", "superchat"});
}

TEST_CASE("another WebSocket version is answered 426 naming version 13") {
  HttpRequest request = upgradeRequest();
  setHeader(request, "sec-websocket-version", "8");
  auto checked = checkWebSocketHandshake(request);
  const auto* refusal = std::get_if<HttpResponse>(&checked);
  REQUIRE(refusal != nullptr);
  CHECK(refusal->status == 426);
  bool names_13 = false;
  for (const auto& [name, value] : refusal->headers) names_13 |= name == "Sec-WebSocket-Version" && value == "13";
  CHECK(names_13);
}

TEST_CASE("a bad key, method, Upgrade or Connection is answered 400") {
  HttpRequest short_key = upgradeRequest();
  setHeader(short_key, "sec-websocket-key", "c2hvcnQ=");  // "short": not 16 bytes
  CHECK(refusalStatus(short_key) == 400);
  HttpRequest not_base64 = upgradeRequest();
  setHeader(not_base64, "sec-websocket-key", "not base64 at all!!!!!==");
  CHECK(refusalStatus(not_base64) == 400);
  HttpRequest post = upgradeRequest();
  post.method = "POST";
  CHECK(refusalStatus(post) == 400);
  HttpRequest h2c = upgradeRequest();
  setHeader(h2c, "upgrade", "h2c");
  CHECK(refusalStatus(h2c) == 400);
  HttpRequest no_connection = upgradeRequest();
  setHeader(no_connection, "connection", "keep-alive");
  CHECK(refusalStatus(no_connection) == 400);
  HttpRequest http10 = upgradeRequest();
  http10.http_minor = 0;
  CHECK(refusalStatus(http10) == 400);
  HttpRequest bad_protocol = upgradeRequest();
  setHeader(bad_protocol, "sec-websocket-protocol", "chat, a b");
  CHECK(refusalStatus(bad_protocol) == 400);
}

}  // namespace
}  // namespace gust
