#include "triggers/http/websocket_codec.h"

#include <algorithm>

namespace gust {
namespace {

constexpr uint8_t kFin = 0x80;
constexpr uint8_t kRsvBits = 0x70;
constexpr uint8_t kOpcodeBits = 0x0F;
constexpr uint8_t kMaskBit = 0x80;
constexpr uint8_t kContinuation = 0x0;
constexpr size_t kMaxControlPayload = 125;  // §5.5

bool isControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

bool isKnownOpcode(uint8_t opcode) {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA);
}

// The header's length once its second byte is known: 2, the extended length, the mask key.
size_t headerLength(uint8_t second) {
  uint8_t len7 = second & 0x7F;
  size_t extended = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
  return 2 + extended + 4;
}

// The rules that the first two bytes already decide, checked before the rest arrives.
std::string_view firstBytesProblem(uint8_t first, uint8_t second, bool in_message) {
  uint8_t opcode = first & kOpcodeBits;
  if ((first & kRsvBits) != 0) return "reserved bits set without an extension";
  if (!isKnownOpcode(opcode)) return "unknown opcode";
  if ((second & kMaskBit) == 0) return "client frame not masked";
  if (isControl(opcode)) {
    if ((first & kFin) == 0) return "fragmented control frame";
    if ((second & 0x7F) > kMaxControlPayload) return "control frame longer than 125 bytes";
  } else if (opcode == kContinuation && !in_message) {
    return "continuation frame without a message to continue";
  } else if (opcode != kContinuation && in_message) {
    return "new message before the previous one ended";
  }
  return {};
}

}  // namespace

bool isValidCloseCode(uint16_t code) {
  // 1004 is reserved, 1005 and 1006 are never sent on the wire, 1015 belongs to TLS.
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

WebSocketEvent WebSocketFrameParser::fail(uint16_t code, std::string_view reason) {
  if (error_code_ == 0) {
    error_code_ = code;
    error_reason_ = reason;
    message_ = std::string();
    control_ = std::string();
  }
  WebSocketEvent event;
  event.kind = WebSocketEvent::kError;
  event.code = error_code_;
  event.reason = error_reason_;
  return event;
}

bool WebSocketFrameParser::startFrame() {
  fin_ = (header_[0] & kFin) != 0;
  opcode_ = header_[0] & kOpcodeBits;
  uint8_t len7 = header_[1] & 0x7F;
  uint64_t length = len7;
  size_t at = 2;
  if (len7 == 126) {
    length = (uint64_t{header_[2]} << 8) | header_[3];
    at = 4;
  } else if (len7 == 127) {
    length = 0;
    for (size_t i = 2; i < 10; ++i) length = (length << 8) | header_[i];
    at = 10;
    if ((length >> 63) != 0) {
      fail(ws_close::kProtocolError, "frame length with its most significant bit set");
      return false;
    }
  }
  std::copy(header_.begin() + static_cast<ptrdiff_t>(at), header_.begin() + static_cast<ptrdiff_t>(at) + 4,
            mask_.begin());
  mask_offset_ = 0;
  payload_left_ = length;
  if (length > max_frame_bytes_) {
    fail(ws_close::kTooBig, "frame larger than the limit");
    return false;
  }
  if (isControl(opcode_)) return true;  // its size was checked with the first two bytes
  if (opcode_ != kContinuation) {
    in_message_ = true;
    message_binary_ = opcode_ == static_cast<uint8_t>(WebSocketOpcode::kBinary);
    utf8_.reset();
  }
  if (length > max_message_bytes_ - std::min(max_message_bytes_, message_.size())) {
    fail(ws_close::kTooBig, "message larger than the limit");
    return false;
  }
  return true;
}

WebSocketEvent WebSocketFrameParser::feed(std::string_view& data) {
  if (error_code_ != 0) return fail(error_code_, error_reason_);
  while (!data.empty()) {
    if (stage_ == Stage::kHeader) {
      header_[header_size_++] = static_cast<uint8_t>(data.front());
      data.remove_prefix(1);
      if (header_size_ == 2) {
        std::string_view problem = firstBytesProblem(header_[0], header_[1], in_message_);
        if (!problem.empty()) return fail(ws_close::kProtocolError, problem);
      }
      if (header_size_ < 2 || header_size_ < headerLength(header_[1])) continue;
      header_size_ = 0;
      if (!startFrame()) return fail(error_code_, error_reason_);
      stage_ = Stage::kPayload;
    } else {
      size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), payload_left_));
      std::string& target = isControl(opcode_) ? control_ : message_;
      size_t old = target.size();
      target.append(data.data(), n);
      for (size_t i = 0; i < n; ++i) target[old + i] ^= static_cast<char>(mask_[(mask_offset_ + i) & 3]);
      mask_offset_ = static_cast<uint8_t>((mask_offset_ + n) & 3);
      data.remove_prefix(n);
      payload_left_ -= n;
      if (!isControl(opcode_) && !message_binary_ &&
          !utf8_.feed(std::string_view(message_).substr(old))) {
        return fail(ws_close::kInvalidPayload, "text message that is not UTF-8");
      }
    }
    if (stage_ == Stage::kPayload && payload_left_ == 0) {
      stage_ = Stage::kHeader;
      WebSocketEvent event = finishFrame();
      if (event.kind != WebSocketEvent::kNeedMore) return event;
    }
  }
  return {};
}

WebSocketEvent WebSocketFrameParser::finishFrame() {
  WebSocketEvent event;
  if (opcode_ == static_cast<uint8_t>(WebSocketOpcode::kClose)) {
    std::string payload = std::move(control_);
    control_ = std::string();
    event.kind = WebSocketEvent::kClose;
    if (payload.empty()) {
      event.code = ws_close::kNoStatus;
      return event;
    }
    if (payload.size() == 1) return fail(ws_close::kProtocolError, "close frame with a 1-byte payload");
    event.code = static_cast<uint16_t>((static_cast<uint8_t>(payload[0]) << 8) | static_cast<uint8_t>(payload[1]));
    if (!isValidCloseCode(event.code)) return fail(ws_close::kProtocolError, "invalid close code");
    event.data = payload.substr(2);
    if (!isValidUtf8(event.data)) return fail(ws_close::kInvalidPayload, "close reason that is not UTF-8");
    return event;
  }
  if (isControl(opcode_)) {
    event.kind = opcode_ == static_cast<uint8_t>(WebSocketOpcode::kPing) ? WebSocketEvent::kPing
                                                                        : WebSocketEvent::kPong;
    event.data = std::move(control_);
    control_ = std::string();
    return event;
  }
  if (!fin_) return event;
  if (!message_binary_ && !utf8_.complete()) {
    return fail(ws_close::kInvalidPayload, "text message that is not UTF-8");
  }
  in_message_ = false;
  event.kind = WebSocketEvent::kMessage;
  event.binary = message_binary_;
  event.data = std::move(message_);
  message_ = std::string();  // an idle connection keeps no capacity
  return event;
}

size_t webSocketFrameSize(size_t size) { return size + (size < 126 ? 2 : size <= 0xFFFF ? 4 : 10); }

void appendWebSocketFrame(std::string& out, WebSocketOpcode opcode, std::string_view payload) {
  out.push_back(static_cast<char>(kFin | static_cast<uint8_t>(opcode)));
  size_t size = payload.size();
  if (size < 126) {
    out.push_back(static_cast<char>(size));
  } else if (size <= 0xFFFF) {
    out.push_back(static_cast<char>(126));
    out.push_back(static_cast<char>(size >> 8));
    out.push_back(static_cast<char>(size & 0xFF));
  } else {
    out.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((uint64_t{size} >> shift) & 0xFF));
  }
  out.append(payload);
}

void appendWebSocketClose(std::string& out, uint16_t code, std::string_view reason) {
  if (code == ws_close::kNoStatus || code == ws_close::kAbnormal) {
    appendWebSocketFrame(out, WebSocketOpcode::kClose, {});
    return;
  }
  size_t keep = std::min<size_t>(reason.size(), kMaxControlPayload - 2);
  // Never cut a UTF-8 sequence: back off to the start of the one at the cut.
  if (keep < reason.size()) {
    while (keep > 0 && (static_cast<uint8_t>(reason[keep]) & 0xC0) == 0x80) --keep;
  }
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason.substr(0, keep));
  appendWebSocketFrame(out, WebSocketOpcode::kClose, payload);
}

}  // namespace gust
