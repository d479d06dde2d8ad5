#pragma once
// WebSocket framing, server side (RFC 6455 §5): an incremental parser of the client's
// frames and an encoder of the server's. Bytes in, events out: no socket, no loop.
//
// The parser keeps no copy of its input: a frame's header (at most 14 bytes) is gathered
// in a fixed array, payload bytes are unmasked straight into the message being assembled,
// so an idle connection's parser holds no buffer. After an error the parser refuses all
// further input: the connection must send a close frame with the error's code and stop.
//
// Owning thread: whichever thread feeds it; it is not shared.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/base/text.h"
#include "triggers/http/websocket.h"

namespace gust {

struct WebSocketEvent {
  enum Kind : uint8_t {
    kNeedMore,  // every byte was consumed; feed more
    kMessage,   // a whole data message in `data` (text checked as UTF-8 unless `binary`)
    kPing,      // `data`: the ping's payload, to be echoed in a pong
    kPong,
    kClose,     // the peer's close frame: `code` (1005 when it carried none), `data` the reason
    kError,     // the peer broke the protocol or a limit: close with `code`, `reason`
  };
  Kind kind = kNeedMore;
  bool binary = false;
  uint16_t code = 0;
  std::string data;
  std::string_view reason;  // kError: a short static description
};

class WebSocketFrameParser {
 public:
  WebSocketFrameParser(size_t max_frame_bytes, size_t max_message_bytes)
      : max_frame_bytes_(max_frame_bytes), max_message_bytes_(max_message_bytes) {}

  // Consumes bytes from the front of `data` up to the next event and advances `data` past
  // them. Call again with the rest until it returns kNeedMore (then `data` is empty).
  WebSocketEvent feed(std::string_view& data);

  bool failed() const { return error_code_ != 0; }
  // True while a fragmented message or a frame is partly received.
  bool midMessage() const { return stage_ != Stage::kHeader || header_size_ != 0 || in_message_; }

 private:
  enum class Stage : uint8_t { kHeader, kPayload };

  WebSocketEvent fail(uint16_t code, std::string_view reason);
  // Checks the header gathered in header_; false with the error recorded.
  bool startFrame();
  // The frame whose payload is complete, as an event (kNeedMore for a non-final fragment).
  WebSocketEvent finishFrame();

  size_t max_frame_bytes_;
  size_t max_message_bytes_;
  Stage stage_ = Stage::kHeader;
  std::array<uint8_t, 14> header_{};
  uint8_t header_size_ = 0;  // bytes of header_ received
  uint8_t opcode_ = 0;       // the current frame's
  bool fin_ = false;
  std::array<uint8_t, 4> mask_{};
  uint64_t payload_left_ = 0;
  uint8_t mask_offset_ = 0;  // payload bytes unmasked so far, mod 4

  // The data message being assembled across fragments.
  bool in_message_ = false;
  bool message_binary_ = false;
  std::string message_;
  Utf8Validator utf8_;
  std::string control_;  // a control frame's payload (at most 125 bytes)

  uint16_t error_code_ = 0;
  std::string_view error_reason_;
};

// Server frames are never masked (§5.1). Each appends one final frame to `out`.
enum class WebSocketOpcode : uint8_t { kText = 0x1, kBinary = 0x2, kClose = 0x8, kPing = 0x9, kPong = 0xA };
void appendWebSocketFrame(std::string& out, WebSocketOpcode opcode, std::string_view payload);
// A close frame with `code` and as much of `reason` as fits in 123 bytes without cutting a
// UTF-8 sequence; no payload at all for 1005 (§7.1.5: that code is never sent).
void appendWebSocketClose(std::string& out, uint16_t code, std::string_view reason);
// The bytes appendWebSocketFrame adds for a payload of `size` bytes.
size_t webSocketFrameSize(size_t size);

// A close code a peer may send (§7.4): 1000-1003, 1007-1014 and 3000-4999.
bool isValidCloseCode(uint16_t code);

}  // namespace gust
