#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "triggers/http/websocket_codec.h"

namespace gust {
namespace {

// A client frame: masked with a fixed key, as RFC 6455 §5.3 requires of clients.
std::string clientFrame(uint8_t first, std::string_view payload, bool masked = true) {
  std::string out;
  out.push_back(static_cast<char>(first));
  uint8_t mask_bit = masked ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(mask_bit | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xFF));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((payload.size() >> shift) & 0xFF));
  }
  const char key[4] = {0x37, static_cast<char>(0xfa), 0x21, 0x3d};
  if (masked) out.append(key, 4);
  for (size_t i = 0; i < payload.size(); ++i) out.push_back(masked ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i]);
  return out;
}

std::string closePayload(uint16_t code, std::string_view reason) {
  std::string out{static_cast<char>(code >> 8), static_cast<char>(code & 0xFF)};
  out += reason;
  return out;
}

// Feeds `bytes` in pieces of `chunk` and collects the events up to the first error.
std::vector<WebSocketEvent> parse(std::string_view bytes, size_t chunk = std::string_view::npos,
                                  size_t max_frame = 1 << 20, size_t max_message = 1 << 20) {
  WebSocketFrameParser parser(max_frame, max_message);
  std::vector<WebSocketEvent> events;
  while (!bytes.empty()) {
    std::string_view piece = bytes.substr(0, chunk);
    bytes.remove_prefix(piece.size());
    for (;;) {
      WebSocketEvent event = parser.feed(piece);
      if (event.kind == WebSocketEvent::kNeedMore) break;
      events.push_back(std::move(event));
      if (events.back().kind == WebSocketEvent::kError) return events;
    }
  }
  return events;
}

uint16_t errorCode(std::string_view bytes, size_t max_frame = 1 << 20, size_t max_message = 1 << 20) {
  auto events = parse(bytes, std::string_view::npos, max_frame, max_message);
  return !events.empty() && events.back().kind == WebSocketEvent::kError ? events.back().code : 0;
}

const size_t kChunkings[] = {std::string_view::npos, 1, 3, 7};

TEST_CASE("masked text, binary and control frames come out whole, however the bytes are split") {
  std::string big(70000, 'x');  // a 64-bit length
  std::string bytes = clientFrame(0x81, "Hello") + clientFrame(0x82, std::string("\0\1\2", 3)) +
                      clientFrame(0x89, "ping!") + clientFrame(0x8A, "") + clientFrame(0x82, std::string(300, 'y')) +
                      clientFrame(0x81, big) + clientFrame(0x88, closePayload(1000, "bye"));
  for (size_t chunk : kChunkings) {
    auto events = parse(bytes, chunk);
    REQUIRE(events.size() == 7);
    CHECK(events[0].kind == WebSocketEvent::kMessage);
    CHECK(events[0].data == "Hello");
    CHECK_FALSE(events[0].binary);
    CHECK(events[1].binary);
    CHECK(events[1].data == std::string("\0\1\2", 3));
    CHECK(events[2].kind == WebSocketEvent::kPing);
    CHECK(events[2].data == "ping!");
    CHECK(events[3].kind == WebSocketEvent::kPong);
    CHECK(events[4].data.size() == 300);
    CHECK(events[5].data == big);
    CHECK(events[6].kind == WebSocketEvent::kClose);
    CHECK(events[6].code == 1000);
    CHECK(events[6].data == "bye");
  }
}

TEST_CASE("a fragmented message is reassembled, with a ping between its fragments") {
  std::string bytes = clientFrame(0x01, "Hel") + clientFrame(0x89, "p") + clientFrame(0x00, "lo ") +
                      clientFrame(0x80, "world");
  for (size_t chunk : kChunkings) {
    auto events = parse(bytes, chunk);
    REQUIRE(events.size() == 2);
    CHECK(events[0].kind == WebSocketEvent::kPing);
    CHECK(events[1].kind == WebSocketEvent::kMessage);
    CHECK(events[1].data == "Hello world");
  }
}

TEST_CASE("a text message split inside a UTF-8 sequence is valid") {
  std::string euro = "\xE2\x82\xAC";
  auto events = parse(clientFrame(0x01, euro.substr(0, 1)) + clientFrame(0x80, euro.substr(1)));
  REQUIRE(events.size() == 1);
  CHECK(events[0].data == euro);
}

TEST_CASE("protocol errors close with 1002") {
  CHECK(errorCode(clientFrame(0x81, "hi", false)) == 1002);                   // unmasked
  CHECK(errorCode(clientFrame(0xC1, "hi")) == 1002);                          // RSV1 without an extension
  CHECK(errorCode(clientFrame(0x83, "hi")) == 1002);                          // unknown opcode
  CHECK(errorCode(clientFrame(0x09, "hi")) == 1002);                          // fragmented ping
  CHECK(errorCode(clientFrame(0x89, std::string(126, 'p'))) == 1002);         // control frame too long
  CHECK(errorCode(clientFrame(0x80, "hi")) == 1002);                          // continuation of nothing
  CHECK(errorCode(clientFrame(0x01, "a") + clientFrame(0x81, "b")) == 1002);  // new message mid-message
  CHECK(errorCode(clientFrame(0x88, "x")) == 1002);                           // 1-byte close payload
  CHECK(errorCode(clientFrame(0x88, closePayload(1005, ""))) == 1002);        // a code never sent
  CHECK(errorCode(clientFrame(0x88, closePayload(999, ""))) == 1002);
  CHECK(errorCode(clientFrame(0x88, closePayload(2000, ""))) == 1002);
}

TEST_CASE("an unmasked frame is refused on its second byte, before its payload arrives") {
  WebSocketFrameParser parser(1 << 20, 1 << 20);
  std::string_view two("\x81\x05", 2);
  WebSocketEvent event = parser.feed(two);
  CHECK(event.kind == WebSocketEvent::kError);
  CHECK(event.code == 1002);
  CHECK(parser.failed());
}

TEST_CASE("text that is not UTF-8 closes with 1007, as soon as a byte cannot be valid") {
  CHECK(errorCode(clientFrame(0x81, "\xC0\xAF")) == 1007);       // overlong
  CHECK(errorCode(clientFrame(0x81, "\xED\xA0\x80")) == 1007);   // a surrogate
  CHECK(errorCode(clientFrame(0x81, "ok\xE2\x82")) == 1007);     // cut off at the end
  CHECK(errorCode(clientFrame(0x88, closePayload(1000, "\xFF"))) == 1007);
  // Fail fast: the first fragment is already invalid; the message never completes.
  CHECK(errorCode(clientFrame(0x01, "\xF5")) == 1007);
  // Binary is not checked.
  CHECK(errorCode(clientFrame(0x82, "\xFF")) == 0);
}

TEST_CASE("a frame or message past its limit closes with 1009 before its payload is read") {
  CHECK(errorCode(clientFrame(0x82, std::string(101, 'a')), 100, 1000) == 1009);
  CHECK(errorCode(clientFrame(0x02, std::string(60, 'a')) + clientFrame(0x80, std::string(60, 'a')), 100, 100) ==
        1009);
  // A 2^62-byte claim is refused on the header alone.
  std::string header = "\x82\xFF";
  header += std::string("\x40\0\0\0\0\0\0\0", 8);
  header += "abcd";
  CHECK(errorCode(header) == 1009);
}

TEST_CASE("a close frame without a payload reports 1005") {
  auto events = parse(clientFrame(0x88, ""));
  REQUIRE(events.size() == 1);
  CHECK(events[0].code == 1005);
}

TEST_CASE("server frames are unmasked with the shortest length form") {
  std::string out;
  appendWebSocketFrame(out, WebSocketOpcode::kText, "hi");
  CHECK(out == std::string("\x81\x02hi", 4));
  out.clear();
  appendWebSocketFrame(out, WebSocketOpcode::kBinary, std::string(200, 'b'));
  CHECK(out.substr(0, 4) == std::string("\x82\x7E\x00\xC8", 4));
  CHECK(out.size() == webSocketFrameSize(200));
  out.clear();
  appendWebSocketFrame(out, WebSocketOpcode::kBinary, std::string(70000, 'b'));
  CHECK(out.size() == webSocketFrameSize(70000));
  CHECK(static_cast<uint8_t>(out[1]) == 127);
}

TEST_CASE("a close reason is cut to fit a control frame without splitting a character") {
  std::string out;
  std::string reason;
  for (int i = 0; i < 60; ++i) reason += "\xC3\xA9";  // 120 bytes of é, then one more
  reason += "\xC3\xA9";
  appendWebSocketClose(out, 1000, reason);
  CHECK(out.size() == 2 + 2 + 122);  // 123 would cut the 62nd é in half
  out.clear();
  appendWebSocketClose(out, 1005, "ignored");
  CHECK(out == std::string("\x88\x00", 2));
}

}  // namespace
}  // namespace gust
