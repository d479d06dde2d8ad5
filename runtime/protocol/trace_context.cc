#include "runtime/protocol/trace_context.h"

#include <sys/random.h>

#include <algorithm>
#include <vector>

namespace gust {

namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// Lowercase only: the spec's HEXDIGLC. An uppercase id is invalid, not another spelling.
int lowerHexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool parseHex(std::string_view text, std::array<uint8_t, N>& out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = lowerHexValue(text[2 * i]);
    int lo = lowerHexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
std::string toHex(const std::array<uint8_t, N>& bytes) {
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 0xf];
  }
  return out;
}

template <size_t N>
bool allZero(const std::array<uint8_t, N>& bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

std::string_view trimOws(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool isLcAlpha(char c) { return c >= 'a' && c <= 'z'; }
bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isKeyChar(char c) { return isLcAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '*' || c == '/'; }

// key = simple-key / multi-tenant-key
// simple-key = lcalpha 0*255( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
// multi-tenant-key = tenant-id "@" system-id
// tenant-id = ( lcalpha / DIGIT ) 0*240( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
// system-id = lcalpha 0*13( lcalpha / DIGIT / "_" / "-"/ "*" / "/" )
bool isValidTracestateKey(std::string_view key) {
  size_t at = key.find('@');
  if (at == std::string_view::npos) {
    return !key.empty() && key.size() <= 256 && isLcAlpha(key[0]) && std::all_of(key.begin(), key.end(), isKeyChar);
  }
  std::string_view tenant = key.substr(0, at);
  std::string_view system = key.substr(at + 1);
  return !tenant.empty() && tenant.size() <= 241 && (isLcAlpha(tenant[0]) || isDigit(tenant[0])) &&
         std::all_of(tenant.begin(), tenant.end(), isKeyChar) && !system.empty() && system.size() <= 14 &&
         isLcAlpha(system[0]) && std::all_of(system.begin(), system.end(), isKeyChar);
}

// value = 0*255(chr) nblk-chr; nblk-chr = %x21-2B / %x2D-3C / %x3E-7E; chr = %x20 / nblk-chr
bool isValidTracestateValue(std::string_view value) {
  if (value.empty() || value.size() > 256) return false;
  auto nblk = [](char c) { return c >= 0x21 && c <= 0x7e && c != ',' && c != '='; };
  if (!nblk(value.back())) return false;
  return std::all_of(value.begin(), value.end(), [&](char c) { return c == ' ' || nblk(c); });
}

size_t joinedLength(const std::vector<std::string_view>& members) {
  size_t total = 0;
  for (auto m : members) total += m.size();
  return members.empty() ? 0 : total + members.size() - 1;
}

}  // namespace

bool SpanContext::hasParent() const { return !allZero(parent_span_id); }
std::string SpanContext::traceIdHex() const { return toHex(trace_id); }
std::string SpanContext::spanIdHex() const { return toHex(span_id); }
std::string SpanContext::parentSpanIdHex() const { return hasParent() ? toHex(parent_span_id) : std::string(); }

std::string SpanContext::traceparent() const {
  std::string out = "00-";
  out += toHex(trace_id);
  out += '-';
  out += toHex(span_id);
  out += '-';
  uint8_t out_flags = flags & kTraceFlagSampled;
  out += kHexDigits[out_flags >> 4];
  out += kHexDigits[out_flags & 0xf];
  return out;
}

std::optional<SpanContext> parseTraceparent(std::string_view value) {
  value = trimOws(value);
  // version "-" trace-id "-" parent-id "-" trace-flags: 2+1+32+1+16+1+2.
  constexpr size_t kVersion00Length = 55;
  if (value.size() < kVersion00Length) return std::nullopt;
  std::array<uint8_t, 1> version{};
  if (!parseHex(value.substr(0, 2), version) || version[0] == 0xff) return std::nullopt;
  if (value[2] != '-' || value[35] != '-' || value[52] != '-') return std::nullopt;
  // Version 00 has exactly these four fields. A later version may add fields after another
  // '-'; we read the fields we know and ignore the rest, as the spec asks.
  if (version[0] == 0x00 && value.size() != kVersion00Length) return std::nullopt;
  if (value.size() > kVersion00Length && value[kVersion00Length] != '-') return std::nullopt;

  SpanContext ctx;
  std::array<uint8_t, 1> flags{};
  if (!parseHex(value.substr(3, 32), ctx.trace_id) || allZero(ctx.trace_id)) return std::nullopt;
  if (!parseHex(value.substr(36, 16), ctx.span_id) || allZero(ctx.span_id)) return std::nullopt;
  if (!parseHex(value.substr(53, 2), flags)) return std::nullopt;
  ctx.flags = flags[0];
  return ctx;
}

std::optional<std::string> normalizeTracestate(std::string_view value) {
  // Bound the work before looking at members: 32 members of at most 256+1+256 characters,
  // with generous room for whitespace and empty members, is far under this.
  constexpr size_t kMaxInputLength = 32 * 1024;
  if (value.size() > kMaxInputLength) return std::nullopt;
  std::vector<std::string_view> members;
  std::vector<std::string_view> keys;
  while (true) {
    size_t comma = value.find(',');
    std::string_view member = trimOws(value.substr(0, comma));
    if (!member.empty()) {  // empty and whitespace-only members are allowed, and dropped
      size_t eq = member.find('=');
      if (eq == std::string_view::npos) return std::nullopt;
      std::string_view key = member.substr(0, eq);
      if (!isValidTracestateKey(key) || !isValidTracestateValue(member.substr(eq + 1))) return std::nullopt;
      if (std::find(keys.begin(), keys.end(), key) != keys.end()) return std::nullopt;
      if (members.size() == kMaxTracestateMembers) return std::nullopt;
      keys.push_back(key);
      members.push_back(member);
    }
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  if (joinedLength(members) > kMaxTracestateLength) {
    constexpr size_t kLargeMember = 128;
    std::erase_if(members, [](std::string_view m) { return m.size() > kLargeMember; });
    while (joinedLength(members) > kMaxTracestateLength) members.pop_back();
  }
  std::string out;
  for (auto m : members) {
    if (!out.empty()) out += ',';
    out += m;
  }
  return out;
}

std::optional<SpanContext> extractTraceContext(std::optional<std::string_view> traceparent,
                                                std::optional<std::string_view> tracestate) {
  if (!traceparent) return std::nullopt;
  auto ctx = parseTraceparent(*traceparent);
  if (!ctx) return std::nullopt;
  if (tracestate) {
    auto normalized = normalizeTracestate(*tracestate);
    if (normalized) ctx->tracestate = std::move(*normalized);
  }
  return ctx;
}

namespace {

uint64_t seedFromKernel() {
  uint64_t seed = 0;
  // getrandom(2) without flags blocks only before the kernel's pool is first initialized,
  // long over by the time a host serves; a short read cannot happen for 8 bytes.
  ssize_t n = ::getrandom(&seed, sizeof seed, 0);
  if (n != static_cast<ssize_t>(sizeof seed)) {
    std::random_device rd;
    seed = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }
  return seed;
}

}  // namespace

TraceIdGenerator::TraceIdGenerator() : TraceIdGenerator(seedFromKernel()) {}

TraceIdGenerator::TraceIdGenerator(uint64_t seed) : rng_(seed) {}

TraceId TraceIdGenerator::newTraceId() {
  TraceId id{};
  do {
    uint64_t hi = rng_();
    uint64_t lo = rng_();
    for (int i = 0; i < 8; ++i) {
      id[static_cast<size_t>(i)] = static_cast<uint8_t>(hi >> (56 - 8 * i));
      id[static_cast<size_t>(8 + i)] = static_cast<uint8_t>(lo >> (56 - 8 * i));
    }
  } while (allZero(id));
  return id;
}

SpanId TraceIdGenerator::newSpanId() {
  SpanId id{};
  do {
    uint64_t v = rng_();
    for (int i = 0; i < 8; ++i) id[static_cast<size_t>(i)] = static_cast<uint8_t>(v >> (56 - 8 * i));
  } while (allZero(id));
  return id;
}

SpanContext TraceIdGenerator::newRoot(bool sampled) {
  SpanContext ctx;
  ctx.trace_id = newTraceId();
  ctx.span_id = newSpanId();
  ctx.flags = sampled ? kTraceFlagSampled : 0;
  return ctx;
}

SpanContext TraceIdGenerator::childOf(const SpanContext& parent) {
  SpanContext child;
  child.trace_id = parent.trace_id;
  child.span_id = newSpanId();
  child.parent_span_id = parent.span_id;
  child.flags = parent.flags & kTraceFlagSampled;
  child.tracestate = parent.tracestate;
  return child;
}

}  // namespace gust
