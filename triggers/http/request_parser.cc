#include "triggers/http/request_parser.h"

#include "triggers/http/http_text.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>

namespace gust {
namespace {

// Method, two spaces, "HTTP/1.1" and CRLF around the target; generous so that only the
// target's own cap (414) decides in practice.
constexpr size_t kRequestLineSlack = 64;
// Enough for the fields of a typical browser or SDK request.
constexpr size_t kExpectedHeaderCount = 16;
// http_parser's compiled-in HTTP_MAX_HEADER_SIZE.
constexpr size_t kLibraryMaxHeaderSize = 80 * 1024;

using http::equalsIgnoreCase;
using http::lowerAscii;

bool isOws(char c) { return c == ' ' || c == '\t'; }

RequestParser* self(http_parser* p) { return static_cast<RequestParser*>(p->data); }

// Splits a request-target into its path and query. Origin-form ("/a?b") is the norm;
// absolute-form ("http://h/a?b") must be accepted by servers (RFC 9112 §3.2.2).
void splitTarget(std::string_view target, std::string& path, std::string& query) {
  std::string_view rest = target;
  if (!rest.empty() && rest.front() != '/' && rest != "*") {
    size_t scheme_end = rest.find("://");
    if (scheme_end != std::string_view::npos) {
      size_t path_start = rest.find_first_of("/?#", scheme_end + 3);
      rest = path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
    }
  }
  size_t fragment = rest.find('#');
  if (fragment != std::string_view::npos) rest = rest.substr(0, fragment);
  size_t question = rest.find('?');
  std::string_view path_part = rest.substr(0, question);
  if (path_part.empty()) {
    path.assign("/");
  } else {
    path.assign(path_part);
  }
  if (question == std::string_view::npos) {
    query.clear();
  } else {
    query.assign(rest.substr(question + 1));
  }
}

// Statuses for errors found by http_parser itself.
ParseEvent eventForLibraryError(http_errno err) {
  switch (err) {
    case HPE_HEADER_OVERFLOW:
      return {ParseEvent::kError, 431, "request head too large"};
    case HPE_INVALID_METHOD:
      return {ParseEvent::kError, 501, "unknown method"};
    case HPE_INVALID_TRANSFER_ENCODING:
      return {ParseEvent::kError, 501, "unsupported transfer coding"};
    case HPE_UNEXPECTED_CONTENT_LENGTH:
      return {ParseEvent::kError, 400, "conflicting Content-Length or Transfer-Encoding"};
    case HPE_INVALID_CONTENT_LENGTH:
      return {ParseEvent::kError, 400, "invalid Content-Length"};
    default:
      return {ParseEvent::kError, 400, http_errno_description(err)};
  }
}

}  // namespace

const http_parser_settings RequestParser::kSettings = [] {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_message_begin = &RequestParser::onMessageBegin;
  s.on_url = &RequestParser::onUrl;
  s.on_header_field = &RequestParser::onHeaderField;
  s.on_header_value = &RequestParser::onHeaderValue;
  s.on_headers_complete = &RequestParser::onHeadersComplete;
  s.on_body = &RequestParser::onBody;
  s.on_message_complete = &RequestParser::onMessageComplete;
  s.on_chunk_header = &RequestParser::onChunkHeader;
  return s;
}();

std::string_view HttpRequest::header(std::string_view name) const {
  for (const auto& [field, value] : headers) {
    if (equalsIgnoreCase(field, name)) return value;
  }
  return {};
}

RequestParser::RequestParser(HttpLimits limits) : limits_(limits) {
  // http_parser caps the head with one process-wide size. Our own scan enforces the
  // configured caps before the library sees the bytes, so the library's cap only has to
  // stay out of their way: raise it when the configured limits exceed its default.
  size_t needed = limits_.max_target + kRequestLineSlack + limits_.max_header_bytes + 1024;
  if (needed > kLibraryMaxHeaderSize) {
    http_parser_set_max_header_size(static_cast<uint32_t>(
        std::min<size_t>(needed, std::numeric_limits<uint32_t>::max())));
  }
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

HttpRequest RequestParser::takeRequest() {
  HttpRequest out = std::move(request_);
  request_ = HttpRequest();
  return out;
}

bool RequestParser::reject(int status, std::string_view reason) {
  fail(status, reason);
  return false;
}

int RequestParser::fail(int status, std::string_view reason) {
  if (error_status_ == 0) {
    error_status_ = status;
    error_reason_ = reason;
  }
  return -1;
}

ParseEvent RequestParser::feed(std::string_view& data) {
  if (error_status_ != 0) return errorEvent();
  if (data.empty()) return {};
  if (after_upgrade_) {
    fail(400, "bytes after an upgrade request are not HTTP");
    return errorEvent();
  }
  if (scan_ != Scan::kDone && !scanHead(data)) return errorEvent();

  for (;;) {
    size_t allowed = data.size();
    if (chunk_scan_ != ChunkScan::kOff && !scanChunks(data, allowed)) return errorEvent();
    size_t consumed = http_parser_execute(&parser_, &kSettings, data.data(), allowed);
    data.remove_prefix(std::min(consumed, data.size()));
    http_errno err = HTTP_PARSER_ERRNO(&parser_);
    if (err == HPE_PAUSED) {
      http_parser_pause(&parser_, 0);
    } else if (err != HPE_OK) {
      if (error_status_ == 0) {
        ParseEvent ev = eventForLibraryError(err);
        fail(ev.status, ev.reason);
      }
      return errorEvent();
    }
    if (pending_ != ParseEvent::kNeedMore) {
      ParseEvent ev{pending_, 0, {}};
      pending_ = ParseEvent::kNeedMore;
      return ev;
    }
    // Paused at the end of a chunked head: the body is scanned before the library reads it.
    if (skip_head_lf_ && !data.empty()) continue;
    if (!data.empty()) {
      // http_parser stopped early without saying why; never guess at the framing.
      fail(400, "unparseable request");
      return errorEvent();
    }
    return {};
  }
}

bool RequestParser::scanChunks(std::string_view data, size_t& allowed) {
  // A chunk-size line holds a size and perhaps extensions; nothing needs more than this,
  // and leading zeros or padding past it only serve to confuse.
  constexpr size_t kMaxChunkLine = 1024;
  // Past this the size is refused with 413 by onChunkHeader anyway; saturate, never wrap.
  constexpr uint64_t kSizeCeiling = uint64_t{1} << 60;
  size_t i = 0;
  if (skip_head_lf_) {
    if (data.front() == '\n') ++i;
    skip_head_lf_ = false;
  }
  for (; i < data.size(); ++i) {
    char c = data[i];
    switch (chunk_scan_) {
      case ChunkScan::kOff:
        return true;
      case ChunkScan::kSize:
      case ChunkScan::kExtension:
        if (++chunk_line_bytes_ > kMaxChunkLine) return reject(400, "chunk-size line too long");
        if (c == '\r' && chunk_line_bytes_ > 1) {
          chunk_scan_ = ChunkScan::kSizeLf;
        } else if (chunk_scan_ == ChunkScan::kExtension) {
          if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
            return reject(400, "control character in chunk extension");
          }
        } else if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
          int digit = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
          chunk_left_ = std::min(kSizeCeiling, chunk_left_ * 16 + static_cast<uint64_t>(digit));
        } else if ((c == ';' || isOws(c)) && chunk_line_bytes_ > 1) {
          chunk_scan_ = ChunkScan::kExtension;
        } else {
          return reject(400, "invalid chunk size");
        }
        break;
      case ChunkScan::kSizeLf:
        if (c != '\n') return reject(400, "bare CR in chunk-size line");
        chunk_scan_ = chunk_left_ == 0 ? ChunkScan::kTrailerStart : ChunkScan::kData;
        break;
      case ChunkScan::kData: {
        uint64_t skip = std::min<uint64_t>(chunk_left_, data.size() - i);
        chunk_left_ -= skip;
        i += static_cast<size_t>(skip) - 1;
        if (chunk_left_ == 0) chunk_scan_ = ChunkScan::kDataCr;
        break;
      }
      case ChunkScan::kDataCr:
      case ChunkScan::kDataLf:
        if (c != (chunk_scan_ == ChunkScan::kDataCr ? '\r' : '\n')) {
          return reject(400, "chunk data not followed by CRLF");
        }
        if (chunk_scan_ == ChunkScan::kDataCr) {
          chunk_scan_ = ChunkScan::kDataLf;
        } else {
          chunk_scan_ = ChunkScan::kSize;
          chunk_line_bytes_ = 0;
        }
        break;
      case ChunkScan::kTrailerStart:
      case ChunkScan::kTrailerLine:
        if (c == '\r') {
          chunk_scan_ = chunk_scan_ == ChunkScan::kTrailerStart ? ChunkScan::kTrailerEndLf : ChunkScan::kTrailerLf;
        } else if (c == '\n') {
          if (chunk_scan_ == ChunkScan::kTrailerStart) {
            chunk_scan_ = ChunkScan::kOff;
            allowed = i + 1;
            return true;
          }
          chunk_scan_ = ChunkScan::kTrailerStart;
        } else {
          chunk_scan_ = ChunkScan::kTrailerLine;
        }
        break;
      case ChunkScan::kTrailerLf:
      case ChunkScan::kTrailerEndLf:
        if (c != '\n') return reject(400, "bare CR in chunked trailer");
        if (chunk_scan_ == ChunkScan::kTrailerEndLf) {
          // The body ends here; what follows is the next request's, scanned as a head.
          chunk_scan_ = ChunkScan::kOff;
          allowed = i + 1;
          return true;
        }
        chunk_scan_ = ChunkScan::kTrailerStart;
        break;
    }
  }
  return true;
}

// Scans the head (request line and field lines) from the front of `data` until the empty
// line that ends it, keeping state across calls. http_parser then parses the same bytes;
// the scan only refuses what the library would let through.
bool RequestParser::scanHead(std::string_view data) {
  const char* p = data.data();
  const char* const end = p + data.size();
  while (p < end) {
    switch (scan_) {
      case Scan::kStart:
        // Like http_parser, ignore empty lines before a request (RFC 9112 §2.2).
        if (*p == '\r' || *p == '\n') {
          ++p;
        } else {
          scan_ = Scan::kRequestLine;
        }
        break;

      case Scan::kRequestLine: {
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* stop = lf != nullptr ? lf : end;
        if (!checkHeadCr(p, stop, lf != nullptr)) return false;
        request_line_bytes_ += static_cast<size_t>(stop - p);
        request_line_spaces_ += static_cast<size_t>(std::count(p, stop, ' '));
        if (request_line_bytes_ > limits_.max_target + kRequestLineSlack) {
          return reject(414, "request-target too long");
        }
        if (lf == nullptr) return true;
        // "GET /" with no version is HTTP/0.9, whose response has no status line at all.
        if (request_line_spaces_ < 2) return reject(400, "HTTP/0.9 is not supported");
        p = lf + 1;
        scan_ = Scan::kLineStart;
        break;
      }

      case Scan::kLineStart:
        if (*p == '\r') {
          scan_ = Scan::kFinalCr;
          ++p;
        } else if (*p == '\n') {
          scan_ = Scan::kDone;
          return true;
        } else if (isOws(*p)) {
          // obs-fold: RFC 9112 §5.2 lets a server reject it with 400.
          return reject(400, "obsolete line folding in header");
        } else if (*p == ':') {
          return reject(400, "empty header name");
        } else {
          if (++head_field_count_ > limits_.max_header_count) {
            return reject(431, "too many header fields");
          }
          scan_ = Scan::kFieldName;
        }
        break;

      case Scan::kFieldName: {
        const char* q = p;
        while (q < end && *q != ':') {
          // RFC 9112 §5.1: no whitespace between the field name and the colon, else 400;
          // a proxy could read the name differently from us (request smuggling).
          if (isOws(*q)) return reject(400, "whitespace in header name");
          if (*q == '\r' || *q == '\n') return reject(400, "header line without colon");
          ++q;
        }
        head_field_bytes_ += static_cast<size_t>(q - p);
        if (q < end) {
          ++head_field_bytes_;
          scan_ = Scan::kFieldValue;
          ++q;
        }
        if (head_field_bytes_ > limits_.max_header_bytes) {
          return reject(431, "request header fields too large");
        }
        p = q;
        break;
      }

      case Scan::kFieldValue: {
        const char* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
        const char* stop = lf != nullptr ? lf + 1 : end;
        if (!checkHeadCr(p, lf != nullptr ? lf : end, lf != nullptr)) return false;
        head_field_bytes_ += static_cast<size_t>(stop - p);
        if (head_field_bytes_ > limits_.max_header_bytes) {
          return reject(431, "request header fields too large");
        }
        p = stop;
        if (lf != nullptr) scan_ = Scan::kLineStart;
        break;
      }

      case Scan::kFinalCr:
        // http_parser takes any byte after this CR as the end of the head; only LF is.
        if (*p != '\n') return reject(400, "bare CR in request head");
        scan_ = Scan::kDone;
        return true;

      case Scan::kDone:
        return true;
    }
  }
  return true;
}

bool RequestParser::checkHeadCr(const char* p, const char* stop, bool line_ends) {
  if (head_cr_ && p != stop) return reject(400, "bare CR in request head");
  head_cr_ = false;
  const char* cr = static_cast<const char*>(std::memchr(p, '\r', static_cast<size_t>(stop - p)));
  if (cr == nullptr) return true;
  // A CR is allowed only as the last byte of its line.
  if (cr + 1 != stop) return reject(400, "bare CR in request head");
  head_cr_ = !line_ends;
  return true;
}

void RequestParser::resetMessage() {
  request_.method.clear();
  request_.target.clear();
  request_.path.clear();
  request_.query.clear();
  request_.headers.clear();
  // One allocation up front instead of a regrowth every few fields; the vector leaves
  // with the request, so this is per request.
  request_.headers.reserve(kExpectedHeaderCount);
  request_.body.clear();
  request_.http_major = 1;
  request_.http_minor = 1;
  request_.keep_alive = true;
  request_.expect_continue = false;
  in_field_name_ = false;
  host_count_ = 0;
  content_length_count_ = 0;
  transfer_encoding_count_ = 0;
  chunked_ = false;
  trailer_bytes_ = 0;
  trailer_count_ = 0;
  chunk_scan_ = ChunkScan::kOff;
  skip_head_lf_ = false;
  chunk_line_bytes_ = 0;
  chunk_left_ = 0;
}

int RequestParser::onMessageBegin(http_parser* p) {
  RequestParser* rp = self(p);
  rp->resetMessage();
  rp->phase_ = ParsePhase::kHead;
  return 0;
}

int RequestParser::onUrl(http_parser* p, const char* at, size_t len) {
  RequestParser* rp = self(p);
  if (p->method == HTTP_CONNECT) return rp->fail(501, "CONNECT is not supported");
  if (rp->request_.target.size() + len > rp->limits_.max_target) {
    return rp->fail(414, "request-target too long");
  }
  rp->request_.target.append(at, len);
  return 0;
}

int RequestParser::onHeaderField(http_parser* p, const char* at, size_t len) {
  RequestParser* rp = self(p);
  if (rp->phase_ == ParsePhase::kBody) {
    // A trailer field of a chunked body: counted against the caps, then dropped, so that
    // nothing sent after the body can pose as a header checked before it.
    if (!rp->in_field_name_ && ++rp->trailer_count_ > rp->limits_.max_header_count) {
      return rp->fail(431, "too many trailer fields");
    }
    rp->in_field_name_ = true;
    rp->trailer_bytes_ += len;
    if (rp->trailer_bytes_ > rp->limits_.max_header_bytes) {
      return rp->fail(431, "trailer fields too large");
    }
    return 0;
  }
  if (!rp->in_field_name_) {
    if (!rp->request_.headers.empty() && !rp->finishField()) return -1;
    rp->request_.headers.emplace_back();
    rp->in_field_name_ = true;
  }
  std::string& name = rp->request_.headers.back().first;
  size_t old_size = name.size();
  name.resize(old_size + len);
  for (size_t i = 0; i < len; ++i) name[old_size + i] = lowerAscii(at[i]);
  return 0;
}

int RequestParser::onHeaderValue(http_parser* p, const char* at, size_t len) {
  RequestParser* rp = self(p);
  rp->in_field_name_ = false;
  if (rp->phase_ == ParsePhase::kBody) {
    rp->trailer_bytes_ += len;
    if (rp->trailer_bytes_ > rp->limits_.max_header_bytes) {
      return rp->fail(431, "trailer fields too large");
    }
    return 0;
  }
  if (rp->request_.headers.empty()) return rp->fail(400, "header value without a name");
  rp->request_.headers.back().second.append(at, len);
  return 0;
}

// Runs once a field line is complete: trims the value and checks the fields that decide
// framing and routing, which must be unambiguous.
bool RequestParser::finishField() {
  auto& [name, value] = request_.headers.back();
  size_t keep = value.size();
  while (keep > 0 && isOws(value[keep - 1])) --keep;
  size_t skip = 0;
  while (skip < keep && isOws(value[skip])) ++skip;
  if (keep != value.size()) value.resize(keep);
  if (skip != 0) value.erase(0, skip);

  if (name == "host") {
    ++host_count_;
  } else if (name == "content-length") {
    ++content_length_count_;
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return reject(400, "invalid Content-Length");
    }
  } else if (name == "transfer-encoding") {
    ++transfer_encoding_count_;
    // Only "chunked" alone: anything else would need a decoder we do not have.
    if (!equalsIgnoreCase(value, "chunked")) return reject(501, "unsupported transfer coding");
    chunked_ = true;
  } else if (name == "expect") {
    if (!equalsIgnoreCase(value, "100-continue")) return reject(417, "unsupported expectation");
    request_.expect_continue = true;
  }
  return true;
}

bool RequestParser::headComplete() {
  if (!request_.headers.empty() && !finishField()) return false;
  request_.http_major = parser_.http_major;
  request_.http_minor = parser_.http_minor;
  if (parser_.http_major != 1) return reject(505, "only HTTP/1.0 and HTTP/1.1 are supported");
  if (host_count_ > 1) return reject(400, "repeated Host header");
  if (host_count_ == 0 && parser_.http_minor >= 1) return reject(400, "missing Host header");
  if (content_length_count_ > 1) return reject(400, "repeated Content-Length header");
  if (transfer_encoding_count_ > 1) return reject(400, "repeated Transfer-Encoding header");
  if (content_length_count_ > 0 && transfer_encoding_count_ > 0) {
    return reject(400, "both Content-Length and Transfer-Encoding");
  }
  // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
  if (chunked_ && parser_.http_minor == 0) {
    return reject(400, "Transfer-Encoding in an HTTP/1.0 request");
  }
  bool has_body = chunked_;
  if (content_length_count_ > 0) {
    // Refuse before reading a byte of the body; with "Expect: 100-continue" the client
    // has not even sent it yet.
    if (parser_.content_length > limits_.max_body) return reject(413, "request body too large");
    has_body = parser_.content_length > 0;
    request_.body.reserve(static_cast<size_t>(parser_.content_length));
  }
  request_.method.assign(http_method_str(static_cast<http_method>(parser_.method)));
  request_.keep_alive = http_should_keep_alive(&parser_) != 0;
  splitTarget(request_.target, request_.path, request_.query);
  // http_parser sets its flag for "Upgrade" with "Connection: upgrade" (CONNECT was refused).
  request_.upgrade = parser_.upgrade != 0;
  phase_ = ParsePhase::kBody;
  if (request_.expect_continue && has_body) {
    pending_ = ParseEvent::kExpectContinue;
    http_parser_pause(&parser_, 1);
  } else if (stop_at_head_) {
    pending_ = ParseEvent::kHeadComplete;
    http_parser_pause(&parser_, 1);
  }
  if (chunked_) {
    // Stop the library here so that feed() scans the body's framing before it reads it.
    chunk_scan_ = ChunkScan::kSize;
    skip_head_lf_ = true;
    http_parser_pause(&parser_, 1);
  }
  return true;
}

int RequestParser::onHeadersComplete(http_parser* p) {
  RequestParser* rp = self(p);
  return rp->headComplete() ? 0 : -1;
}

int RequestParser::onChunkHeader(http_parser* p) {
  RequestParser* rp = self(p);
  // http_parser puts the announced chunk size in content_length: refuse before buffering.
  if (p->content_length > rp->limits_.max_body - std::min(rp->limits_.max_body, rp->request_.body.size())) {
    return rp->fail(413, "request body too large");
  }
  return 0;
}

int RequestParser::onBody(http_parser* p, const char* at, size_t len) {
  RequestParser* rp = self(p);
  if (rp->request_.body.size() + len > rp->limits_.max_body) {
    return rp->fail(413, "request body too large");
  }
  rp->request_.body.append(at, len);
  return 0;
}

int RequestParser::onMessageComplete(http_parser* p) {
  RequestParser* rp = self(p);
  rp->phase_ = ParsePhase::kIdle;
  rp->pending_ = ParseEvent::kRequest;
  rp->after_upgrade_ = rp->request_.upgrade;
  rp->scan_ = Scan::kStart;
  rp->request_line_bytes_ = 0;
  rp->request_line_spaces_ = 0;
  rp->head_field_bytes_ = 0;
  rp->head_field_count_ = 0;
  rp->head_cr_ = false;
  // Stop here so each feed() yields at most one request, and the caller can stop reading
  // (pipelining cap, Connection: close) between requests.
  http_parser_pause(p, 1);
  return 0;
}

}  // namespace gust
