#include "runtime/protocol/trace_context.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

using namespace gust;

namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
constexpr const char* kTraceHex = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr const char* kSpanHex = "00f067aa0ba902b7";

std::string repeat(char c, size_t n) { return std::string(n, c); }

}  // namespace

TEST_CASE("a valid version 00 traceparent parses and formats back unchanged") {
  auto ctx = parseTraceparent(kValid);
  REQUIRE(ctx);
  CHECK(ctx->traceIdHex() == kTraceHex);
  CHECK(ctx->spanIdHex() == kSpanHex);
  CHECK(ctx->sampled());
  CHECK_FALSE(ctx->hasParent());
  CHECK(ctx->parentSpanIdHex().empty());
  CHECK(ctx->traceparent() == kValid);

  auto unsampled = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  REQUIRE(unsampled);
  CHECK_FALSE(unsampled->sampled());
}

TEST_CASE("HTTP optional whitespace around the traceparent value is ignored") {
  CHECK(parseTraceparent(std::string(" \t") + kValid + "  "));
}

TEST_CASE("a traceparent that breaks version 00's rules is treated as absent") {
  const std::string trace = kTraceHex;
  const std::string span = kSpanHex;
  for (const std::string& bad : {
           std::string(""),
           std::string("00"),
           "00-" + trace + "-" + span,                                 // no flags
           "00-" + trace + "-" + span + "-0",                          // short flags
           "00-" + trace + "-" + span + "-01-",                        // version 00 has exactly four fields
           "00-" + trace + "-" + span + "-01-extra",                   //
           "00-" + trace + "-" + span + "-010",                        // 56 characters
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-" + span + "-01",      // uppercase trace id
           "00-" + trace + "-00F067AA0BA902B7-01",                     // uppercase parent id
           "00-" + trace + "-" + span + "-0A",                         // uppercase flags
           "00-" + repeat('0', 32) + "-" + span + "-01",               // all-zero trace id
           "00-" + trace + "-" + repeat('0', 16) + "-01",              // all-zero parent id
           "00-" + trace + "-" + span + "-0g",                         // flags not hex
           "00-" + trace.substr(0, 31) + "x-" + span + "-01",          // trace id not hex
           "00-" + trace + "-" + span.substr(0, 15) + "z-01",          // parent id not hex
           "00_" + trace + "-" + span + "-01",                         // wrong separator
           "00-" + trace + "-" + span + "_01",                         //
           "00-" + trace.substr(0, 30) + "-" + span + "-01xx",         // fields shifted
           "0-" + trace + "-" + span + "-01",                          // one-digit version
           "0g-" + trace + "-" + span + "-01",                         // version not hex
           "ff-" + trace + "-" + span + "-01",                         // version ff is forbidden
           "00-" + trace + "-" + span + "-01\t-",                      //
       }) {
    CHECK_MESSAGE(!parseTraceparent(bad), bad);
  }
}

TEST_CASE("a future traceparent version is read by the version 00 prefix, extra fields ignored") {
  const std::string trace = kTraceHex;
  const std::string span = kSpanHex;
  auto exact = parseTraceparent("cc-" + trace + "-" + span + "-01");
  REQUIRE(exact);
  CHECK(exact->traceIdHex() == trace);
  auto longer = parseTraceparent("cc-" + trace + "-" + span + "-09-what-the-future-will-be-like");
  REQUIRE(longer);
  CHECK(longer->sampled());
  // Sent on as version 00, and the flag bits version 00 does not define go out as zero.
  CHECK(longer->traceparent() == "00-" + trace + "-" + span + "-01");

  // The future version still needs a '-' right after the flags, valid ids and hex flags.
  CHECK_FALSE(parseTraceparent("cc-" + trace + "-" + span + "-01.what-the-future-will-be-like"));
  CHECK_FALSE(parseTraceparent("cc-" + trace + "-" + span + "-01what"));
  CHECK_FALSE(parseTraceparent("cc-" + repeat('0', 32) + "-" + span + "-01-x"));
  CHECK_FALSE(parseTraceparent("cc-" + trace + "-" + span + "-zz-x"));
  CHECK_FALSE(parseTraceparent("cc-" + trace + "-" + span));  // shorter than 55
}

TEST_CASE("a valid tracestate is normalized: whitespace and empty members go, order stays") {
  CHECK(*normalizeTracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE") == "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  CHECK(*normalizeTracestate(" rojo=1 ,\t, congo=2\t,,") == "rojo=1,congo=2");
  CHECK(*normalizeTracestate("") == "");
  CHECK(*normalizeTracestate(" , ") == "");
  CHECK(*normalizeTracestate("tenant1@vendor=x,9tenant@sys_1-*/=y") == "tenant1@vendor=x,9tenant@sys_1-*/=y");
  CHECK(*normalizeTracestate("k=inner space ok") == "k=inner space ok");
  CHECK(*normalizeTracestate("k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~") == "k=!\"#$%&'()*+-./:;<>?@[\\]^_`{|}~");
}

TEST_CASE("an invalid tracestate is dropped whole") {
  for (const std::string& bad : {
           std::string("novalue"),
           std::string("k="),                     // a value needs at least one character
           std::string("Upper=1"),                // keys are lowercase
           std::string("1abc=1"),                 // a simple key starts with a letter
           std::string("k=a=b"),                  // '=' is not allowed in a value
           std::string("k=1,k=2"),                // keys are unique
           std::string("k=\x01"),                 // control character
           std::string("k=caf\xc3\xa9"),          // non-ASCII
           std::string("tenant@=1"),              // empty system id
           std::string("@vendor=1"),              // empty tenant id
           std::string("t@Vendor=1"),             // system id is lowercase
           std::string("t@1vendor=1"),            // system id starts with a letter
           std::string("t@vendorvendorven=1"),    // system id over 14 characters
           std::string("a@b@c=1"),                //
           "k=" + repeat('v', 257),               // value over 256 characters
           repeat('k', 257) + "=1",               // key over 256 characters
           repeat('t', 242) + "@v=1",             // tenant id over 241 characters
       }) {
    CHECK_MESSAGE(!normalizeTracestate(bad), bad);
  }
  CHECK(normalizeTracestate(repeat('k', 256) + "=1"));
  CHECK(normalizeTracestate("k=" + repeat('v', 256)));
  CHECK(normalizeTracestate(repeat('t', 241) + "@v=1"));
  CHECK(normalizeTracestate("t@vendorvendorve=1"));
}

TEST_CASE("a tracestate holds at most 32 members; one more makes it invalid") {
  std::string list;
  for (int i = 0; i < 32; ++i) list += (i ? ",k" : "k") + std::to_string(i) + "=v";
  auto kept = normalizeTracestate(list);
  REQUIRE(kept);
  CHECK(*kept == list);
  CHECK_FALSE(normalizeTracestate(list + ",k32=v"));
  CHECK(normalizeTracestate(list + ",,  ,"));  // empty members do not count
}

TEST_CASE("a tracestate over 512 characters loses its large members first, then members from the right") {
  const std::string big = "big=" + repeat('b', 200);  // 204 characters: over 128
  std::string small_members;
  for (int i = 0; i < 10; ++i) small_members += ",s" + std::to_string(i) + "=" + repeat('x', 40);  // 43 each
  auto fitted = normalizeTracestate(big + small_members);
  REQUIRE(fitted);
  // Without the big member: 10 * 43 + 9 commas = 439, which fits.
  CHECK(*fitted == small_members.substr(1));

  std::string many;
  for (int i = 0; i < 20; ++i) many += (i ? ",m" : "m") + std::to_string(i) + "=" + repeat('y', 40);
  auto cut = normalizeTracestate(many);
  REQUIRE(cut);
  CHECK(cut->size() <= kMaxTracestateLength);
  CHECK(cut->starts_with("m0="));
  CHECK(cut->find("m10=") != std::string::npos);   // 474 characters + 10 commas fit; one more does not
  CHECK(cut->find("m11=") == std::string::npos);
  CHECK_FALSE(normalizeTracestate(repeat(' ', 40000)));  // input bounded before any work
}

TEST_CASE("extracting from request headers ignores tracestate without a valid traceparent") {
  auto ctx = extractTraceContext(std::string_view(kValid), std::string_view("a=1, b=2"));
  REQUIRE(ctx);
  CHECK(ctx->tracestate == "a=1,b=2");
  CHECK_FALSE(extractTraceContext(std::nullopt, std::string_view("a=1")));
  CHECK_FALSE(extractTraceContext(std::string_view("00-garbage"), std::string_view("a=1")));
  auto bad_state = extractTraceContext(std::string_view(kValid), std::string_view("A=1"));
  REQUIRE(bad_state);  // an invalid tracestate does not invalidate the traceparent
  CHECK(bad_state->tracestate.empty());
}

TEST_CASE("a child span keeps the trace, flags and tracestate and gets a new span id") {
  TraceIdGenerator ids(42);
  auto parent = extractTraceContext(std::string_view(kValid), std::string_view("a=1"));
  REQUIRE(parent);
  SpanContext child = ids.childOf(*parent);
  CHECK(child.traceIdHex() == kTraceHex);
  CHECK(child.parentSpanIdHex() == kSpanHex);
  CHECK(child.spanIdHex() != kSpanHex);
  CHECK(child.sampled());
  CHECK(child.tracestate == "a=1");
  CHECK(child.traceparent() == std::string("00-") + kTraceHex + "-" + child.spanIdHex() + "-01");
  auto reparsed = parseTraceparent(child.traceparent());
  REQUIRE(reparsed);
  CHECK(reparsed->trace_id == child.trace_id);
  CHECK(reparsed->span_id == child.span_id);

  SpanContext grandchild = ids.childOf(child);
  CHECK(grandchild.parent_span_id == child.span_id);
  CHECK(grandchild.trace_id == parent->trace_id);
}

TEST_CASE("new roots have random, distinct, well-formed ids") {
  TraceIdGenerator ids;
  std::set<std::string> traces;
  std::set<std::string> spans;
  for (int i = 0; i < 10000; ++i) {
    SpanContext root = ids.newRoot();
    CHECK_FALSE(root.hasParent());
    traces.insert(root.traceIdHex());
    spans.insert(root.spanIdHex());
    auto reparsed = parseTraceparent(root.traceparent());
    REQUIRE(reparsed);
    CHECK(reparsed->sampled());
  }
  CHECK(traces.size() == 10000);
  CHECK(spans.size() == 10000);
  CHECK_FALSE(ids.newRoot(false).sampled());

  // Two generators seeded by the kernel do not repeat each other.
  TraceIdGenerator other;
  CHECK(other.newTraceId() != ids.newTraceId());
  // A fixed seed gives the same ids: tests can pin them.
  CHECK(TraceIdGenerator(7).newTraceId() == TraceIdGenerator(7).newTraceId());
}
