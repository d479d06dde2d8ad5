// The rules about bytes that become text: UTF-8 validity at its edges, base64 against
// RFC 4648's test vectors, and how user text is quoted into a message.
#include "runtime/base/text.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>

namespace gust {
namespace {

using namespace std::string_literals;

TEST_CASE("UTF-8: every sequence length up to its last code point is accepted") {
  CHECK(isValidUtf8(""));
  CHECK(isValidUtf8("plain ascii \x7f"));
  CHECK(isValidUtf8("a\0b"s));                 // NUL is a code point like any other
  CHECK(isValidUtf8("\xc2\x80"));              // U+0080, the first of two bytes
  CHECK(isValidUtf8("\xdf\xbf"));              // U+07FF, the last of two bytes
  CHECK(isValidUtf8("\xe0\xa0\x80"));          // U+0800
  CHECK(isValidUtf8("\xed\x9f\xbf"));          // U+D7FF, just below the surrogates
  CHECK(isValidUtf8("\xee\x80\x80"));          // U+E000, just above them
  CHECK(isValidUtf8("\xef\xbf\xbf"));          // U+FFFF
  CHECK(isValidUtf8("\xf0\x90\x80\x80"));      // U+10000
  CHECK(isValidUtf8("\xf4\x8f\xbf\xbf"));      // U+10FFFF, the last code point
  CHECK(isValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
}

TEST_CASE("UTF-8: overlong forms are refused at every length") {
  CHECK_FALSE(isValidUtf8("\xc0\xaf"));              // '/' in two bytes
  CHECK_FALSE(isValidUtf8("\xc1\xbf"));              // U+007F in two bytes
  CHECK_FALSE(isValidUtf8("\xe0\x80\xaf"));          // '/' in three bytes
  CHECK_FALSE(isValidUtf8("\xe0\x9f\xbf"));          // U+07FF in three bytes
  CHECK_FALSE(isValidUtf8("\xf0\x80\x80\xaf"));      // '/' in four bytes
  CHECK_FALSE(isValidUtf8("\xf0\x8f\xbf\xbf"));      // U+FFFF in four bytes
  CHECK_FALSE(isValidUtf8("\xc0\x80"));              // the "modified UTF-8" NUL
}

TEST_CASE("UTF-8: surrogates and code points past U+10FFFF are refused") {
  CHECK_FALSE(isValidUtf8("\xed\xa0\x80"));          // U+D800
  CHECK_FALSE(isValidUtf8("\xed\xbf\xbf"));          // U+DFFF
  CHECK_FALSE(isValidUtf8("\xed\xa0\xbd\xed\xb8\x80"));  // a CESU-8 pair
  CHECK_FALSE(isValidUtf8("\xf4\x90\x80\x80"));      // U+110000
  CHECK_FALSE(isValidUtf8("\xf7\xbf\xbf\xbf"));      // U+1FFFFF
  CHECK_FALSE(isValidUtf8("\xf8\x88\x80\x80\x80"));  // a five-byte form
  CHECK_FALSE(isValidUtf8("\xff"));
  CHECK_FALSE(isValidUtf8("\xfe"));
}

TEST_CASE("UTF-8: truncated sequences and stray continuation bytes are refused") {
  CHECK_FALSE(isValidUtf8("\xc3"));                  // cut after the lead byte
  CHECK_FALSE(isValidUtf8("\xe2\x82"));              // cut one short
  CHECK_FALSE(isValidUtf8("\xf0\x9f\x98"));          // cut one short
  CHECK_FALSE(isValidUtf8("abc\xf0\x9f"));           // cut at the end of longer text
  CHECK_FALSE(isValidUtf8("\xe2\x82" "A"));          // cut by the next character
  CHECK_FALSE(isValidUtf8("\x80"));                  // a continuation without its lead
  CHECK_FALSE(isValidUtf8("\xc3\xa9\xa9"));          // one continuation too many
}

// RFC 4648 section 10, and bytes that use the last two characters of the alphabet.
const std::pair<std::string, std::string> kBase64Vectors[] = {
    {"", ""},           {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}, {"\xff\x00\xfe"s, "/wD+"},
};

TEST_CASE("base64 encodes RFC 4648's test vectors") {
  for (const auto& [bytes, text] : kBase64Vectors) CHECK(base64Encode(bytes) == text);
  // Long input stays on one line (no line breaks every 64 characters, as PEM has).
  CHECK(base64Encode(std::string(300, 'x')).find('\n') == std::string::npos);
  CHECK(base64Encode(std::string(300, 'x')).size() == 400);
}

TEST_CASE("base64 decodes RFC 4648's test vectors, padding not counted as bytes") {
  for (const auto& [bytes, text] : kBase64Vectors) CHECK(base64Decode(text) == bytes);
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  CHECK(base64Decode(base64Encode(every_byte)) == every_byte);
}

TEST_CASE("base64 refuses what is not padded base64 in the standard alphabet") {
  CHECK_FALSE(base64Decode("Zg"));          // unpadded
  CHECK_FALSE(base64Decode("Zm9"));
  CHECK_FALSE(base64Decode("Z==="));        // too much padding
  CHECK_FALSE(base64Decode("Zg=="s + "Zg=="));  // padding inside
  CHECK_FALSE(base64Decode("Z=g="));
  CHECK_FALSE(base64Decode("Zm9v\n"));      // whitespace
  CHECK_FALSE(base64Decode(" Zm9v"));
  CHECK_FALSE(base64Decode("Zm9-"));        // the URL-safe alphabet
  CHECK_FALSE(base64Decode("Zm9_"));
}

TEST_CASE("quote shows user text safely: printable ASCII as is, escapes, every other byte as \\xNN") {
  CHECK(quote("Europe/Berlin") == "\"Europe/Berlin\"");
  CHECK(quote("") == "\"\"");
  CHECK(quote("say \"hi\" \\o/") == "\"say \\\"hi\\\" \\\\o/\"");
  CHECK(quote("a\nb\x1b[31m\x7f") == "\"a\\x0ab\\x1b[31m\\x7f\"");
  CHECK(quote("caf\xc3\xa9") == "\"caf\\xc3\\xa9\"");
  CHECK(quote("a\0b"s) == "\"a\\x00b\"");
  CHECK(printable("a\"b\x01") == "a\\\"b\\x01");
}

TEST_CASE("quote cuts text longer than kMaxShownBytes and says so") {
  std::string at_limit(kMaxShownBytes, 'x');
  CHECK(quote(at_limit) == "\"" + at_limit + "\"");
  CHECK(quote(at_limit + "yz") == "\"" + at_limit + "...\"");
  // The cut counts input bytes, so an escaped byte near the end is not split.
  std::string escaped_last(kMaxShownBytes - 1, 'x');
  CHECK(printable(escaped_last + "\x01" + "tail") == escaped_last + "\\x01...");
}

}  // namespace
}  // namespace gust
