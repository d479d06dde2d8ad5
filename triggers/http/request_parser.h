#pragma once
// Incremental HTTP/1.1 request parser: bytes in, events out, no socket and no loop.
//
// It wraps Debian's http_parser and adds the checks that library leaves out or is lenient
// about (README.md, "HTTP", lists them). One parser serves one connection; requests come out
// one at a time, in order. After an error the parser refuses all further input: the
// connection must answer the error's status and close, because the framing of whatever
// follows can no longer be trusted.
//
// Owning thread: whichever thread feeds it; it is not shared. Not copyable or movable
// (http_parser calls back into it through a pointer to itself).

#include <http_parser.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gust {

struct HttpLimits {
  size_t max_target = 8 * 1024;         // request-target bytes; more -> 414
  size_t max_header_count = 100;        // field lines in the head (or trailer); more -> 431
  size_t max_header_bytes = 16 * 1024;  // all field lines of the head, CRLFs included -> 431
  size_t max_body = 4 * 1024 * 1024;    // decoded body bytes; more -> 413
  // Timeouts, enforced by the server: from the first byte of a request until its head is
  // complete, from then until its body is complete, and between requests on a keep-alive
  // connection.
  uint64_t header_timeout_ms = 10000;
  uint64_t body_timeout_ms = 30000;
  uint64_t idle_timeout_ms = 60000;
};

struct HttpRequest {
  std::string method;  // as http_parser names it: "GET", "M-SEARCH"
  std::string target;  // the request-target as sent
  std::string path;    // the target's path, still percent-encoded; "*" for OPTIONS *
  std::string query;   // raw, without the '?'; empty when absent
  // Field names are lowercased once here (they are case-insensitive), values have their
  // surrounding whitespace removed. Trailer fields of a chunked body are never merged in.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // decoded (de-chunked)
  int http_major = 1;
  int http_minor = 1;
  bool keep_alive = true;
  bool expect_continue = false;  // the client sent "Expect: 100-continue"
  // The client asks to switch protocols ("Upgrade" named in Connection, RFC 9110 §7.8). The
  // parser takes nothing after such a request: the bytes that follow may be the new
  // protocol's, and only the handler decides whether to switch (HttpServer).
  bool upgrade = false;
  // Set by the server, not the parser: for a request that came over a Unix socket, the
  // uid of the process at the other end (SO_PEERCRED), so a listener can check who calls.
  // Unset for TCP.
  std::optional<uint32_t> unix_peer_uid;
  // Set by the server for TCP: the peer's IP address ("127.0.0.1", "::1"). Empty for Unix.
  std::string tcp_peer_address;

  // The first field named `name` (any case), or an empty view.
  std::string_view header(std::string_view name) const;
};

enum class ParsePhase {
  kIdle,  // between requests: no byte of the next one seen yet
  kHead,  // the request line or header fields are being received
  kBody,  // the head is complete; the body (or a chunked trailer) is being received
};

struct ParseEvent {
  enum Kind {
    kNeedMore,        // every byte was consumed; feed more
    kRequest,         // a request is complete: takeRequest()
    kExpectContinue,  // the head asks for "100 Continue" and its body will be accepted
    kHeadComplete,    // with stopAtHead(): the head is complete, no body byte read yet
    kError,           // answer `status` and close the connection
  };
  Kind kind = kNeedMore;
  int status = 0;           // kError: 400, 413, 414, 417, 431, 501 or 505
  std::string_view reason;  // kError: a short static description for the problem body
};

class RequestParser {
 public:
  explicit RequestParser(HttpLimits limits = {});
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes bytes from the front of `data` up to the next event and advances `data` past
  // them. Call again with the rest until it returns kNeedMore (then `data` is empty).
  ParseEvent feed(std::string_view& data);

  // Makes every complete head an event of its own (kExpectContinue when it asks for
  // "100 Continue", else kHeadComplete) before any body byte is read, so a server can
  // refuse the request on its head alone.
  void stopAtHead(bool stop) { stop_at_head_ = stop; }

  // Moves out the request after a kRequest event.
  HttpRequest takeRequest();

  // The request being received; its head is complete at a kExpectContinue event.
  const HttpRequest& request() const { return request_; }

  ParsePhase phase() const { return phase_; }
  bool failed() const { return error_status_ != 0; }

 private:
  enum class Scan : uint8_t {
    kStart, kRequestLine, kLineStart, kFieldName, kFieldValue, kFinalCr, kDone,
  };
  // Where the scan of a chunked body is: http_parser skips the two bytes after chunk data
  // unread and lets bare CRs, LFs and control bytes through in extensions, so a proxy and
  // this parser could split the same bytes into different requests (request smuggling).
  enum class ChunkScan : uint8_t {
    kOff, kSize, kExtension, kSizeLf, kData, kDataCr, kDataLf, kTrailerStart, kTrailerLine,
    kTrailerLf, kTrailerEndLf,
  };

  static int onMessageBegin(http_parser* p);
  static int onUrl(http_parser* p, const char* at, size_t len);
  static int onHeaderField(http_parser* p, const char* at, size_t len);
  static int onHeaderValue(http_parser* p, const char* at, size_t len);
  static int onHeadersComplete(http_parser* p);
  static int onBody(http_parser* p, const char* at, size_t len);
  static int onMessageComplete(http_parser* p);
  static int onChunkHeader(http_parser* p);

  bool scanHead(std::string_view data);
  // Rejects a CR in [p, stop) that is not right before the LF at `stop` (or the buffer's
  // end, to be checked on the next feed); `line_ends` says whether an LF is at `stop`.
  bool checkHeadCr(const char* p, const char* stop, bool line_ends);
  // Scans the chunked body from the front of `data`; on success `allowed` is how many of
  // its bytes belong to this message (all of them unless the body ends inside).
  bool scanChunks(std::string_view data, size_t& allowed);
  bool finishField();
  bool headComplete();
  // Records the first error; fail() returns what http_parser callbacks return to stop.
  int fail(int status, std::string_view reason);
  bool reject(int status, std::string_view reason);
  ParseEvent errorEvent() const { return {ParseEvent::kError, error_status_, error_reason_}; }
  void resetMessage();

  static const http_parser_settings kSettings;

  HttpLimits limits_;
  bool stop_at_head_ = false;
  // An upgrade request was complete: what follows is not HTTP, and is refused if fed.
  bool after_upgrade_ = false;
  http_parser parser_;
  HttpRequest request_;
  ParsePhase phase_ = ParsePhase::kIdle;
  ParseEvent::Kind pending_ = ParseEvent::kNeedMore;
  int error_status_ = 0;
  std::string_view error_reason_;

  // Our own scan of the head, run ahead of http_parser on the same bytes, for what the
  // library accepts but we refuse (obs-fold, whitespace before a colon, HTTP/0.9) and for
  // the size caps, so oversized heads are refused before they are buffered.
  Scan scan_ = Scan::kStart;
  size_t request_line_bytes_ = 0;
  size_t request_line_spaces_ = 0;
  size_t head_field_bytes_ = 0;
  size_t head_field_count_ = 0;
  bool head_cr_ = false;  // the last head byte scanned was a CR: an LF must come next

  ChunkScan chunk_scan_ = ChunkScan::kOff;
  bool skip_head_lf_ = false;  // http_parser feeds the head's last LF again after a pause
  size_t chunk_line_bytes_ = 0;
  uint64_t chunk_left_ = 0;  // data bytes of the current chunk not yet scanned

  // Per-message bookkeeping of the callbacks.
  bool in_field_name_ = false;  // the last callback was on_header_field
  size_t host_count_ = 0;
  size_t content_length_count_ = 0;
  size_t transfer_encoding_count_ = 0;
  bool chunked_ = false;
  size_t trailer_bytes_ = 0;
  size_t trailer_count_ = 0;
};

}  // namespace gust
