#pragma once
// Rules about bytes that become text: whether bytes are UTF-8 (what JSON can carry), base64
// for those that are not, and how user text is shown inside a message. Each rule lives here
// only, so that every caller answers alike.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gust {

// True when `bytes` is well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing past U+10FFFF, no truncated or stray sequences.
bool isValidUtf8(std::string_view bytes);

// The same rule for text that arrives in pieces (a WebSocket message in fragments): each
// piece is checked as it comes, and a byte that no well-formed text can hold is refused at
// once, not when the text ends (RFC 6455 §8.1: fail fast on invalid text).
class Utf8Validator {
 public:
  // False once the bytes so far cannot begin well-formed UTF-8; stays false until reset().
  bool feed(std::string_view bytes);
  // True when the bytes so far are well-formed and no sequence is cut off at their end.
  bool complete() const { return !failed_ && needed_ == 0; }
  void reset() { *this = Utf8Validator(); }

 private:
  uint8_t needed_ = 0;     // continuation bytes still expected in the current sequence
  uint8_t next_low_ = 0;   // the range the next continuation byte must fall in: narrower
  uint8_t next_high_ = 0;  // than 80..BF right after some leads (no overlong, surrogate, >U+10FFFF)
  bool failed_ = false;
};

// RFC 4648 base64 with padding, in the standard alphabet.
std::string base64Encode(std::string_view bytes);
// The bytes `text` encodes; nullopt unless it is padded base64 in the standard alphabet,
// without whitespace.
std::optional<std::string> base64Decode(std::string_view text);

// At most this many bytes of user text are shown in a message; a longer text ends in "...".
inline constexpr size_t kMaxShownBytes = 64;

// `text` made safe to show in a message (a log line, a terminal, a JSON body): printable
// ASCII as is, `"` and `\` escaped with a backslash, every other byte as \xNN, cut at
// kMaxShownBytes. Hostile input can then neither forge a log line nor send a terminal escape.
std::string printable(std::string_view text);
// printable(text) in double quotes: how a message names the value it refuses.
std::string quote(std::string_view text);

}  // namespace gust
