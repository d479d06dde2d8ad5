#include "runtime/graphql/lexer.h"

#include <algorithm>
#include <cstdio>

namespace gust::graphql {
namespace {

bool isDigit(int c) { return c >= '0' && c <= '9'; }
bool isNameStart(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isNameContinue(int c) { return isNameStart(c) || isDigit(c); }

int hexValue(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isScalarValue(uint32_t c) { return c <= 0xD7FF || (c >= 0xE000 && c <= 0x10FFFF); }

// The spec's BlockStringValue(): drop the common indentation of all lines but the first,
// then the blank lines at either end.
std::string blockStringValue(const std::vector<std::string>& lines) {
  size_t common = std::string::npos;
  std::optional<size_t> first;
  size_t last = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const auto& line = lines[i];
    size_t indent = 0;
    while (indent < line.size() && (line[indent] == ' ' || line[indent] == '\t')) ++indent;
    if (indent == line.size()) continue;
    if (!first) first = i;
    last = i;
    if (i != 0 && indent < common) common = indent;
  }
  if (!first) return {};
  std::string out;
  for (size_t i = *first; i <= last; ++i) {
    if (i != *first) out += '\n';
    if (i == 0 || common == std::string::npos) out += lines[i];
    else out += lines[i].substr(std::min(common, lines[i].size()));
  }
  return out;
}

}  // namespace

uint32_t decodeCodePoint(std::string_view text, size_t offset, size_t* length) {
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(text[offset + i])); };
  uint32_t b0 = byte(0);
  if (b0 < 0x80) { *length = 1; return b0; }
  if (b0 < 0xE0) { *length = 2; return ((b0 & 0x1F) << 6) | (byte(1) & 0x3F); }
  if (b0 < 0xF0) { *length = 3; return ((b0 & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F); }
  *length = 4;
  return ((b0 & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) | (byte(3) & 0x3F);
}

void appendUtf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xE0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

std::string describe(TokenKind kind) {
  switch (kind) {
    case TokenKind::kSof: return "<SOF>";
    case TokenKind::kEof: return "<EOF>";
    case TokenKind::kBang: return "\"!\"";
    case TokenKind::kDollar: return "\"$\"";
    case TokenKind::kAmp: return "\"&\"";
    case TokenKind::kParenL: return "\"(\"";
    case TokenKind::kParenR: return "\")\"";
    case TokenKind::kSpread: return "\"...\"";
    case TokenKind::kColon: return "\":\"";
    case TokenKind::kEquals: return "\"=\"";
    case TokenKind::kAt: return "\"@\"";
    case TokenKind::kBracketL: return "\"[\"";
    case TokenKind::kBracketR: return "\"]\"";
    case TokenKind::kBraceL: return "\"{\"";
    case TokenKind::kPipe: return "\"|\"";
    case TokenKind::kBraceR: return "\"}\"";
    case TokenKind::kName: return "Name";
    case TokenKind::kInt: return "Int";
    case TokenKind::kFloat: return "Float";
    case TokenKind::kString: return "String";
    case TokenKind::kBlockString: return "BlockString";
  }
  return "?";
}

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kName:
    case TokenKind::kInt:
    case TokenKind::kFloat:
    case TokenKind::kString:
    case TokenKind::kBlockString:
      return describe(token.kind) + " \"" + token.value + "\"";
    default:
      return describe(token.kind);
  }
}

SourceMap::SourceMap(std::string_view source) : source_(source) {
  line_starts_.push_back(0);
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r' && i + 1 < source.size() && source[i + 1] == '\n') ++i;
    if (source[i] == '\n' || source[i] == '\r') line_starts_.push_back(i + 1);
  }
}

SourceLocation SourceMap::locate(size_t offset) const {
  auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
  size_t line = static_cast<size_t>(it - line_starts_.begin());
  size_t column = 1;
  for (size_t i = line_starts_[line - 1]; i < offset && i < source_.size(); ++i) {
    auto b = static_cast<unsigned char>(source_[i]);
    if ((b & 0xC0) == 0x80) continue;  // a continuation byte
    column += b >= 0xF0 ? 2 : 1;       // a code point past U+FFFF is two UTF-16 units
  }
  return {static_cast<uint32_t>(line), static_cast<uint32_t>(column)};
}

Token Lexer::fail(size_t offset, std::string message) {
  if (!error_) error_ = SyntaxError{std::move(message), offset};
  position_ = source_.size();
  return make(TokenKind::kEof, source_.size(), source_.size());
}

Token Lexer::make(TokenKind kind, size_t start, size_t end, std::string value) {
  position_ = end;
  return Token{kind, start, end, std::move(value)};
}

std::string Lexer::printCodePointAt(size_t offset) const {
  if (offset >= source_.size()) return "<EOF>";
  size_t length = 0;
  uint32_t c = decodeCodePoint(source_, offset, &length);
  if (c >= 0x20 && c <= 0x7E) return c == '"' ? "'\"'" : "\"" + std::string(1, static_cast<char>(c)) + "\"";
  char hex[16];
  std::snprintf(hex, sizeof hex, "U+%04X", c);
  return hex;
}

Token Lexer::next() {
  if (error_) return make(TokenKind::kEof, source_.size(), source_.size());
  const size_t size = source_.size();
  size_t p = position_;
  while (p < size) {
    unsigned char c = static_cast<unsigned char>(source_[p]);
    if (c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r') {
      ++p;
    } else if (c == 0xEF && p + 2 < size && source_[p + 1] == '\xBB' && source_[p + 2] == '\xBF') {
      p += 3;  // a byte order mark is ignored like whitespace
    } else if (c == '#') {
      while (p < size && source_[p] != '\n' && source_[p] != '\r') ++p;
    } else {
      break;
    }
  }
  if (p >= size) return make(TokenKind::kEof, size, size);
  char c = source_[p];
  auto punctuator = [&](TokenKind kind) { return make(kind, p, p + 1); };
  switch (c) {
    case '!': return punctuator(TokenKind::kBang);
    case '$': return punctuator(TokenKind::kDollar);
    case '&': return punctuator(TokenKind::kAmp);
    case '(': return punctuator(TokenKind::kParenL);
    case ')': return punctuator(TokenKind::kParenR);
    case ':': return punctuator(TokenKind::kColon);
    case '=': return punctuator(TokenKind::kEquals);
    case '@': return punctuator(TokenKind::kAt);
    case '[': return punctuator(TokenKind::kBracketL);
    case ']': return punctuator(TokenKind::kBracketR);
    case '{': return punctuator(TokenKind::kBraceL);
    case '|': return punctuator(TokenKind::kPipe);
    case '}': return punctuator(TokenKind::kBraceR);
    case '.':
      if (source_.substr(p, 3) == "...") return make(TokenKind::kSpread, p, p + 3);
      break;
    case '"':
      if (source_.substr(p, 3) == "\"\"\"") return readBlockString(p);
      return readString(p);
    default:
      break;
  }
  if (isDigit(c) || c == '-') return readNumber(p);
  if (isNameStart(c)) {
    size_t end = p + 1;
    while (end < size && isNameContinue(source_[end])) ++end;
    return make(TokenKind::kName, p, end, std::string(source_.substr(p, end - p)));
  }
  if (c == '\'') {
    return fail(p, "Unexpected single quote character ('), did you mean to use a double quote (\")?");
  }
  return fail(p, "Unexpected character: " + printCodePointAt(p) + ".");
}

Token Lexer::readNumber(size_t start) {
  const size_t size = source_.size();
  size_t p = start;
  auto at = [&](size_t i) { return i < size ? source_[i] : '\0'; };
  auto readDigits = [&]() -> bool {
    if (!isDigit(at(p))) {
      fail(p, "Invalid number, expected digit but got: " + printCodePointAt(p) + ".");
      return false;
    }
    while (isDigit(at(p))) ++p;
    return true;
  };
  bool is_float = false;
  if (at(p) == '-') ++p;
  if (at(p) == '0') {
    ++p;
    if (isDigit(at(p))) return fail(p, "Invalid number, unexpected digit after 0: " + printCodePointAt(p) + ".");
  } else if (!readDigits()) {
    return make(TokenKind::kEof, size, size);
  }
  if (at(p) == '.') {
    is_float = true;
    ++p;
    if (!readDigits()) return make(TokenKind::kEof, size, size);
  }
  if (at(p) == 'e' || at(p) == 'E') {
    is_float = true;
    ++p;
    if (at(p) == '+' || at(p) == '-') ++p;
    if (!readDigits()) return make(TokenKind::kEof, size, size);
  }
  if (at(p) == '.' || isNameStart(at(p))) {
    return fail(p, "Invalid number, expected digit but got: " + printCodePointAt(p) + ".");
  }
  return make(is_float ? TokenKind::kFloat : TokenKind::kInt, start, p,
              std::string(source_.substr(start, p - start)));
}

bool Lexer::readEscape(size_t& p, std::string& out) {
  const size_t size = source_.size();
  auto at = [&](size_t i) { return i < size ? static_cast<unsigned char>(source_[i]) : 0; };
  char e = static_cast<char>(at(p + 1));
  switch (e) {
    case '"': out += '"'; p += 2; return true;
    case '\\': out += '\\'; p += 2; return true;
    case '/': out += '/'; p += 2; return true;
    case 'b': out += '\b'; p += 2; return true;
    case 'f': out += '\f'; p += 2; return true;
    case 'n': out += '\n'; p += 2; return true;
    case 'r': out += '\r'; p += 2; return true;
    case 't': out += '\t'; p += 2; return true;
    case 'u': break;
    default: {
      // graphql-js quotes the backslash and the character after it (one UTF-16 unit).
      size_t length = p + 1 < size ? 1 : 0;
      if (length) decodeCodePoint(source_, p + 1, &length);
      fail(p, "Invalid character escape sequence: \"" + std::string(source_.substr(p, 1 + length)) + "\".");
      return false;
    }
  }
  if (at(p + 2) == '{') {
    // \u{...}: up to eight hex digits, a Unicode scalar value.
    int64_t point = 0;
    size_t length = 3;
    while (length < 12) {
      int c = at(p + length++);
      if (c == '}') {
        if (length < 5 || !isScalarValue(static_cast<uint32_t>(point))) break;
        appendUtf8(out, static_cast<uint32_t>(point));
        p += length;
        return true;
      }
      int h = hexValue(c);
      if (h < 0) break;
      point = (point << 4) | h;
      if (point > 0x7FFFFFFF) break;
    }
    fail(p, "Invalid Unicode escape sequence: \"" + std::string(source_.substr(p, length)) + "\".");
    return false;
  }
  auto read16 = [&](size_t q) -> int32_t {
    int32_t v = 0;
    for (size_t i = 0; i < 4; ++i) {
      int h = hexValue(at(q + i));
      if (h < 0) return -1;
      v = (v << 4) | h;
    }
    return v;
  };
  int32_t code = read16(p + 2);
  if (code >= 0 && isScalarValue(static_cast<uint32_t>(code))) {
    appendUtf8(out, static_cast<uint32_t>(code));
    p += 6;
    return true;
  }
  // A JSON-style surrogate pair is allowed when it forms a whole code point.
  if (code >= 0xD800 && code <= 0xDBFF && at(p + 6) == '\\' && at(p + 7) == 'u') {
    int32_t trailing = read16(p + 8);
    if (trailing >= 0xDC00 && trailing <= 0xDFFF) {
      appendUtf8(out, 0x10000 + ((static_cast<uint32_t>(code) - 0xD800) << 10) + (static_cast<uint32_t>(trailing) - 0xDC00));
      p += 12;
      return true;
    }
  }
  fail(p, "Invalid Unicode escape sequence: \"" + std::string(source_.substr(p, 6)) + "\".");
  return false;
}

Token Lexer::readString(size_t start) {
  const size_t size = source_.size();
  size_t p = start + 1;
  std::string value;
  while (p < size) {
    char c = source_[p];
    if (c == '"') return make(TokenKind::kString, start, p + 1, std::move(value));
    if (c == '\\') {
      if (!readEscape(p, value)) return make(TokenKind::kEof, size, size);
      continue;
    }
    if (c == '\n' || c == '\r') break;
    value += c;
    ++p;
  }
  return fail(p, "Unterminated string.");
}

Token Lexer::readBlockString(size_t start) {
  const size_t size = source_.size();
  size_t p = start + 3;
  std::vector<std::string> lines(1);
  while (p < size) {
    if (source_.substr(p, 3) == "\"\"\"") {
      return make(TokenKind::kBlockString, start, p + 3, blockStringValue(lines));
    }
    if (source_.substr(p, 4) == "\\\"\"\"") {
      lines.back() += "\"\"\"";
      p += 4;
      continue;
    }
    char c = source_[p];
    if (c == '\r' || c == '\n') {
      p += (c == '\r' && p + 1 < size && source_[p + 1] == '\n') ? 2 : 1;
      lines.emplace_back();
      continue;
    }
    lines.back() += c;
    ++p;
  }
  return fail(p, "Unterminated string.");
}

}  // namespace gust::graphql
