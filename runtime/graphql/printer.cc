#include "runtime/graphql/printer.h"

#include <cstdio>

namespace gust::graphql {
namespace {

bool isWhiteSpace(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string> splitLines(const std::string& text) {
  std::vector<std::string> lines(1);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      lines.emplace_back();
    } else {
      lines.back() += c;
    }
  }
  return lines;
}

std::string printBlockString(const std::string& value) {
  std::string escaped;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 3, "\"\"\"") == 0) {
      escaped += "\\\"\"\"";
      i += 2;
    } else {
      escaped += value[i];
    }
  }
  auto lines = splitLines(escaped);
  bool single_line = lines.size() == 1;
  bool force_leading_newline = lines.size() > 1;
  for (size_t i = 1; i < lines.size(); ++i) {
    if (!lines[i].empty() && !isWhiteSpace(lines[i][0])) force_leading_newline = false;
  }
  auto ends_with = [](const std::string& s, std::string_view tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
  };
  bool trailing_triple_quotes = ends_with(escaped, "\\\"\"\"");
  bool trailing_quote = ends_with(value, "\"") && !trailing_triple_quotes;
  bool force_trailing_newline = trailing_quote || ends_with(value, "\\");
  // graphql-js measures in UTF-16 units; counting code points is the same for most text.
  size_t length = 0;
  for (unsigned char c : value) length += (c & 0xC0) != 0x80 ? (c >= 0xF0 ? 2 : 1) : 0;
  bool multiple_lines = !single_line || length > 70 || force_trailing_newline ||
                        force_leading_newline || trailing_triple_quotes;
  bool skip_leading_newline = single_line && !value.empty() && isWhiteSpace(value[0]);
  std::string out = "\"\"\"";
  if ((multiple_lines && !skip_leading_newline) || force_leading_newline) out += '\n';
  out += escaped;
  if (multiple_lines || force_trailing_newline) out += '\n';
  return out + "\"\"\"";
}

}  // namespace

std::string printString(const std::string& value) {
  std::string out = "\"";
  for (size_t i = 0; i < value.size(); ++i) {
    auto c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    // C1 controls U+0080..U+009F are two bytes in UTF-8: C2 80..C2 9F.
    unsigned code = c;
    bool c1 = c == 0xC2 && i + 1 < value.size() && static_cast<unsigned char>(value[i + 1]) <= 0x9F;
    if (c1) code = static_cast<unsigned char>(value[i + 1]);
    if (code < 0x20 || (code >= 0x7F && code <= 0x9F)) {
      char escape[8];
      std::snprintf(escape, sizeof escape, "\\u%04X", code);
      out += escape;
      if (c1) ++i;
      continue;
    }
    out += static_cast<char>(c);
  }
  return out + "\"";
}

std::string print(const Value& value) {
  switch (value.kind) {
    case Value::Kind::kVariable: return "$" + value.text;
    case Value::Kind::kInt:
    case Value::Kind::kFloat:
    case Value::Kind::kEnum: return value.text;
    case Value::Kind::kString: return value.block ? printBlockString(value.text) : printString(value.text);
    case Value::Kind::kBoolean: return value.boolean ? "true" : "false";
    case Value::Kind::kNull: return "null";
    case Value::Kind::kList: {
      std::string out = "[";
      for (size_t i = 0; i < value.list.size(); ++i) out += (i ? ", " : "") + print(value.list[i]);
      return out + "]";
    }
    case Value::Kind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < value.fields.size(); ++i) {
        out += (i ? ", " : "") + value.fields[i].name.value + ": " + print(value.fields[i].value);
      }
      return out + "}";
    }
  }
  return {};
}

std::string print(const TypeRef& type) {
  std::string out = type.name.value;
  for (auto it = type.wrappers.rbegin(); it != type.wrappers.rend(); ++it) {
    out = *it == 'L' ? "[" + out + "]" : out + "!";
  }
  return out;
}

}  // namespace gust::graphql
