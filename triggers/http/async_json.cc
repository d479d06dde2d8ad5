#include "triggers/http/async_json.h"

#include "runtime/base/iso8601.h"

namespace gust {

bool isValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t extra = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;  // truncated sequence
    for (size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[extra] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string base64Encode(std::string_view bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t n = (uint32_t(uint8_t(bytes[i])) << 16) | (uint32_t(uint8_t(bytes[i + 1])) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(n >> shift) & 63];
  }
  if (i < bytes.size()) {
    uint32_t n = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) n |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(n >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

nlohmann::json asyncInvocationJson(const AsyncInvocation& a) {
  nlohmann::json out = {{"id", a.id},
                        {"app", a.app},
                        {"function", a.function},
                        {"status", asyncStatusName(a.status)},
                        {"attempts", a.attempts},
                        {"created_at", formatIso8601(a.created_at, nullptr, Iso8601Precision::kMillis)},
                        {"updated_at", formatIso8601(a.updated_at, nullptr, Iso8601Precision::kMillis)},
                        {"location", invocationLocation(a.id)}};
  if (a.response) {
    nlohmann::json headers = nlohmann::json::array();
    for (const auto& [name, value] : a.response->headers) {
      // Header values a function set are checked for CR/LF/NUL, not for UTF-8.
      headers.push_back({name, isValidUtf8(value) ? value : base64Encode(value)});
    }
    nlohmann::json response = {{"status", a.response->status}, {"headers", headers}};
    if (isValidUtf8(a.response->body)) {
      response["body"] = a.response->body;
    } else {
      response["body_base64"] = base64Encode(a.response->body);
    }
    out["response"] = std::move(response);
  }
  if (!a.error.empty()) out["error"] = isValidUtf8(a.error) ? a.error : base64Encode(a.error);
  return out;
}

}  // namespace gust
