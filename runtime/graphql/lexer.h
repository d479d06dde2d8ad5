#pragma once
// Splits a GraphQL document into tokens (spec §2.1): punctuators, names, numbers and
// strings, skipping whitespace, commas and comments. Error messages follow graphql-js's
// wording, so that a client sees what its own tools would say. Value type; any thread.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/graphql/ast.h"

namespace gust::graphql {

enum class TokenKind {
  kSof, kEof, kBang, kDollar, kAmp, kParenL, kParenR, kSpread, kColon, kEquals, kAt,
  kBracketL, kBracketR, kBraceL, kPipe, kBraceR, kName, kInt, kFloat, kString, kBlockString,
};

struct Token {
  TokenKind kind = TokenKind::kSof;
  size_t start = 0;  // byte offsets into the source
  size_t end = 0;
  std::string value;  // names and numbers as written; strings decoded
};

// How graphql-js names a kind in "Expected ..., found ...": punctuators quoted.
std::string describe(TokenKind kind);
// A token as "Name \"x\"" or "\"{\"".
std::string describe(const Token& token);

// Byte offsets to line and column, counting columns in UTF-16 code units.
class SourceMap {
 public:
  explicit SourceMap(std::string_view source);
  SourceLocation locate(size_t offset) const;

 private:
  std::string_view source_;
  std::vector<size_t> line_starts_;
};

struct SyntaxError {
  std::string message;  // without the "Syntax Error: " prefix
  size_t offset = 0;
};

class Lexer {
 public:
  // The source must be valid UTF-8 (the parser checks it first).
  explicit Lexer(std::string_view source) : source_(source) {}

  // The next token, or the first syntax error (after which the lexer answers EOF).
  Token next();
  const std::optional<SyntaxError>& error() const { return error_; }

 private:
  Token fail(size_t offset, std::string message);
  Token make(TokenKind kind, size_t start, size_t end, std::string value = {});
  Token readNumber(size_t start);
  Token readString(size_t start);
  Token readBlockString(size_t start);
  bool readEscape(size_t& position, std::string& out);
  std::string printCodePointAt(size_t offset) const;

  std::string_view source_;
  size_t position_ = 0;
  std::optional<SyntaxError> error_;
};

// The code point that starts at `offset` of valid UTF-8 text, and its length in bytes.
uint32_t decodeCodePoint(std::string_view text, size_t offset, size_t* length);
void appendUtf8(std::string& out, uint32_t code_point);

}  // namespace gust::graphql
