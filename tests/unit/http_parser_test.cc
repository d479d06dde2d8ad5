#include <doctest/doctest.h>

#include <string>
#include <string_view>
#include <vector>

#include "triggers/http/request_parser.h"

namespace gust {
namespace {

struct Parsed {
  std::vector<HttpRequest> requests;
  int continues = 0;
  int error = 0;
  std::string reason;
  ParsePhase phase = ParsePhase::kIdle;
};

// Feeds `bytes` in pieces of `chunk` bytes and collects every event.
Parsed parse(std::string_view bytes, size_t chunk = std::string_view::npos, HttpLimits limits = {}) {
  RequestParser parser(limits);
  Parsed out;
  while (!bytes.empty()) {
    std::string_view piece = bytes.substr(0, chunk);
    bytes.remove_prefix(piece.size());
    for (;;) {
      ParseEvent event = parser.feed(piece);
      if (event.kind == ParseEvent::kRequest) {
        out.requests.push_back(parser.takeRequest());
      } else if (event.kind == ParseEvent::kExpectContinue) {
        ++out.continues;
      } else if (event.kind == ParseEvent::kError) {
        out.error = event.status;
        out.reason = std::string(event.reason);
        out.phase = parser.phase();
        return out;
      } else {
        REQUIRE(piece.empty());
        break;
      }
    }
  }
  out.phase = parser.phase();
  return out;
}

// Every case must behave the same whole, byte by byte and in odd pieces.
const size_t kChunkings[] = {std::string_view::npos, 1, 2, 7};

int errorFor(std::string_view bytes, HttpLimits limits = {}) {
  int first = -1;
  for (size_t chunk : kChunkings) {
    Parsed p = parse(bytes, chunk, limits);
    CAPTURE(chunk);
    CAPTURE(p.reason);
    if (first == -1) first = p.error;
    CHECK(p.error == first);
  }
  return first;
}

// The reason every chunking gives for refusing `bytes` with 400; empty when it is not a 400.
std::string reasonFor400(std::string_view bytes) {
  std::string first;
  for (size_t chunk : kChunkings) {
    Parsed p = parse(bytes, chunk);
    CAPTURE(chunk);
    CAPTURE(p.reason);
    CHECK(p.error == 400);
    if (chunk == kChunkings[0]) first = p.reason;
    CHECK(p.reason == first);
  }
  return first;
}

constexpr std::string_view kChunkedHead = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

std::string chunked(std::string_view body) { return std::string(kChunkedHead) + std::string(body); }

}  // namespace

TEST_CASE("a simple GET is parsed into method, target, path, query and headers") {
  for (size_t chunk : kChunkings) {
    Parsed p = parse("GET /hello/world?x=1&y=2 HTTP/1.1\r\nHost: example.com\r\nX-Thing:  some value \r\n"
                     "Empty:\r\n\r\n",
                     chunk);
    REQUIRE(p.error == 0);
    REQUIRE(p.requests.size() == 1);
    const HttpRequest& r = p.requests[0];
    CHECK(r.method == "GET");
    CHECK(r.target == "/hello/world?x=1&y=2");
    CHECK(r.path == "/hello/world");
    CHECK(r.query == "x=1&y=2");
    CHECK(r.http_major == 1);
    CHECK(r.http_minor == 1);
    CHECK(r.keep_alive);
    CHECK_FALSE(r.expect_continue);
    REQUIRE(r.headers.size() == 3);
    CHECK(r.headers[0].first == "host");
    CHECK(r.headers[1].first == "x-thing");
    CHECK(r.headers[1].second == "some value");
    CHECK(r.headers[2].first == "empty");
    CHECK(r.headers[2].second.empty());
    CHECK(r.header("HOST") == "example.com");
    CHECK(r.header("x-THING") == "some value");
    CHECK(r.header("missing").empty());
    CHECK(r.body.empty());
    CHECK(p.phase == ParsePhase::kIdle);
  }
}

TEST_CASE("an absolute-form target is split into its path and query") {
  Parsed p = parse("GET http://example.com:8080/a/b?q#frag HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REQUIRE(p.requests.size() == 1);
  CHECK(p.requests[0].path == "/a/b");
  CHECK(p.requests[0].query == "q");
  Parsed bare = parse("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
  REQUIRE(bare.requests.size() == 1);
  CHECK(bare.requests[0].path == "/");
}

TEST_CASE("keep-alive follows the version and the Connection header") {
  auto keepAlive = [](std::string_view bytes) {
    Parsed p = parse(bytes);
    REQUIRE(p.requests.size() == 1);
    return p.requests[0].keep_alive;
  };
  CHECK(keepAlive("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  CHECK_FALSE(keepAlive("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  CHECK_FALSE(keepAlive("GET / HTTP/1.0\r\n\r\n"));
  CHECK(keepAlive("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
}

TEST_CASE("pipelined requests in one buffer come out one at a time in order") {
  std::string bytes =
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
      "GET /three HTTP/1.1\r\nHost: a\r\n\r\n";
  RequestParser parser;
  std::string_view data = bytes;
  ParseEvent e1 = parser.feed(data);
  REQUIRE(e1.kind == ParseEvent::kRequest);
  CHECK(parser.takeRequest().path == "/one");
  CHECK_FALSE(data.empty());
  ParseEvent e2 = parser.feed(data);
  REQUIRE(e2.kind == ParseEvent::kRequest);
  HttpRequest two = parser.takeRequest();
  CHECK(two.path == "/two");
  CHECK(two.body == "hello");
  ParseEvent e3 = parser.feed(data);
  REQUIRE(e3.kind == ParseEvent::kRequest);
  HttpRequest three = parser.takeRequest();
  CHECK(three.path == "/three");
  CHECK(three.headers.size() == 1);
  CHECK(data.empty());
  CHECK(parser.feed(data).kind == ParseEvent::kNeedMore);

  for (size_t chunk : kChunkings) {
    Parsed p = parse(bytes, chunk);
    REQUIRE(p.requests.size() == 3);
    CHECK(p.requests[1].body == "hello");
  }
}

TEST_CASE("the phase moves from idle to head to body and back") {
  RequestParser parser;
  std::string_view a = "POST / HTTP/1.1\r\nHo";
  CHECK(parser.phase() == ParsePhase::kIdle);
  CHECK(parser.feed(a).kind == ParseEvent::kNeedMore);
  CHECK(parser.phase() == ParsePhase::kHead);
  std::string_view b = "st: a\r\nContent-Length: 4\r\n\r\nab";
  CHECK(parser.feed(b).kind == ParseEvent::kNeedMore);
  CHECK(parser.phase() == ParsePhase::kBody);
  std::string_view c = "cd";
  CHECK(parser.feed(c).kind == ParseEvent::kRequest);
  CHECK(parser.phase() == ParsePhase::kIdle);
  CHECK(parser.takeRequest().body == "abcd");
}

TEST_CASE("empty lines before a request are ignored") {
  Parsed p = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK(p.error == 0);
  CHECK(p.requests.size() == 1);
}

TEST_CASE("a chunked body is decoded and its trailer fields are not merged into the headers") {
  std::string bytes =
      "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: sneaky\r\nHost: evil\r\n\r\n"
      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t chunk : kChunkings) {
    Parsed p = parse(bytes, chunk);
    REQUIRE(p.error == 0);
    REQUIRE(p.requests.size() == 2);
    const HttpRequest& r = p.requests[0];
    CHECK(r.body == "hello world");
    CHECK(r.header("x-trailer").empty());
    CHECK(r.header("host") == "a");
    CHECK(r.headers.size() == 2);
    CHECK(p.requests[1].path == "/next");
  }
}

TEST_CASE("whitespace between a header name and its colon is refused with 400") {
  CHECK(errorFor("GET / HTTP/1.1\r\nHost : a\r\n\r\n") == 400);
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nX-A\t: b\r\n\r\n") == 400);
}

TEST_CASE("obs-fold line folding is refused with 400") {
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n two\r\n\r\n") == 400);
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nX-Long: one\r\n\ttwo\r\n\r\n") == 400);
  CHECK(errorFor("GET / HTTP/1.1\r\n Host: a\r\n\r\n") == 400);
}

TEST_CASE("a missing Host on HTTP/1.1 is refused with 400 but HTTP/1.0 may omit it") {
  CHECK(errorFor("GET / HTTP/1.1\r\nX: y\r\n\r\n") == 400);
  CHECK(errorFor("GET / HTTP/1.0\r\n\r\n") == 0);
}

TEST_CASE("a repeated Host is refused with 400") {
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n") == 400);
  CHECK(errorFor("GET / HTTP/1.0\r\nHost: a\r\nHOST: a\r\n\r\n") == 400);
}

TEST_CASE("an HTTP/0.9 request without a version is refused with 400") {
  CHECK(errorFor("GET /\r\n\r\n") == 400);
  CHECK(errorFor("GET /\n") == 400);
}

TEST_CASE("a major version other than 1 is refused with 505") {
  CHECK(errorFor("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == 505);
  CHECK(errorFor("GET / HTTP/0.9\r\nHost: a\r\n\r\n") == 505);
}

TEST_CASE("a request-target over the limit is refused with 414 before the line ends") {
  HttpLimits limits;
  limits.max_target = 100;
  std::string at_limit = "GET /" + std::string(99, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  CHECK(errorFor(at_limit, limits) == 0);
  std::string over = "GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n";
  CHECK(errorFor(over, limits) == 414);
  // A never-ending request line is refused without waiting for its end.
  Parsed p = parse("GET /" + std::string(10000, 'a'), std::string_view::npos, limits);
  CHECK(p.error == 414);
}

TEST_CASE("too many header fields or too many header bytes are refused with 431") {
  HttpLimits limits;
  limits.max_header_count = 3;
  limits.max_header_bytes = 200;
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", limits) == 0);
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits) == 431);
  std::string big = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(200, 'v') + "\r\n\r\n";
  CHECK(errorFor(big, limits) == 431);
  std::string long_name = "GET / HTTP/1.1\r\nHost: a\r\n" + std::string(300, 'n') + ": v\r\n\r\n";
  CHECK(errorFor(long_name, limits) == 431);
  // Refused while the head is still arriving, not when it ends.
  Parsed p = parse("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(1000, 'v'), std::string_view::npos, limits);
  CHECK(p.error == 431);
}

TEST_CASE("the default limits accept a head of just under 16 KiB of fields") {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 15; ++i) head += "X-" + std::to_string(i) + ": " + std::string(1000, 'v') + "\r\n";
  head += "\r\n";
  CHECK(errorFor(head) == 0);
}

TEST_CASE("a Content-Length over the body limit is refused with 413 before the body is read") {
  HttpLimits limits;
  limits.max_body = 10;
  RequestParser parser(limits);
  std::string_view head = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
  ParseEvent e = parser.feed(head);
  CHECK(e.kind == ParseEvent::kError);
  CHECK(e.status == 413);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789", limits) == 0);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999\r\n\r\n", limits) == 413);
}

TEST_CASE("a chunked body is counted as it comes and refused with 413 past the limit") {
  HttpLimits limits;
  limits.max_body = 10;
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n",
                 limits) == 0);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "5\r\n01234\r\n6\r\n567890\r\n0\r\n\r\n",
                 limits) == 413);
  // An announced chunk that would not fit is refused before its data arrives.
  RequestParser parser(limits);
  std::string_view data = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffff\r\n";
  ParseEvent e = parser.feed(data);
  CHECK(e.kind == ParseEvent::kError);
  CHECK(e.status == 413);
}

TEST_CASE("trailer fields count against the header limits") {
  HttpLimits limits;
  limits.max_header_count = 2;
  std::string bytes = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n"
                      "A: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  CHECK(errorFor(bytes, limits) == 431);
}

TEST_CASE("CONNECT is refused with 501") {
  CHECK(errorFor("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n") == 501);
}

TEST_CASE("an unknown method is refused with 501") {
  CHECK(errorFor("BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n") == 501);
}

TEST_CASE("an Upgrade request is marked, and the parser takes nothing after it") {
  std::string bytes =
      "GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
      "\x81\x85" "abcd";  // a WebSocket frame: the new protocol's bytes, never HTTP
  for (size_t chunk : kChunkings) {
    Parsed p = parse(bytes, chunk);
    REQUIRE(p.requests.size() == 1);
    CHECK(p.requests[0].path == "/ws");
    CHECK(p.requests[0].upgrade);
    CHECK(p.error == 400);
  }
  Parsed with_body = parse(
      "POST /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 3\r\n\r\nabc");
  REQUIRE(with_body.requests.size() == 1);
  CHECK(with_body.requests[0].upgrade);
  CHECK(with_body.requests[0].body == "abc");
  CHECK(with_body.error == 0);
}

TEST_CASE("an Upgrade field without Connection: upgrade is no upgrade") {
  Parsed p = parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  REQUIRE(p.requests.size() == 2);
  CHECK_FALSE(p.requests[0].upgrade);
}

TEST_CASE("both Content-Length and Transfer-Encoding are refused with 400") {
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n") == 400);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                 "3\r\nabc\r\n0\r\n\r\n") == 400);
}

TEST_CASE("an invalid or repeated Content-Length is refused with 400") {
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n") == 400);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n") == 400);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n") == 400);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1,1\r\n\r\nx") == 400);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n") == 400);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx") == 400);
}

TEST_CASE("a transfer coding other than chunked is refused with 501") {
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n") == 501);
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n") == 501);
}

TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is refused with 400") {
  CHECK(errorFor("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400);
}

TEST_CASE("Expect 100-continue with a body raises one continue event before the request") {
  for (size_t chunk : kChunkings) {
    Parsed p = parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\nabc", chunk);
    REQUIRE(p.error == 0);
    CHECK(p.continues == 1);
    REQUIRE(p.requests.size() == 1);
    CHECK(p.requests[0].expect_continue);
    CHECK(p.requests[0].body == "abc");
  }
  RequestParser parser;
  std::string_view head = "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n";
  ParseEvent e = parser.feed(head);
  CHECK(e.kind == ParseEvent::kExpectContinue);
  CHECK(parser.request().expect_continue);
  CHECK(parser.phase() == ParsePhase::kBody);
  CHECK(parser.feed(head).kind == ParseEvent::kNeedMore);
}

TEST_CASE("Expect 100-continue without a body raises no continue event") {
  Parsed p = parse("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n");
  CHECK(p.continues == 0);
  CHECK(p.requests.size() == 1);
}

TEST_CASE("an expectation other than 100-continue is refused with 417") {
  CHECK(errorFor("POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx") == 417);
}

TEST_CASE("Expect 100-continue with a body over the limit is refused with 413 and no continue") {
  HttpLimits limits;
  limits.max_body = 2;
  Parsed p = parse("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
                   std::string_view::npos, limits);
  CHECK(p.error == 413);
  CHECK(p.continues == 0);
}

TEST_CASE("a bare CR ending the head is refused with 400") {
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\n\rX") == 400);
}

TEST_CASE("a bare CR inside the request line or a field value is refused with 400, naming the rule") {
  // http_parser refuses these too, but as "LF character expected"; the rule is ours.
  CHECK(reasonFor400("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n") == "bare CR in request head");
  CHECK(reasonFor400("GET / HTTP/1.1\rHost: a\r\n\r\n") == "bare CR in request head");
  CHECK(reasonFor400("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n") == "bare CR in request head");
  CHECK(reasonFor400("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n") == "bare CR in request head");
}

TEST_CASE("chunk extensions with control bytes are refused with 400") {
  // http_parser lets all of these through; a bare CR even shifts where it thinks the chunk
  // data starts.
  CHECK(reasonFor400(chunked("3;a=\x01\r\nabc\r\n0\r\n\r\n")) == "control character in chunk extension");
  CHECK(reasonFor400(chunked(std::string("3;a\0b\r\nabc\r\n0\r\n\r\n", 17))) ==
        "control character in chunk extension");
  CHECK(reasonFor400(chunked("3;a\x7f\r\nabc\r\n0\r\n\r\n")) == "control character in chunk extension");
  CHECK(reasonFor400(chunked("3;a\nabc\r\n0\r\n\r\n")) == "control character in chunk extension");
  CHECK(reasonFor400(chunked("3;a\rbar\r\nabc\r\n0\r\n\r\n")) == "bare CR in chunk-size line");
}

TEST_CASE("chunk data not followed by CRLF is refused with 400") {
  // http_parser skips the two bytes after the data without looking at them.
  CHECK(reasonFor400(chunked("3\r\nabcxx0\r\n\r\n")) == "chunk data not followed by CRLF");
  CHECK(reasonFor400(chunked("3\r\nabc\rx0\r\n\r\n")) == "chunk data not followed by CRLF");
  CHECK(reasonFor400(chunked("3\r\nabc\n0\r\n\r\n")) == "chunk data not followed by CRLF");
  CHECK(reasonFor400(chunked("3\r\nabcd\r\n0\r\n\r\n")) == "chunk data not followed by CRLF");
}

TEST_CASE("a bare CR in a chunk-size line or the trailer is refused with 400") {
  CHECK(reasonFor400(chunked("3\rabc\r\n0\r\n\r\n")) == "bare CR in chunk-size line");
  CHECK(reasonFor400(chunked("3\r\nabc\r\n0\r\n\rx")) == "bare CR in chunked trailer");
  CHECK(reasonFor400(chunked("3\r\nabc\r\n0\r\nX: a\rb\r\n\r\n")) == "bare CR in chunked trailer");
}

TEST_CASE("an oversize chunk-size line is refused with 400") {
  CHECK(reasonFor400(chunked(std::string(1100, '0') + "3\r\nabc\r\n0\r\n\r\n")) == "chunk-size line too long");
  CHECK(reasonFor400(chunked("3;" + std::string(1100, 'a') + "\r\nabc\r\n0\r\n\r\n")) ==
        "chunk-size line too long");
  CHECK(reasonFor400(chunked("x\r\nabc\r\n0\r\n\r\n")) == "invalid chunk size");
  CHECK(reasonFor400(chunked(";a\r\nabc\r\n0\r\n\r\n")) == "invalid chunk size");
}

TEST_CASE("strict chunk framing still accepts well-formed extensions, trailers and Expect") {
  std::string bytes = std::string(kChunkedHead.substr(0, kChunkedHead.size() - 2)) +
                      "Expect: 100-continue\r\n\r\n"
                      "3 ;name=\"v\ta\"\r\nabc\r\n00A\r\n0123456789\r\n0;last\r\nX-T: 1\r\n\r\n"
                      "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
  for (size_t chunk : kChunkings) {
    CAPTURE(chunk);
    Parsed p = parse(bytes, chunk);
    CHECK(p.error == 0);
    CHECK(p.continues == 1);
    REQUIRE(p.requests.size() == 2);
    CHECK(p.requests[0].body == "abc0123456789");
    CHECK(p.requests[1].path == "/next");
  }
}

TEST_CASE("a header line without a colon is refused with 400") {
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n") == 400);
  CHECK(errorFor("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n") == 400);
}

TEST_CASE("after an error the parser refuses everything that follows") {
  RequestParser parser;
  std::string_view bad = "GET / HTTP/1.1\r\nHost : a\r\n\r\n";
  ParseEvent e = parser.feed(bad);
  REQUIRE(e.kind == ParseEvent::kError);
  CHECK(parser.failed());
  std::string_view good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  ParseEvent again = parser.feed(good);
  CHECK(again.kind == ParseEvent::kError);
  CHECK(again.status == 400);
}

TEST_CASE("garbage bytes are refused") {
  CHECK(errorFor(std::string("\x16\x03\x01\x02\x00\x01\x00", 7)) != 0);
  constexpr char kNulInValue[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
  CHECK(errorFor(std::string(kNulInValue, sizeof(kNulInValue) - 1)) == 400);
}

}  // namespace gust
