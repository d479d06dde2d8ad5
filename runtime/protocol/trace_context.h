#pragma once
// W3C Trace Context (https://www.w3.org/TR/trace-context/): reading `traceparent` and
// `tracestate` from a request, making the span of an invocation a child of the caller's, and
// writing the headers back out for whatever the function calls or publishes.
//
// A header that breaks the spec's rules is treated as absent, as the spec says: the caller
// starts a new trace, and a `tracestate` that comes without a valid `traceparent`, or that is
// itself invalid, is dropped whole. Nothing here throws or allocates without a bound.

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace gust {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

inline constexpr uint8_t kTraceFlagSampled = 0x01;

// The parsed form; frame.h's TraceContext is the pair of header strings an invocation carries.
struct SpanContext {
  TraceId trace_id{};
  // This span: for a parsed header, the caller's span (the header's "parent-id"); for a
  // child, the new span.
  SpanId span_id{};
  // The span this one is a child of; all zero for a root or for a context read off a header.
  SpanId parent_span_id{};
  uint8_t flags = 0;
  // Already validated and normalized (no empty members, no whitespace around them); empty
  // when there is none.
  std::string tracestate;

  bool sampled() const { return (flags & kTraceFlagSampled) != 0; }
  bool hasParent() const;
  std::string traceIdHex() const;
  std::string spanIdHex() const;
  std::string parentSpanIdHex() const;  // "" when there is no parent
  // The header to send on: always version 00, with this span as the parent-id and only the
  // flags version 00 defines (sampled); other bits are reserved and must go out as zero.
  std::string traceparent() const;
};

// Parses a `traceparent` value. Version 00 must be exactly 55 characters:
// 00-<32 lowercase hex, not all zero>-<16 lowercase hex, not all zero>-<2 lowercase hex>.
// A higher version (not "ff") is read by the same prefix and may carry more after a '-'
// following the flags. Surrounding spaces and tabs (HTTP's optional whitespace) are ignored.
// Anything else is nullopt: treat the header as absent.
std::optional<SpanContext> parseTraceparent(std::string_view value);

// Validates a `tracestate` value (several headers joined with ','): list members
// key=value with the spec's key and value grammar, unique keys, at most 32 of them. Returns
// the normalized list, or nullopt when it is invalid and must be dropped. A list longer
// than 512 characters is cut down the way the spec allows: members over 128 characters go
// first, then members from the right end, until it fits.
std::optional<std::string> normalizeTracestate(std::string_view value);

inline constexpr size_t kMaxTracestateMembers = 32;
inline constexpr size_t kMaxTracestateLength = 512;

// The context of an incoming request: the parsed `traceparent` carrying the normalized
// `tracestate`, or nullopt when `traceparent` is absent or invalid (and then `tracestate`
// is ignored, as the spec requires). A tracestate that is invalid is dropped on its own.
std::optional<SpanContext> extractTraceContext(std::optional<std::string_view> traceparent,
                                                std::optional<std::string_view> tracestate);

// The trace id (32 hex digits) of a traceparent this host wrote, without parsing the rest;
// empty when the value is too short to hold one.
inline std::string_view traceIdIn(std::string_view traceparent) {
  return traceparent.size() >= 35 ? traceparent.substr(3, 32) : std::string_view();
}

// Random trace and span ids from a fast PRNG seeded once from getrandom(2). One per thread:
// not thread-safe. Ids are never all zero (the spec's "invalid" value).
class TraceIdGenerator {
 public:
  TraceIdGenerator();
  explicit TraceIdGenerator(uint64_t seed);  // reproducible ids for tests

  TraceId newTraceId();
  SpanId newSpanId();
  // The first span of a new trace.
  SpanContext newRoot(bool sampled = true);
  // A span under `parent`: same trace, flags and tracestate; a new span id; `parent`'s span
  // as its parent.
  SpanContext childOf(const SpanContext& parent);

 private:
  std::mt19937_64 rng_;
};

}  // namespace gust
