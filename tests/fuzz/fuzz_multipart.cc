// Feeds arbitrary request Content-Type values and bodies to parseMultipart and checks what
// the deploy endpoint relies on: errors are bad input with a printable message, accepted
// parts stay within the limits, borrow disjoint, ordered pieces of the body, have distinct
// names, and survive being written out again and parsed back unchanged.
//
// Input layout: [flags] [limit] Content-Type '\n' body. Flag bit 0 turns on small limits
// taken from the limit byte, so the limit paths are reached.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "triggers/http/multipart.h"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::string_view kBoundary = "fuzz'()+_,-./:=? Boundary";

std::string quotedString(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

// Writes parts out the way a careful client would, or returns false when a part's content
// holds the delimiter and cannot be sent with kBoundary.
bool serialize(const std::vector<gust::MultipartPart>& parts, std::string& body) {
  const std::string delimiter = "\r\n--" + std::string(kBoundary);
  body = "preamble";
  for (const gust::MultipartPart& part : parts) {
    // The blank line's CRLF would join a content starting with "--boundary" into a delimiter.
    if (("\r\n" + std::string(part.body)).find(delimiter) != std::string::npos) return false;
    body += delimiter + "\r\nContent-Disposition: form-data; name=" + quotedString(part.name);
    if (!part.filename.empty()) body += "; filename=" + quotedString(part.filename);
    if (!part.content_type.empty()) body += "\r\ncontent-type: " + part.content_type;
    body += "\r\n\r\n";
    body += part.body;
  }
  body += delimiter + "--\r\nepilogue";
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  gust::MultipartLimits limits;
  if (data[0] & 1) {
    limits.max_parts = data[1] % 8;
    limits.max_header_bytes = data[1] * 2u;
  }
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  size_t newline = input.find('\n');
  std::string_view content_type = input.substr(0, newline);
  std::string_view body = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);

  auto parts = gust::parseMultipart(content_type, body, limits);
  if (!parts.ok()) {
    check(parts.error().kind == gust::ErrorKind::kBadInput);
    check(!parts.error().message.empty());
    for (char c : parts.error().message) check(c >= 0x20 && c < 0x7f);
    return 0;
  }

  check(parts->size() <= limits.max_parts);
  const char* previous_end = body.data();
  for (size_t i = 0; i < parts->size(); ++i) {
    const gust::MultipartPart& part = (*parts)[i];
    check(!part.name.empty());
    for (size_t j = 0; j < i; ++j) check((*parts)[j].name != part.name);
    check(part.body.data() >= previous_end);
    check(part.body.data() + part.body.size() <= body.data() + body.size());
    previous_end = part.body.data() + part.body.size();
  }

  std::string again;
  if (!serialize(*parts, again)) return 0;
  gust::MultipartLimits roomy;
  roomy.max_parts = parts->size();
  roomy.max_header_bytes = 64 + 3 * content_type.size() + 3 * body.size();
  std::string again_type = "Multipart/Form-Data; boundary=\"" + std::string(kBoundary) + "\"";
  auto reparsed = gust::parseMultipart(again_type, again, roomy);
  check(reparsed.ok());
  check(reparsed->size() == parts->size());
  for (size_t i = 0; i < parts->size(); ++i) {
    const gust::MultipartPart& a = (*parts)[i];
    const gust::MultipartPart& b = (*reparsed)[i];
    check(a.name == b.name && a.filename == b.filename && a.content_type == b.content_type && a.body == b.body);
  }
  return 0;
}
