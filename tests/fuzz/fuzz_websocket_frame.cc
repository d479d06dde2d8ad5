// Feeds arbitrary bytes to WebSocketFrameParser in pieces of varying size and checks the
// invariants the server relies on: every feed makes progress or asks for more, errors are
// final and carry a code the host may send, and nothing that comes out passes the limits
// or breaks the rules of its kind (control payloads fit a frame, text is UTF-8).

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "runtime/base/text.h"
#include "triggers/http/websocket_codec.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  // The first bytes choose the chunking and small limits, so the limit paths are reached.
  uint32_t seed = static_cast<uint32_t>(data[0]) | (static_cast<uint32_t>(data[1]) << 8);
  size_t max_frame = (data[2] & 1) ? 1 + data[2] : size_t{1} << 20;
  size_t max_message = (data[2] & 2) ? 1 + data[2] * 2u : size_t{1} << 20;
  data += 3;
  size -= 3;

  gust::WebSocketFrameParser parser(max_frame, max_message);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  bool failed = false;
  while (!rest.empty()) {
    seed = seed * 1103515245u + 12345u;
    std::string_view piece = rest.substr(0, 1 + (seed >> 16) % 64);
    rest.remove_prefix(piece.size());
    for (;;) {
      size_t before = piece.size();
      gust::WebSocketEvent event = parser.feed(piece);
      if (event.kind == gust::WebSocketEvent::kError) {
        check(event.code == 1002 || event.code == 1007 || event.code == 1009);
        check(parser.failed());
        failed = true;
        break;
      }
      check(!failed);
      if (event.kind == gust::WebSocketEvent::kNeedMore) {
        check(piece.empty());
        break;
      }
      check(piece.size() <= before);
      if (event.kind == gust::WebSocketEvent::kMessage) {
        check(event.data.size() <= max_message);
        check(event.binary || gust::isValidUtf8(event.data));
      } else if (event.kind == gust::WebSocketEvent::kClose) {
        check(event.code == 1005 || gust::isValidCloseCode(event.code));
        check(gust::isValidUtf8(event.data));
      } else {
        check(event.data.size() <= 125);  // ping, pong
      }
    }
    if (failed) {
      // An error is final: more bytes get the same error, never an event.
      std::string_view more = rest;
      check(parser.feed(more).kind == gust::WebSocketEvent::kError);
      break;
    }
  }
  return 0;
}
