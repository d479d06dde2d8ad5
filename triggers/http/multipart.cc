#include "triggers/http/multipart.h"

#include <string.h>  // memmem (a GNU extension)

#include <algorithm>
#include <optional>
#include <utility>

#include "triggers/http/http_text.h"

namespace gust {
namespace {

constexpr std::string_view kCrlf = "\r\n";
constexpr size_t kMaxBoundary = 70;  // RFC 2046 §5.1.1

Error badInput(std::string message) { return makeError(ErrorKind::kBadInput, std::move(message)); }

// Untrusted bytes quoted into an error message: printable ASCII only (the message may end
// up in a JSON body or a terminal), and short.
std::string quoted(std::string_view bytes) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  for (size_t i = 0; i < bytes.size() && i < kMaxShown; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\r' || c == '\n' || c == '\t') {
      out += '\\';
      out += c == '\r' ? 'r' : c == '\n' ? 'n' : 't';
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (bytes.size() > kMaxShown) out += "...";
  out += '"';
  return out;
}

bool isWhitespace(char c) { return c == ' ' || c == '\t'; }

std::string_view trimWhitespace(std::string_view s) {
  while (!s.empty() && isWhitespace(s.front())) s.remove_prefix(1);
  while (!s.empty() && isWhitespace(s.back())) s.remove_suffix(1);
  return s;
}

// A control character other than HTAB: not allowed in a field value or a quoted-string.
bool isControl(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

// RFC 2046 bcharsnospace; a boundary may also hold spaces, but not as its last character.
bool isBoundaryChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::string_view("'()+_,-./:=? ").find(c) != std::string_view::npos;
}

struct Parameter {
  std::string name;  // lowercased: parameter names are case-insensitive
  std::string value;  // unquoted and unescaped
};

// Parses what follows a media type or a disposition type (RFC 9110 §5.6.6):
//   *( OWS ";" OWS [ name "=" ( token / quoted-string ) ] )
// `where` names the field for error messages.
Result<std::vector<Parameter>> parseParameters(std::string_view text, const std::string& where) {
  std::vector<Parameter> params;
  for (;;) {
    text = trimWhitespace(text);
    if (text.empty()) return params;
    if (text.front() != ';') {
      return badInput(where + " has " + quoted(text) + " where a ';' before the next parameter belongs");
    }
    text.remove_prefix(1);
    text = trimWhitespace(text);
    if (text.empty() || text.front() == ';') continue;  // an empty parameter is allowed

    size_t name_end = 0;
    while (name_end < text.size() && http::isTokenChar(text[name_end])) ++name_end;
    if (name_end == 0 || name_end == text.size() || text[name_end] != '=') {
      return badInput(where + " has a malformed parameter " + quoted(text) + "; expected name=value");
    }
    Parameter param;
    for (char c : text.substr(0, name_end)) param.name += http::lowerAscii(c);
    text.remove_prefix(name_end + 1);

    if (!text.empty() && text.front() == '"') {
      size_t i = 1;
      bool closed = false;
      while (i < text.size()) {
        char c = text[i++];
        if (c == '"') {
          closed = true;
          break;
        }
        if (c == '\\') {
          if (i == text.size()) break;
          c = text[i++];
        }
        if (isControl(c)) {
          return badInput(where + "'s parameter " + param.name + " holds a control character " + quoted({&c, 1}));
        }
        param.value += c;
      }
      if (!closed) return badInput(where + "'s parameter " + param.name + " has an unterminated quoted string");
      text.remove_prefix(i);
    } else {
      size_t value_end = 0;
      while (value_end < text.size() && http::isTokenChar(text[value_end])) ++value_end;
      if (value_end == 0) {
        return badInput(where + "'s parameter " + param.name + " has no value; quote it if it holds spaces or "
                        "separators: " + param.name + "=\"...\"");
      }
      param.value = std::string(text.substr(0, value_end));
      text.remove_prefix(value_end);
    }

    for (const Parameter& seen : params) {
      if (seen.name == param.name) return badInput(where + " has the parameter " + param.name + " twice");
    }
    params.push_back(std::move(param));
  }
}

const Parameter* findParameter(const std::vector<Parameter>& params, std::string_view name) {
  for (const Parameter& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

// Splits "type/subtype; params" and checks both names are tokens. `where` names the field.
struct MediaType {
  std::string_view type;
  std::string_view subtype;
  std::vector<Parameter> params;
};

Result<MediaType> parseMediaType(std::string_view value, const std::string& where) {
  value = trimWhitespace(value);
  size_t end = value.find(';');
  std::string_view essence = trimWhitespace(value.substr(0, end));
  size_t slash = essence.find('/');
  MediaType media;
  if (slash != std::string_view::npos) {
    media.type = essence.substr(0, slash);
    media.subtype = essence.substr(slash + 1);
  }
  if (!http::isToken(media.type) || !http::isToken(media.subtype)) {
    return badInput(where + " " + quoted(value) + " is not a media type of the form type/subtype");
  }
  auto params = parseParameters(end == std::string_view::npos ? std::string_view() : value.substr(end), where);
  if (!params) return params.error();
  media.params = std::move(*params);
  return media;
}

Result<std::string> boundaryOf(std::string_view content_type) {
  const std::string where = "the request's Content-Type";
  auto media = parseMediaType(content_type, where);
  if (!media) return media.error();
  if (!http::equalsIgnoreCase(media->type, "multipart") || !http::equalsIgnoreCase(media->subtype, "form-data")) {
    return badInput("this upload must be multipart/form-data, but the request's Content-Type is " +
                    quoted(content_type) + "; send the files with curl -F name=@path");
  }
  const Parameter* boundary = findParameter(media->params, "boundary");
  if (boundary == nullptr) {
    return badInput("the request's Content-Type " + quoted(content_type) +
                    " has no boundary parameter; multipart/form-data needs one to split the body");
  }
  const std::string& b = boundary->value;
  if (b.empty() || b.size() > kMaxBoundary) {
    return badInput("the multipart boundary " + quoted(b) + " is " + std::to_string(b.size()) +
                    " characters long; RFC 2046 allows 1 to 70");
  }
  for (char c : b) {
    if (!isBoundaryChar(c)) {
      return badInput("the multipart boundary " + quoted(b) + " holds " + quoted({&c, 1}) +
                      ", which RFC 2046 does not allow (letters, digits and '()+_,-./:=? only)");
    }
  }
  if (b.back() == ' ') {
    return badInput("the multipart boundary " + quoted(b) + " ends with a space, which RFC 2046 forbids");
  }
  return std::string(b);
}

// Where `needle` first occurs in `haystack` at or after `from`. glibc's memmem skips ahead
// by more than a byte on a mismatch, so even content made only of CRs (each one a false
// start of the delimiter) is scanned at memory speed; string_view::find would try every one.
size_t findFrom(std::string_view haystack, std::string_view needle, size_t from) {
  // Also keeps an empty view's null data() away from memmem, which must not get one.
  if (from > haystack.size() || haystack.size() - from < needle.size()) return std::string_view::npos;
  const void* hit = memmem(haystack.data() + from, haystack.size() - from, needle.data(), needle.size());
  return hit == nullptr ? std::string_view::npos : static_cast<const char*>(hit) - haystack.data();
}

std::string partLabel(size_t number) { return "multipart body: part " + std::to_string(number); }

// Reads one part: its header block, the blank line, then its content up to the delimiter.
Result<MultipartPart> parsePart(std::string_view part, size_t number, const MultipartLimits& limits) {
  const std::string label = partLabel(number);

  // RFC 2046: body-part := MIME-part-headers [CRLF *OCTET]. The blank line is missing only
  // when the part has no content, and then the last field's CRLF is followed directly by
  // the delimiter's. The search window stops just past what the limit allows, so malformed
  // headers in front of a large content cost no more than the limit to reject.
  std::string_view headers;
  std::string_view content;
  if (part.starts_with(kCrlf)) {
    content = part.substr(2);
  } else if (size_t blank = part.substr(0, std::min(part.size(), limits.max_header_bytes) + 2).find("\r\n\r\n");
             blank != std::string_view::npos) {
    headers = part.substr(0, blank + 2);
    content = part.substr(blank + 4);
  } else if (part.size() <= limits.max_header_bytes && (part.empty() || part.ends_with(kCrlf))) {
    headers = part;
    content = part.substr(part.size());  // empty, but still pointing into the body
  } else if (part.size() > limits.max_header_bytes) {
    return badInput(label + "'s headers do not end within " + std::to_string(limits.max_header_bytes) +
                    " bytes; either they are too long or the blank line after them is missing");
  } else {
    return badInput(label + "'s headers do not end with a blank line (CRLF CRLF) before the next boundary");
  }

  std::optional<std::string_view> disposition;
  std::optional<std::string_view> content_type;
  while (!headers.empty()) {
    size_t eol = headers.find(kCrlf);  // every line of the block ends with CRLF
    std::string_view line = headers.substr(0, eol);
    headers.remove_prefix(eol + 2);
    if (isWhitespace(line.front())) {
      return badInput(label + " has a folded header line " + quoted(line) + "; put each field on one line");
    }
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    if (colon == std::string_view::npos || !http::isToken(field)) {
      return badInput(label + " has a malformed header line " + quoted(line) + "; expected Name: value");
    }
    std::string_view value = trimWhitespace(line.substr(colon + 1));
    for (char c : value) {
      if (isControl(c)) {
        return badInput(label + "'s " + std::string(field) + " header holds a control character: " + quoted(value));
      }
    }
    std::optional<std::string_view>* slot = nullptr;
    if (http::equalsIgnoreCase(field, "content-disposition")) {
      slot = &disposition;
    } else if (http::equalsIgnoreCase(field, "content-type")) {
      slot = &content_type;
    } else if (http::equalsIgnoreCase(field, "content-transfer-encoding")) {
      // RFC 7578 §4.7 deprecates it; an encoding we do not decode would hand over the
      // encoded bytes as if they were the file, so only the identity ones pass.
      if (!http::equalsIgnoreCase(value, "binary") && !http::equalsIgnoreCase(value, "8bit") &&
          !http::equalsIgnoreCase(value, "7bit")) {
        return badInput(label + " has Content-Transfer-Encoding " + quoted(value) +
                        ", which is not supported; send the content as binary");
      }
    }
    if (slot == nullptr) continue;
    if (slot->has_value()) return badInput(label + " has more than one " + std::string(field) + " header");
    *slot = value;
  }

  if (!disposition) {
    return badInput(label + " has no Content-Disposition header; each part needs "
                    "Content-Disposition: form-data; name=\"...\"");
  }
  size_t type_end = disposition->find(';');
  std::string_view type = trimWhitespace(disposition->substr(0, type_end));
  if (!http::equalsIgnoreCase(type, "form-data")) {
    return badInput(label + "'s Content-Disposition is " + quoted(type) + "; it must be form-data");
  }
  auto params = parseParameters(
      type_end == std::string_view::npos ? std::string_view() : disposition->substr(type_end),
      label + "'s Content-Disposition");
  if (!params) return params.error();

  MultipartPart result;
  const Parameter* name = findParameter(*params, "name");
  if (name == nullptr || name->value.empty()) {
    return badInput(label + "'s Content-Disposition has no name; each part needs form-data; name=\"...\"");
  }
  result.name = name->value;
  if (const Parameter* filename = findParameter(*params, "filename")) result.filename = filename->value;
  if (content_type) {
    auto media = parseMediaType(*content_type, label + "'s Content-Type");
    if (!media) return media.error();
    result.content_type = std::string(*content_type);
  }
  result.body = content;
  return result;
}

enum class LineEnd { kPartFollows, kClosed };

// Reads the rest of a delimiter line from `pos`, just past "--boundary":
//   "--" transport-padding [CRLF epilogue]   (the close delimiter)
//   transport-padding CRLF                   (a part follows)
// and returns where the next part starts (or the body's size when closed).
Result<std::pair<LineEnd, size_t>> finishDelimiterLine(std::string_view body, size_t pos, size_t next_part) {
  std::string_view rest = body.substr(pos);
  bool close = rest.starts_with("--");
  if (close) rest.remove_prefix(2);
  // Padding MUST NOT be sent but MUST be accepted (RFC 2046 §5.1.1).
  while (!rest.empty() && isWhitespace(rest.front())) rest.remove_prefix(1);
  if (close) {
    if (rest.empty() || rest.starts_with(kCrlf)) return std::pair{LineEnd::kClosed, body.size()};
    return badInput("multipart body: the closing boundary line continues with " + quoted(rest.substr(0, 16)) +
                    "; it must end the line");
  }
  if (rest.starts_with(kCrlf)) return std::pair{LineEnd::kPartFollows, body.size() - rest.size() + 2};
  if (rest.empty() || rest == "-" || rest == "\r") {
    return badInput("multipart body ends before the closing boundary (truncated upload?)");
  }
  return badInput("multipart body: a line starting with the boundary continues with " +
                  quoted(rest.substr(0, 16)) + " before part " + std::to_string(next_part) +
                  "; the boundary must not begin any line of a part's content, so the sender must pick one "
                  "that does not occur in it");
}

}  // namespace

Result<std::vector<MultipartPart>> parseMultipart(std::string_view content_type, std::string_view body,
                                                  MultipartLimits limits) {
  auto boundary = boundaryOf(content_type);
  if (!boundary) return boundary.error();

  // Every delimiter after the first is CRLF "--" boundary.
  const std::string delimiter = "\r\n--" + *boundary;
  const std::string_view dash_boundary = std::string_view(delimiter).substr(2);

  // The first delimiter may open the body or follow a preamble, which is ignored.
  size_t pos = 0;
  if (!body.starts_with(dash_boundary)) {
    pos = findFrom(body, delimiter, 0);
    if (pos == std::string_view::npos) {
      return badInput("multipart body has no line \"" + std::string(dash_boundary) +
                      "\" that opens the first part; the body does not match the Content-Type's boundary");
    }
    pos += 2;
  }
  auto line = finishDelimiterLine(body, pos + dash_boundary.size(), 1);
  if (!line) return line.error();

  std::vector<MultipartPart> parts;
  while (line->first == LineEnd::kPartFollows) {
    if (parts.size() == limits.max_parts) {
      return badInput("multipart body has more than " + std::to_string(limits.max_parts) +
                      " parts; send only the fields this endpoint takes");
    }
    size_t start = line->second;
    if (body.substr(start).starts_with(dash_boundary)) {
      return badInput(partLabel(parts.size() + 1) + " is empty: a boundary line follows the previous one "
                      "directly; each part needs a Content-Disposition header and a blank line");
    }
    size_t end = findFrom(body, delimiter, start);
    if (end == std::string_view::npos) {
      return badInput("multipart body ends before the closing boundary (truncated upload?): part " +
                      std::to_string(parts.size() + 1) + " has no boundary line after it");
    }
    auto part = parsePart(body.substr(start, end - start), parts.size() + 1, limits);
    if (!part) return part.error();
    for (size_t i = 0; i < parts.size(); ++i) {
      if (parts[i].name == part->name) {
        return badInput("multipart body: parts " + std::to_string(i + 1) + " and " + std::to_string(parts.size() + 1) +
                        " are both named " + quoted(part->name) + "; send each field once");
      }
    }
    parts.push_back(std::move(*part));
    line = finishDelimiterLine(body, end + delimiter.size(), parts.size() + 1);
    if (!line) return line.error();
  }
  return parts;
}

}  // namespace gust
