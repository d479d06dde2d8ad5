#include "runtime/base/webhook_signature.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/base/digest.h"
#include "runtime/base/duration.h"
#include "runtime/base/text.h"

namespace gust {
namespace {

constexpr std::string_view kStandardPrefix = "whsec_";
constexpr size_t kMacBytes = 32;
// Unix seconds stay below 15 digits for millions of years; a longer "timestamp" is not one.
constexpr size_t kMaxTimestampDigits = 15;

// The field names, as messages show them; requests are matched without case.
constexpr std::string_view kIdField = "webhook-id";
constexpr std::string_view kTimestampField = "webhook-timestamp";
constexpr std::string_view kSignatureField = "webhook-signature";
constexpr std::string_view kGithubField = "X-Hub-Signature-256";
constexpr std::string_view kStripeField = "Stripe-Signature";

// Field names are ASCII tokens, so the C locale's comparison is the HTTP one.
bool sameFieldName(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Only an OpenSSL without HMAC-SHA256 (or out of memory) fails: nothing a caller could
// recover from, and no exception may cross the loop (STYLE 9).
[[noreturn]] void noHmac() {
  std::fprintf(stderr, "gust: OpenSSL could not compute HMAC-SHA256\n");
  std::abort();
}

WebhookRefusal refuse(WebhookProblem problem, std::string message) { return {problem, std::move(message)}; }

WebhookRefusal missing(std::string_view field) {
  return refuse(WebhookProblem::kMissing, "no " + std::string(field) + " header");
}

std::optional<int64_t> unixSeconds(std::string_view text) {
  if (text.empty() || text.size() > kMaxTimestampDigits) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.front() == '-' || text.front() == '+') {
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> fromHex(std::string_view text) {
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  if (text.size() % 2 != 0) return std::nullopt;
  std::string out(text.size() / 2, '\0');
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return out;
}

// "is 3h old" / "is 10m in the future", rounded to seconds.
std::string ageText(int64_t age_s) {
  auto shown = formatDuration(std::chrono::seconds(age_s < 0 ? -age_s : age_s));
  return age_s < 0 ? "is " + shown + " in the future" : "is " + shown + " old";
}

// Nullopt when `timestamp` is within `tolerance` of `now`, either way.
std::optional<WebhookRefusal> checkAge(int64_t timestamp, std::chrono::system_clock::time_point now,
                                       std::chrono::seconds tolerance) {
  int64_t now_s = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  int64_t age_s = now_s - timestamp;
  if (age_s <= tolerance.count() && -age_s <= tolerance.count()) return std::nullopt;
  return refuse(WebhookProblem::kStale, "timestamp " + std::to_string(timestamp) + " " + ageText(age_s) +
                                            ", past the " + formatDuration(tolerance) + " tolerance");
}

// The next item of `rest` up to `separator`, which it drops.
std::string_view nextItem(std::string_view& rest, char separator) {
  size_t end = rest.find(separator);
  std::string_view item = rest.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  return item;
}

bool anyMatches(const std::vector<std::string>& signatures, const std::string& expected) {
  // Every candidate is compared, so the time taken does not say which one matched.
  bool matched = false;
  for (const auto& s : signatures) matched |= constantTimeEquals(s, expected);
  return matched;
}

}  // namespace

std::string_view webhookSchemeName(WebhookScheme scheme) {
  switch (scheme) {
    case WebhookScheme::kStandardWebhooks: return "standard-webhooks";
    case WebhookScheme::kGithub: return "github";
    case WebhookScheme::kStripe: return "stripe";
  }
  return "?";
}

std::optional<WebhookScheme> webhookSchemeNamed(std::string_view name) {
  for (auto s : {WebhookScheme::kStandardWebhooks, WebhookScheme::kGithub, WebhookScheme::kStripe}) {
    if (webhookSchemeName(s) == name) return s;
  }
  return std::nullopt;
}

bool webhookSchemeHasTimestamp(WebhookScheme scheme) { return scheme != WebhookScheme::kGithub; }

std::string_view webhookProblemText(WebhookProblem problem) {
  switch (problem) {
    case WebhookProblem::kMissing: return "signature missing";
    case WebhookProblem::kMalformed: return "signature malformed";
    case WebhookProblem::kStale: return "timestamp outside tolerance";
    case WebhookProblem::kMismatch: return "signature does not match";
  }
  return "signature refused";
}

std::string hmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // HMAC() with a null key pointer would mean "reuse the last key": give it a real one.
  static const char kNoKey = 0;
  const void* key_data = key.empty() ? &kNoKey : key.data();
  if (HMAC(EVP_sha256(), key_data, static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
           data.size(), mac, &size) == nullptr) {
    noHmac();
  }
  return std::string(reinterpret_cast<const char*>(mac), size);
}

std::string standardWebhookSignature(std::string_view secret_bytes, std::string_view id, int64_t timestamp,
                                     std::string_view body) {
  std::string signed_text;
  signed_text.reserve(id.size() + body.size() + 24);
  signed_text.append(id).append(".").append(std::to_string(timestamp)).append(".").append(body);
  return "v1," + base64Encode(hmacSha256(secret_bytes, signed_text));
}

std::string githubSignature(std::string_view secret, std::string_view body) {
  return "sha256=" + toHex(hmacSha256(secret, body));
}

std::string stripeSignature(std::string_view secret, int64_t timestamp, std::string_view body) {
  std::string t = std::to_string(timestamp);
  return "t=" + t + ",v1=" + toHex(hmacSha256(secret, t + "." + std::string(body)));
}

Result<std::string> webhookKey(WebhookScheme scheme, std::string_view secret) {
  if (secret.empty()) {
    return makeError(ErrorKind::kBadInput, "the " + std::string(webhookSchemeName(scheme)) + " secret is empty");
  }
  if (scheme != WebhookScheme::kStandardWebhooks) return std::string(secret);
  std::string_view encoded = secret.starts_with(kStandardPrefix) ? secret.substr(kStandardPrefix.size()) : secret;
  auto key = base64Decode(encoded);
  if (!key || key->empty()) {
    return makeError(ErrorKind::kBadInput,
                     "a standard-webhooks secret is whsec_ followed by base64 (as the sender shows it, e.g. "
                     "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw), and this one is not");
  }
  return std::move(*key);
}

Result<WebhookVerifier> WebhookVerifier::create(WebhookScheme scheme, std::string_view secret,
                                                std::chrono::seconds tolerance) {
  if (tolerance.count() <= 0 || tolerance > kMaxWebhookTolerance) {
    return makeError(ErrorKind::kBadInput, "a signature's tolerance must be from 1s to " +
                                               formatDuration(kMaxWebhookTolerance) + ", not " +
                                               std::to_string(tolerance.count()) + "s");
  }
  auto key = webhookKey(scheme, secret);
  if (!key) return key.error();
  return WebhookVerifier(scheme, std::move(*key), tolerance);
}

void WebhookVerifier::take(WebhookFields& fields, std::string_view name, std::string_view value) const {
  auto keep = [&](std::optional<std::string_view>& slot, std::string_view field) {
    if (!sameFieldName(name, field)) return;
    if (slot && fields.duplicate.empty()) fields.duplicate = field;
    slot = value;
  };
  switch (scheme_) {
    case WebhookScheme::kStandardWebhooks:
      keep(fields.id, kIdField);
      keep(fields.timestamp, kTimestampField);
      keep(fields.signature, kSignatureField);
      break;
    case WebhookScheme::kGithub: keep(fields.signature, kGithubField); break;
    case WebhookScheme::kStripe: keep(fields.signature, kStripeField); break;
  }
}

std::optional<WebhookRefusal> WebhookVerifier::verify(const WebhookFields& fields, std::string_view body,
                                                      std::chrono::system_clock::time_point now) const {
  if (!fields.duplicate.empty()) {
    return refuse(WebhookProblem::kMalformed, std::string(fields.duplicate) + " is sent more than once");
  }
  switch (scheme_) {
    case WebhookScheme::kStandardWebhooks: {
      if (!fields.id) return missing(kIdField);
      if (!fields.timestamp) return missing(kTimestampField);
      if (!fields.signature) return missing(kSignatureField);
      if (fields.id->empty() || fields.id->size() > kMaxWebhookIdBytes) {
        return refuse(WebhookProblem::kMalformed,
                      "webhook-id must be 1 to " + std::to_string(kMaxWebhookIdBytes) + " bytes");
      }
      auto timestamp = unixSeconds(*fields.timestamp);
      if (!timestamp) {
        return refuse(WebhookProblem::kMalformed, "webhook-timestamp " + quote(*fields.timestamp) +
                                                      " is not a time in Unix seconds");
      }
      if (fields.signature->size() > kMaxWebhookHeaderBytes) {
        return refuse(WebhookProblem::kMalformed,
                      "webhook-signature is longer than " + std::to_string(kMaxWebhookHeaderBytes) + " bytes");
      }
      if (auto stale = checkAge(*timestamp, now, tolerance_)) return stale;
      // Space-separated "version,signature" entries; versions other than v1 (v1a, an
      // asymmetric signature) are not ours to check, and pass over.
      std::vector<std::string> signatures;
      size_t entries = 0;
      for (std::string_view rest = *fields.signature; !rest.empty();) {
        std::string_view entry = nextItem(rest, ' ');
        if (entry.empty()) continue;
        if (++entries > kMaxWebhookSignatures) {
          return refuse(WebhookProblem::kMalformed, "webhook-signature holds more than " +
                                                        std::to_string(kMaxWebhookSignatures) + " signatures");
        }
        if (!entry.starts_with("v1,")) continue;
        auto mac = base64Decode(entry.substr(3));
        if (mac && mac->size() == kMacBytes) signatures.push_back(std::move(*mac));
      }
      if (signatures.empty()) {
        return refuse(WebhookProblem::kMalformed, "webhook-signature holds no v1,<base64 HMAC-SHA256> entry");
      }
      std::string signed_text;
      signed_text.append(*fields.id).append(".").append(*fields.timestamp).append(".").append(body);
      if (anyMatches(signatures, hmacSha256(key_, signed_text))) return std::nullopt;
      return refuse(WebhookProblem::kMismatch, "no signature in webhook-signature matches the body and the secret");
    }
    case WebhookScheme::kGithub: {
      if (!fields.signature) return missing(kGithubField);
      std::string_view value = *fields.signature;
      std::optional<std::string> mac;
      if (value.starts_with("sha256=") && value.size() == 7 + 2 * kMacBytes) mac = fromHex(value.substr(7));
      if (!mac) {
        return refuse(WebhookProblem::kMalformed, std::string(kGithubField) + " must be sha256=<64 hex digits>");
      }
      if (constantTimeEquals(*mac, hmacSha256(key_, body))) return std::nullopt;
      return refuse(WebhookProblem::kMismatch, std::string(kGithubField) + " does not match the body and the secret");
    }
    case WebhookScheme::kStripe: {
      if (!fields.signature) return missing(kStripeField);
      if (fields.signature->size() > kMaxWebhookHeaderBytes) {
        return refuse(WebhookProblem::kMalformed, std::string(kStripeField) + " is longer than " +
                                                      std::to_string(kMaxWebhookHeaderBytes) + " bytes");
      }
      // Comma-separated key=value items: one t, one or more v1; others (v0, a test-mode
      // scheme) pass over.
      std::optional<std::string_view> t;
      std::vector<std::string> signatures;
      size_t items = 0;
      for (std::string_view rest = *fields.signature; !rest.empty();) {
        std::string_view item = nextItem(rest, ',');
        if (++items > 2 * kMaxWebhookSignatures) {
          return refuse(WebhookProblem::kMalformed, std::string(kStripeField) + " holds more than " +
                                                        std::to_string(2 * kMaxWebhookSignatures) + " items");
        }
        size_t eq = item.find('=');
        if (eq == std::string_view::npos) {
          return refuse(WebhookProblem::kMalformed,
                        std::string(kStripeField) + " item " + quote(item) + " is not key=value");
        }
        std::string_view key = item.substr(0, eq), value = item.substr(eq + 1);
        if (key == "t") {
          if (t) return refuse(WebhookProblem::kMalformed, std::string(kStripeField) + " holds t= twice");
          t = value;
        } else if (key == "v1") {
          auto mac = value.size() == 2 * kMacBytes ? fromHex(value) : std::nullopt;
          if (mac) signatures.push_back(std::move(*mac));
        }
      }
      if (!t) return refuse(WebhookProblem::kMalformed, std::string(kStripeField) + " holds no t=<timestamp>");
      auto timestamp = unixSeconds(*t);
      if (!timestamp) {
        return refuse(WebhookProblem::kMalformed, std::string(kStripeField) + " timestamp " + quote(*t) +
                                                      " is not a time in Unix seconds");
      }
      if (signatures.empty()) {
        return refuse(WebhookProblem::kMalformed, std::string(kStripeField) + " holds no v1=<64 hex digits>");
      }
      if (auto stale = checkAge(*timestamp, now, tolerance_)) return stale;
      std::string signed_text;
      signed_text.append(*t).append(".").append(body);
      if (anyMatches(signatures, hmacSha256(key_, signed_text))) return std::nullopt;
      return refuse(WebhookProblem::kMismatch, "no v1 signature in " + std::string(kStripeField) +
                                                   " matches the body and the secret");
    }
  }
  return refuse(WebhookProblem::kMalformed, "unknown signature scheme");
}

Result<std::string> signWebhook(std::string_view secret, std::string_view id, int64_t timestamp,
                                std::string_view body) {
  if (!secret.starts_with("whsec_")) return makeError(ErrorKind::kBadInput, "a webhook secret starts with whsec_");
  auto key = webhookKey(WebhookScheme::kStandardWebhooks, secret);
  if (!key) return key.error();
  return standardWebhookSignature(*key, id, timestamp, body);
}

}  // namespace gust
