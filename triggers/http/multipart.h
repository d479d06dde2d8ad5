#pragma once
// A strict multipart/form-data parser (RFC 7578 on top of RFC 2046 §5.1) for uploads the
// admin API receives whole, such as `curl -F manifest=@gust.json -F module=@hello.so`.
//
// The server has already read and size-capped the body, so this parses one complete body
// in memory; nothing streams. Anything outside the grammar is refused with a message
// saying what was wrong rather than guessed at, because a deploy that silently took the
// wrong bytes is worse than one that fails. Every part's header block and the number of
// parts are bounded; part contents are bounded only by the body itself.
//
// Part contents are views into the body passed in: keep that body alive while the parts
// are in use. Names, filenames and content types are copied out, unescaped; they are
// bytes as sent (usually UTF-8, but not checked to be).

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/result.h"

namespace gust {

struct MultipartPart {
  std::string name;          // Content-Disposition's name parameter; never empty
  std::string filename;      // its filename parameter; empty when absent
  std::string content_type;  // the part's Content-Type field as sent; empty when absent
  std::string_view body;     // the part's content, borrowed from the parsed body
};

struct MultipartLimits {
  size_t max_parts = 16;
  size_t max_header_bytes = 8192;  // one part's header block, each field line's CRLF included
};

// Parses `body` as sent with the request Content-Type header value `content_type`, which
// must be multipart/form-data with a valid boundary parameter. The parts come back in the
// order sent; each has a distinct name. Errors are ErrorKind::kBadInput.
Result<std::vector<MultipartPart>> parseMultipart(std::string_view content_type, std::string_view body,
                                                  MultipartLimits limits = {});
// The parts would borrow from a temporary that dies at the end of the call's statement.
Result<std::vector<MultipartPart>> parseMultipart(std::string_view content_type, std::string&& body,
                                                  MultipartLimits limits = {}) = delete;

}  // namespace gust
