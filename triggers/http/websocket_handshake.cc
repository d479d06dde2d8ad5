#include "triggers/http/websocket_handshake.h"

#include <openssl/evp.h>

#include <optional>

#include "runtime/base/text.h"
#include "triggers/http/http_text.h"

namespace gust {
namespace {

using http::equalsIgnoreCase;

// RFC 6455 §1.3: appended to the client's key before hashing.
constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls `each` with every element of the comma-separated lists in the fields named `name`
// (a field may be repeated, RFC 9110 §5.3), trimmed, empty ones skipped.
template <typename Each>
void forEachListElement(const HttpRequest& request, std::string_view name, Each each) {
  for (const auto& [field, value] : request.headers) {
    if (field != name) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view element = trimOws(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (!element.empty()) each(element);
    }
  }
}

bool listHas(const HttpRequest& request, std::string_view name, std::string_view token) {
  bool found = false;
  forEachListElement(request, name, [&](std::string_view element) {
    if (equalsIgnoreCase(element, token)) found = true;
  });
  return found;
}

HttpResponse badHandshake(std::string_view detail) {
  return problemResponse(400, "Bad Request", std::string("not a valid WebSocket handshake: ") + std::string(detail));
}

}  // namespace

HttpResponse upgradeRequired(std::string_view detail) {
  HttpResponse r = problemResponse(426, "Upgrade Required", detail);
  r.headers.emplace_back("Upgrade", "websocket");
  return r;
}

std::variant<WebSocketHandshake, HttpResponse> checkWebSocketHandshake(const HttpRequest& request) {
  if (request.method != "GET") return badHandshake("the method must be GET");
  if (request.http_major != 1 || request.http_minor < 1) return badHandshake("HTTP/1.1 is required");
  if (!listHas(request, "upgrade", "websocket")) return badHandshake("Upgrade must be websocket");
  if (!listHas(request, "connection", "upgrade")) return badHandshake("Connection must name upgrade");
  std::string_view version = request.header("sec-websocket-version");
  if (version != "13") {
    // §4.4: say which version this server speaks, so the client can retry with it.
    HttpResponse answer = problemResponse(426, "Upgrade Required", "Sec-WebSocket-Version must be 13");
    answer.headers.emplace_back("Sec-WebSocket-Version", "13");
    return answer;
  }
  std::string_view key = request.header("sec-websocket-key");
  std::optional<std::string> nonce = base64Decode(key);
  if (!nonce || nonce->size() != 16) {
    return badHandshake("Sec-WebSocket-Key must be the base64 of 16 bytes");
  }
  WebSocketHandshake handshake;
  handshake.key = std::string(key);
  bool bad_protocol = false;
  forEachListElement(request, "sec-websocket-protocol", [&](std::string_view element) {
    if (!http::isToken(element)) bad_protocol = true;
    handshake.protocols.emplace_back(element);
  });
  if (bad_protocol) return badHandshake("Sec-WebSocket-Protocol must list tokens");
  return handshake;
}

std::string webSocketAccept(std::string_view key) {
  std::string input;
  input.reserve(key.size() + kAcceptGuid.size());
  input.append(key);
  input.append(kAcceptGuid);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
  return base64Encode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

}  // namespace gust
