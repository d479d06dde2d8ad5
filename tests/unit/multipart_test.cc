#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "triggers/http/multipart.h"

namespace gust {
namespace {

using namespace std::string_view_literals;

// Captured byte for byte from curl 7.88.1 running
//   curl -F manifest=@gust.json -F module=@hello.so http://127.0.0.1:PORT/v1/apps/hello/versions
// against a one-shot socket server. hello.so holds CR, LF, "--", NUL and a lone '-' on
// its last line, so the content itself looks a little like delimiter lines.
constexpr std::string_view kCurlContentType =
    "multipart/form-data; boundary=------------------------877d5cbe40319421";
constexpr std::string_view kCurlBody =
    "--------------------------877d5cbe40319421\r\n"
    "Content-Disposition: form-data; name=\"manifest\"; filename=\"gust.json\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "{\"name\":\"hello\",\"functions\":[{\"name\":\"hello\",\"trigger\":{\"http\":{\"path\":\"/hello\"}}}]}\n"
    "\r\n"
    "--------------------------877d5cbe40319421\r\n"
    "Content-Disposition: form-data; name=\"module\"; filename=\"hello.so\"\r\n"
    "Content-Type: application/octet-stream\r\n"
    "\r\n"
    "\x7f" "ELF\x02\x01\x01\x00\r\n--\r\n\x00\x01" "binary\r\n-\r\n"
    "--------------------------877d5cbe40319421--\r\n"sv;
constexpr std::string_view kCurlModule = "\x7f" "ELF\x02\x01\x01\x00\r\n--\r\n\x00\x01" "binary\r\n-"sv;

struct FormField {
  std::string name;
  std::string content;
  std::string filename;
};

// Lays fields out the way curl does: no preamble, one Content-Disposition and
// Content-Type per part, a CRLF after the close delimiter.
std::string formBody(std::string_view boundary, const std::vector<FormField>& fields) {
  std::string body;
  for (const FormField& field : fields) {
    body += "--" + std::string(boundary) + "\r\n";
    body += "Content-Disposition: form-data; name=\"" + field.name + "\"";
    if (!field.filename.empty()) body += "; filename=\"" + field.filename + "\"";
    body += "\r\nContent-Type: application/octet-stream\r\n\r\n";
    body += field.content;
    body += "\r\n";
  }
  body += "--" + std::string(boundary) + "--\r\n";
  return body;
}

// The message of a failed parse, for REQUIRE_MESSAGE (which may evaluate it on success too).
std::string whyNot(const Result<std::vector<MultipartPart>>& parts) {
  return parts.ok() ? "parsed" : parts.error().message;
}

bool accepts(std::string_view content_type, std::string_view body, MultipartLimits limits = {}) {
  auto parts = parseMultipart(content_type, body, limits);
  if (!parts.ok()) MESSAGE(parts.error().message);
  return parts.ok();
}

std::string errorOf(std::string_view content_type, std::string_view body, MultipartLimits limits = {}) {
  auto parts = parseMultipart(content_type, body, limits);
  REQUIRE_FALSE(parts.ok());
  CHECK(parts.error().kind == ErrorKind::kBadInput);
  return parts.error().message;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

constexpr std::string_view kSimpleType = "multipart/form-data; boundary=XyZ";

std::string partWith(std::string_view headers, std::string_view content) {
  return "--XyZ\r\n" + std::string(headers) + "\r\n" + std::string(content) + "\r\n--XyZ--\r\n";
}

TEST_CASE("a body curl sent with two files parses into both parts, byte for byte") {
  auto parts = parseMultipart(kCurlContentType, kCurlBody);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  REQUIRE(parts->size() == 2);
  const MultipartPart& manifest = (*parts)[0];
  CHECK(manifest.name == "manifest");
  CHECK(manifest.filename == "gust.json");
  CHECK(manifest.content_type == "application/octet-stream");
  CHECK(manifest.body ==
        "{\"name\":\"hello\",\"functions\":[{\"name\":\"hello\",\"trigger\":{\"http\":{\"path\":\"/hello\"}}}]}\n");
  const MultipartPart& module = (*parts)[1];
  CHECK(module.name == "module");
  CHECK(module.filename == "hello.so");
  CHECK(module.body == kCurlModule);
  // The content is borrowed from the body, not copied.
  CHECK(module.body.data() >= kCurlBody.data());
  CHECK(module.body.data() + module.body.size() <= kCurlBody.data() + kCurlBody.size());
}

TEST_CASE("every truncation of a valid body is refused, most of them as truncated") {
  size_t close_end = kCurlBody.size() - 2;  // just past "--boundary--"
  for (size_t cut = 0; cut < close_end; ++cut) {
    auto parts = parseMultipart(kCurlContentType, kCurlBody.substr(0, cut));
    REQUIRE_MESSAGE(!parts.ok(), "a body cut after " << cut << " bytes was accepted");
    CHECK(parts.error().kind == ErrorKind::kBadInput);
  }
  // Cut inside the module's content: the upload is reported as truncated.
  std::string message = errorOf(kCurlContentType, kCurlBody.substr(0, kCurlBody.size() - 30));
  CHECK(message == "multipart body ends before the closing boundary (truncated upload?): part 2 has no boundary "
                   "line after it");
  // The close delimiter without its final CRLF is still complete.
  CHECK(parseMultipart(kCurlContentType, kCurlBody.substr(0, close_end)).ok());
}

TEST_CASE("a body cut off right after a delimiter line is reported as truncated") {
  for (std::string_view body : {"--XyZ"sv, "--XyZ-"sv, "--XyZ  "sv, "--XyZ\r"sv}) {
    CHECK(errorOf(kSimpleType, body) == "multipart body ends before the closing boundary (truncated upload?)");
  }
  CHECK(contains(errorOf(kSimpleType, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n\r\nabc"),
                 "truncated upload?"));
}

TEST_CASE("the content type's type, subtype and parameter names are case-insensitive") {
  std::string body = formBody("abc", {{"a", "1", ""}});
  for (std::string_view type : {"Multipart/Form-Data; BOUNDARY=abc"sv, "MULTIPART/FORM-DATA;boundary=abc"sv,
                                "multipart/form-data ; charset=utf-8;  Boundary=abc ;"sv}) {
    auto parts = parseMultipart(type, body);
    REQUIRE_MESSAGE(parts.ok(), type << ": " << whyNot(parts));
    CHECK((*parts)[0].body == "1");
  }
}

TEST_CASE("a quoted boundary may hold the separators RFC 2046 allows, and escapes are undone") {
  std::string boundary = "a'()+_,-./:=? z";
  std::string body = formBody(boundary, {{"a", "content", ""}});
  auto parts = parseMultipart("multipart/form-data; boundary=\"" + boundary + "\"", body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].body == "content");

  // \y in a quoted-string is just y.
  body = formBody("xyz", {{"a", "1", ""}});
  parts = parseMultipart(R"(multipart/form-data; boundary="x\yz")", body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].body == "1");
}

TEST_CASE("content holding CR, LF, dashes and near-boundaries is kept whole") {
  // None of these is CRLF "--XyZ" at a line start followed by the end of a delimiter line.
  std::string tricky = std::string("\r\n\r\n--\r\n-\r\r\nx\n--XyZ\r\nx\r--XyZ x--XyZ\r\nx\r\n--Xy\r\nx\r\n--xyz\r\n") +
                       std::string("\0\r\n--\0XyZ", 10) + "x--XyZ--\r\n\r\n--X";
  std::string body = formBody("XyZ", {{"bin", tricky, "b.so"}, {"tail", "\r", ""}, {"end", "\r\n", ""}});
  auto parts = parseMultipart(kSimpleType, body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  REQUIRE(parts->size() == 3);
  CHECK((*parts)[0].body == tricky);
  CHECK((*parts)[1].body == "\r");
  CHECK((*parts)[2].body == "\r\n");

  std::string carriage_returns(1000, '\r');
  body = formBody("XyZ", {{"cr", carriage_returns, ""}});
  parts = parseMultipart(kSimpleType, body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].body == carriage_returns);
}

TEST_CASE("the boundary at the start of a content line is refused, naming what followed it") {
  std::string body = partWith("Content-Disposition: form-data; name=a\r\n", "line\r\n--XyZextra");
  CHECK(errorOf(kSimpleType, body) ==
        "multipart body: a line starting with the boundary continues with \"extra\\r\\n--XyZ--\\r\\n\" before part 2; "
        "the boundary must not begin any line of a part's content, so the sender must pick one that does not occur "
        "in it");
}

TEST_CASE("preamble and epilogue are ignored, and transport padding after a boundary is accepted") {
  std::string body =
      "This is the preamble. --XyZ is not at a line start here.\r\n"
      "--XyZ  \t\r\n"
      "Content-Disposition: form-data; name=\"a\"\r\n\r\n"
      "one\r\n"
      "--XyZ \r\n"
      "content-disposition: FORM-DATA; NAME=b\r\n\r\n"
      "two\r\n"
      "--XyZ-- \r\n"
      "This is the epilogue.\r\n--XyZ\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\nignored";
  auto parts = parseMultipart(kSimpleType, body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[0].name == "a");
  CHECK((*parts)[0].body == "one");
  CHECK((*parts)[1].name == "b");
  CHECK((*parts)[1].body == "two");
  CHECK((*parts)[1].content_type.empty());
}

TEST_CASE("garbage after the closing boundary on the same line is refused") {
  std::string body = partWith("Content-Disposition: form-data; name=a\r\n", "x");
  body.insert(body.size() - 2, "junk");
  CHECK(errorOf(kSimpleType, body) ==
        "multipart body: the closing boundary line continues with \"junk\\r\\n\"; it must end the line");
}

TEST_CASE("an empty file and a part with no blank line both have empty content") {
  std::string empty_file = formBody("XyZ", {{"empty", "", "empty.bin"}});
  auto parts = parseMultipart(kSimpleType, empty_file);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].body.empty());
  CHECK((*parts)[0].filename == "empty.bin");

  // RFC 2046: body-part := MIME-part-headers [CRLF *OCTET]; the blank line is optional.
  parts = parseMultipart(kSimpleType, "--XyZ\r\nContent-Disposition: form-data; name=h\r\n\r\n--XyZ--"sv);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].name == "h");
  CHECK((*parts)[0].body.empty());
  CHECK((*parts)[0].body.data() != nullptr);  // empty, but still a view into the body
}

TEST_CASE("a form with no fields at all parses to no parts") {
  auto parts = parseMultipart(kSimpleType, "--XyZ--\r\n"sv);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK(parts->empty());
}

TEST_CASE("a body that never mentions the boundary is refused") {
  CHECK(errorOf(kSimpleType, "") ==
        "multipart body has no line \"--XyZ\" that opens the first part; the body does not match the Content-Type's "
        "boundary");
  CHECK(contains(errorOf(kSimpleType, formBody("other", {{"a", "1", ""}})), "has no line \"--XyZ\""));
}

TEST_CASE("a part without a usable Content-Disposition is refused with its number") {
  std::string good = "--XyZ\r\nContent-Disposition: form-data; name=first\r\n\r\n1\r\n";
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\nContent-Type: text/plain\r\n\r\n2\r\n--XyZ--") ==
        "multipart body: part 2 has no Content-Disposition header; each part needs Content-Disposition: "
        "form-data; name=\"...\"");
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\n\r\nno headers\r\n--XyZ--") ==
        "multipart body: part 2 has no Content-Disposition header; each part needs Content-Disposition: "
        "form-data; name=\"...\"");
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\nContent-Disposition: form-data; filename=\"x.so\"\r\n\r\n2\r\n--XyZ--") ==
        "multipart body: part 2's Content-Disposition has no name; each part needs form-data; name=\"...\"");
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\nContent-Disposition: form-data; name=\"\"\r\n\r\n2\r\n--XyZ--") ==
        "multipart body: part 2's Content-Disposition has no name; each part needs form-data; name=\"...\"");
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\nContent-Disposition: attachment; name=b\r\n\r\n2\r\n--XyZ--") ==
        "multipart body: part 2's Content-Disposition is \"attachment\"; it must be form-data");
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\nContent-Disposition: form-data; name=b\r\n"
                                    "Content-Disposition: form-data; name=c\r\n\r\n2\r\n--XyZ--") ==
        "multipart body: part 2 has more than one Content-Disposition header");
  CHECK(errorOf(kSimpleType, good + "--XyZ\r\n--XyZ--") ==
        "multipart body: part 2 is empty: a boundary line follows the previous one directly; each part needs a "
        "Content-Disposition header and a blank line");
}

TEST_CASE("Content-Disposition parameters are unescaped, case-insensitive, and unknown ones ignored") {
  std::string body = partWith(R"(Content-Disposition: form-data; NAME="mod\"ule"; FileName="C:\\dir\\a;b.so"; )"
                              R"(filename*=UTF-8''x.so; size=12)" "\r\n",
                              "x");
  auto parts = parseMultipart(kSimpleType, body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].name == "mod\"ule");
  CHECK((*parts)[0].filename == "C:\\dir\\a;b.so");
}

TEST_CASE("malformed Content-Disposition parameters are refused") {
  auto dispositionError = [](std::string_view value) {
    return errorOf(kSimpleType, partWith("Content-Disposition: " + std::string(value) + "\r\n", "x"));
  };
  CHECK(dispositionError(R"(form-data; name="unterminated)") ==
        "multipart body: part 1's Content-Disposition's parameter name has an unterminated quoted string");
  CHECK(dispositionError(R"(form-data; name="a"; name="b")") ==
        "multipart body: part 1's Content-Disposition has the parameter name twice");
  CHECK(dispositionError("form-data; name") ==
        "multipart body: part 1's Content-Disposition has a malformed parameter \"name\"; expected name=value");
  CHECK(dispositionError("form-data; name=a b") ==
        "multipart body: part 1's Content-Disposition has \"b\" where a ';' before the next parameter belongs");
  // A control character in a header value is refused before its parameters are read.
  CHECK(dispositionError("form-data; name=\"a\x01\"") ==
        "multipart body: part 1's Content-Disposition header holds a control character: \"form-data; "
        "name=\\\"a\\x01\\\"\"");
  CHECK(contains(dispositionError("form-data; name= a"), "parameter name has no value"));
}

TEST_CASE("two parts with the same name are refused") {
  std::string body = formBody("XyZ", {{"manifest", "{}", ""}, {"module", "\x7f" "ELF", ""}, {"manifest", "{}", ""}});
  CHECK(errorOf(kSimpleType, body) ==
        "multipart body: parts 1 and 3 are both named \"manifest\"; send each field once");
}

TEST_CASE("names quoted into messages are escaped to printable ASCII") {
  std::string name = "caf\xc3\xa9\t";
  std::string body = formBody("XyZ", {{name, "1", ""}, {name, "2", ""}});
  CHECK(errorOf(kSimpleType, body) ==
        "multipart body: parts 1 and 2 are both named \"caf\\xc3\\xa9\\t\"; send each field once");
}

TEST_CASE("the number of parts is bounded") {
  MultipartLimits limits;
  limits.max_parts = 2;
  std::vector<FormField> fields = {{"a", "1", ""}, {"b", "2", ""}};
  CHECK(accepts(kSimpleType, formBody("XyZ", fields), limits));
  fields.push_back({"c", "3", ""});
  CHECK(errorOf(kSimpleType, formBody("XyZ", fields), limits) ==
        "multipart body has more than 2 parts; send only the fields this endpoint takes");
  // The default allows 16.
  fields.clear();
  for (int i = 0; i < 17; ++i) fields.push_back({"f" + std::to_string(i), "x", ""});
  CHECK(contains(errorOf(kSimpleType, formBody("XyZ", fields)), "more than 16 parts"));
}

TEST_CASE("a part's header block is bounded, CRLFs included") {
  std::string disposition = "Content-Disposition: form-data; name=a\r\n";  // 40 bytes
  REQUIRE(disposition.size() == 40);
  std::string padding = "X-Pad: " + std::string(51, 'p') + "\r\n";  // 60 bytes
  std::string headers = disposition + padding;                     // 100 bytes
  MultipartLimits limits;
  limits.max_header_bytes = 100;
  std::string body = partWith(headers, "content");
  auto parts = parseMultipart(kSimpleType, body, limits);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].body == "content");
  // Also exactly at the limit when the part has no blank line and no content.
  CHECK(accepts(kSimpleType, "--XyZ\r\n" + headers + "\r\n--XyZ--", limits));

  limits.max_header_bytes = 99;
  std::string expected =
      "multipart body: part 1's headers do not end within 99 bytes; either they are too long or the blank line after "
      "them is missing";
  CHECK(errorOf(kSimpleType, partWith(headers, "content"), limits) == expected);
  CHECK(errorOf(kSimpleType, "--XyZ\r\n" + headers + "\r\n--XyZ--", limits) == expected);
  // A huge content after headers that never end is rejected by the same bound.
  CHECK(errorOf(kSimpleType, "--XyZ\r\n" + disposition + std::string(1 << 20, 'z') + "\r\n--XyZ--", limits) ==
        expected);
}

TEST_CASE("header lines must be well formed") {
  CHECK(errorOf(kSimpleType, "--XyZ\r\nContent-Disposition: form-data; name=a\r\n--XyZ--") ==
        "multipart body: part 1's headers do not end with a blank line (CRLF CRLF) before the next boundary");
  CHECK(errorOf(kSimpleType, partWith("Content-Disposition: form-data;\r\n name=a\r\n", "x")) ==
        "multipart body: part 1 has a folded header line \" name=a\"; put each field on one line");
  CHECK(errorOf(kSimpleType, partWith("Content-Disposition form-data; name=a\r\n", "x")) ==
        "multipart body: part 1 has a malformed header line \"Content-Disposition form-data; name=a\"; expected "
        "Name: value");
  CHECK(errorOf(kSimpleType, partWith("Content-Disposition: form-data; name=a\nX: y\r\n", "x")) ==
        "multipart body: part 1's Content-Disposition header holds a control character: \"form-data; name=a\\nX: "
        "y\"");
  CHECK(errorOf(kSimpleType, partWith("Content-Disposition: form-data; name=a\r\nContent-Type: text\r\n", "x")) ==
        "multipart body: part 1's Content-Type \"text\" is not a media type of the form type/subtype");
}

TEST_CASE("a part's own Content-Type is kept as sent, and other headers are ignored") {
  std::string body = partWith(
      "X-Whatever: 1\r\ncontent-type:  text/plain; charset=\"utf-8\" \r\n"
      "Content-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: binary\r\n",
      "x");
  auto parts = parseMultipart(kSimpleType, body);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  CHECK((*parts)[0].content_type == "text/plain; charset=\"utf-8\"");
}

TEST_CASE("a transfer encoding that would need decoding is refused") {
  CHECK(errorOf(kSimpleType, partWith("Content-Disposition: form-data; name=a\r\nContent-Transfer-Encoding: base64\r\n",
                                      "eA==")) ==
        "multipart body: part 1 has Content-Transfer-Encoding \"base64\", which is not supported; send the content as "
        "binary");
}

TEST_CASE("a request Content-Type other than multipart/form-data is refused") {
  std::string body = formBody("XyZ", {{"a", "1", ""}});
  CHECK(errorOf("application/json", body) ==
        "this upload must be multipart/form-data, but the request's Content-Type is \"application/json\"; send the "
        "files with curl -F name=@path");
  CHECK(contains(errorOf("multipart/mixed; boundary=XyZ", body), "must be multipart/form-data"));
  CHECK(contains(errorOf("multipart/form-data-x; boundary=XyZ", body), "must be multipart/form-data"));
  CHECK(errorOf("", body) == "the request's Content-Type \"\" is not a media type of the form type/subtype");
  CHECK(errorOf("multipart/form data; boundary=XyZ", body) ==
        "the request's Content-Type \"multipart/form data; boundary=XyZ\" is not a media type of the form "
        "type/subtype");
}

TEST_CASE("a missing or invalid boundary parameter is refused") {
  std::string body = formBody("XyZ", {{"a", "1", ""}});
  CHECK(errorOf("multipart/form-data", body) ==
        "the request's Content-Type \"multipart/form-data\" has no boundary parameter; multipart/form-data needs one "
        "to split the body");
  CHECK(errorOf("multipart/form-data; charset=utf-8", body) ==
        "the request's Content-Type \"multipart/form-data; charset=utf-8\" has no boundary parameter; "
        "multipart/form-data needs one to split the body");
  CHECK(errorOf("multipart/form-data; boundary=\"\"", body) ==
        "the multipart boundary \"\" is 0 characters long; RFC 2046 allows 1 to 70");
  std::string seventy(70, 'b');
  CHECK(accepts("multipart/form-data; boundary=" + seventy, formBody(seventy, {{"a", "1", ""}})));
  std::string seventy_one(71, 'b');
  CHECK(errorOf("multipart/form-data; boundary=" + seventy_one, formBody(seventy_one, {{"a", "1", ""}})) ==
        "the multipart boundary \"" + seventy_one.substr(0, 60) +
            "...\" is 71 characters long; RFC 2046 allows 1 to 70");
  CHECK(errorOf("multipart/form-data; boundary=\"a@b\"", body) ==
        "the multipart boundary \"a@b\" holds \"@\", which RFC 2046 does not allow (letters, digits and '()+_,-./:=? "
        "only)");
  CHECK(contains(errorOf("multipart/form-data; boundary=a!b", body), "holds \"!\""));
  CHECK(errorOf("multipart/form-data; boundary=\"ab \"", body) ==
        "the multipart boundary \"ab \" ends with a space, which RFC 2046 forbids");
  CHECK(errorOf("multipart/form-data; boundary=XyZ; boundary=XyZ", body) ==
        "the request's Content-Type has the parameter boundary twice");
  CHECK(errorOf("multipart/form-data; boundary=\"X\x01yZ\"", body) ==
        "the request's Content-Type's parameter boundary holds a control character \"\\x01\"");
  CHECK(errorOf("multipart/form-data; boundary=\"XyZ", body) ==
        "the request's Content-Type's parameter boundary has an unterminated quoted string");
}

TEST_CASE("a 64 MiB binary part full of near-delimiters and CRs parses quickly and whole") {
  // CRLF "--" and most of the boundary, then a run of CRs, each a false start of the
  // delimiter: the worst cases for a byte-by-byte search.
  std::string boundary = "------------------------877d5cbe40319421";
  std::string near_miss = "\r\n--" + boundary.substr(0, boundary.size() - 1) + "\r\n" + std::string(58, '\r');
  std::string content;
  content.reserve((64u << 20) + near_miss.size());
  while (content.size() < (64u << 20)) content += near_miss;
  std::string body = formBody(boundary, {{"manifest", "{}", "gust.json"}, {"module", content, "hello.so"}});

  auto start = std::chrono::steady_clock::now();
  auto parts = parseMultipart("multipart/form-data; boundary=" + boundary, body);
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  REQUIRE_MESSAGE(parts.ok(), whyNot(parts));
  REQUIRE(parts->size() == 2);
  CHECK((*parts)[1].body.size() == content.size());
  CHECK((*parts)[1].body == content);
  MESSAGE("parsed a 64 MiB part in " << elapsed.count() << " ms");
}

}  // namespace
}  // namespace gust
