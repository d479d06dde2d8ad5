#include "runtime/base/text.h"

#include <openssl/evp.h>

#include <cstdint>

namespace gust {

bool isValidUtf8(std::string_view bytes) {
  Utf8Validator validator;
  return validator.feed(bytes) && validator.complete();
}

bool Utf8Validator::feed(std::string_view bytes) {
  if (failed_) return false;
  for (char c : bytes) {
    auto byte = static_cast<uint8_t>(c);
    if (needed_ > 0) {
      if (byte < next_low_ || byte > next_high_) return !(failed_ = true);
      --needed_;
      next_low_ = 0x80;
      next_high_ = 0xBF;
      continue;
    }
    if (byte < 0x80) continue;
    next_low_ = 0x80;
    next_high_ = 0xBF;
    // RFC 3629 §4: the second byte's range after each lead is what rules out overlong
    // forms (E0, F0), surrogates (ED) and code points past U+10FFFF (F4).
    if (byte >= 0xC2 && byte <= 0xDF) {
      needed_ = 1;
    } else if (byte >= 0xE0 && byte <= 0xEF) {
      needed_ = 2;
      if (byte == 0xE0) next_low_ = 0xA0;
      if (byte == 0xED) next_high_ = 0x9F;
    } else if (byte >= 0xF0 && byte <= 0xF4) {
      needed_ = 3;
      if (byte == 0xF0) next_low_ = 0x90;
      if (byte == 0xF4) next_high_ = 0x8F;
    } else {
      return !(failed_ = true);  // a stray continuation byte, C0/C1 (overlong) or F5..FF
    }
  }
  return true;
}

std::string base64Encode(std::string_view bytes) {
  std::string out((bytes.size() + 2) / 3 * 4 + 1, '\0');  // EVP_EncodeBlock writes a NUL
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  // EVP_DecodeBlock skips leading and trailing whitespace, reads '=' anywhere as a zero
  // and reports the padding as decoded zero bytes: check the form here, and count the
  // padding off its answer.
  if (text.size() % 4 != 0) return std::nullopt;
  size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  for (char c : text.substr(0, text.size() - padding)) {
    bool alphabet = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!alphabet) return std::nullopt;
  }
  std::string out(text.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, kMaxShownBytes)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  if (text.size() > kMaxShownBytes) out += "...";
  return out;
}

std::string quote(std::string_view text) { return "\"" + printable(text) + "\""; }

}  // namespace gust
