#pragma once
// Webhook signatures, signed and checked: the one owner of the three schemes Gust knows.
//
//   standard-webhooks  https://www.standardwebhooks.com/: `webhook-id`, `webhook-timestamp`
//                      (Unix seconds) and `webhook-signature`, space-separated `v1,<base64>`
//                      entries of HMAC-SHA256 over `id.timestamp.body`; the secret is
//                      `whsec_<base64>` and the key is its decoded bytes.
//   github             `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`; no
//                      timestamp, so no protection against replay.
//   stripe             `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 over
//                      `t.body`, keyed with the secret as it is written (whsec_ included).
//
// The HTTP trigger checks a route's signature with it before the function runs
// (triggers/http/webhook_verify.h), a worker checks one for gust::webhooks::verify, and
// outbound webhooks sign with it. HMACs come from OpenSSL and are compared with
// CRYPTO_memcmp; every header is bounded before it is read. A refusal says what was wrong,
// never the expected signature or the secret. Value types; no state; any thread.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/base/result.h"

namespace gust {

enum class WebhookScheme { kStandardWebhooks, kGithub, kStripe };

// "standard-webhooks", "github", "stripe": how manifests and messages name a scheme.
std::string_view webhookSchemeName(WebhookScheme scheme);
std::optional<WebhookScheme> webhookSchemeNamed(std::string_view name);
// Whether the scheme's signature carries a timestamp (so a tolerance applies).
bool webhookSchemeHasTimestamp(WebhookScheme scheme);

// How far a signature's timestamp may be from now, either way, when nobody says otherwise
// (the Standard Webhooks and Stripe libraries' default).
inline constexpr std::chrono::seconds kDefaultWebhookTolerance{300};
// The widest tolerance allowed: a day-old signature is no protection against replay.
inline constexpr std::chrono::seconds kMaxWebhookTolerance{86400};

// Bounds on what a signature header may hold; past them a request is refused as malformed
// before any HMAC is computed.
inline constexpr size_t kMaxWebhookHeaderBytes = 4096;
inline constexpr size_t kMaxWebhookSignatures = 16;
inline constexpr size_t kMaxWebhookIdBytes = 256;

// The 32 raw bytes of HMAC-SHA256(key, data).
std::string hmacSha256(std::string_view key, std::string_view data);

// The `webhook-signature` entry "v1,<base64>" for a Standard Webhooks delivery, keyed with
// `secret_bytes` (the decoded part of a whsec_ secret, see webhookKey).
std::string standardWebhookSignature(std::string_view secret_bytes, std::string_view id, int64_t timestamp,
                                     std::string_view body);
// The `X-Hub-Signature-256` value "sha256=<hex>".
std::string githubSignature(std::string_view secret, std::string_view body);
// The `Stripe-Signature` value "t=<timestamp>,v1=<hex>".
std::string stripeSignature(std::string_view secret, int64_t timestamp, std::string_view body);

// The `webhook-signature` entry "v1,<base64>" signed with a whsec_ secret as `gust webhook
// add` makes them; kBadInput when `secret` is not "whsec_" and base64.
Result<std::string> signWebhook(std::string_view secret, std::string_view id, int64_t timestamp,
                                std::string_view body);

// The HMAC key of `secret` as the sender shows it: a Standard Webhooks secret is
// `whsec_<base64>` (or the base64 alone) and its key is the decoded bytes; the others are
// their own key. Fails (kBadInput) on an empty secret, or a Standard Webhooks one that is
// not base64, saying which without showing it.
Result<std::string> webhookKey(WebhookScheme scheme, std::string_view secret);

// Why a request's signature was refused. The kind is what an anonymous caller is told; the
// message is for the log and the function (it holds no secret and no expected value).
enum class WebhookProblem {
  kMissing,    // a header the scheme needs is absent
  kMalformed,  // a header is there but is not of the scheme's form, or is past a bound
  kStale,      // the timestamp is outside the tolerance
  kMismatch,   // well-formed, in time, and no signature matches
};
struct WebhookRefusal {
  WebhookProblem problem;
  std::string message;
};
// "signature missing", "signature malformed", "timestamp outside tolerance", "signature does
// not match": the kind in a few words, as a 401 says it.
std::string_view webhookProblemText(WebhookProblem problem);

// The header fields a scheme reads, found in a request (names compared without case). A
// field sent twice is refused as malformed: a signature header is sent once.
struct WebhookFields {
  std::optional<std::string_view> id, timestamp, signature;
  std::string_view duplicate;  // the name of a field sent twice, if any
};

// Checks one scheme's signatures with one key. Value type.
class WebhookVerifier {
 public:
  // `secret` as webhookKey takes it; `tolerance` (1s to kMaxWebhookTolerance) applies to
  // the schemes with a timestamp.
  static Result<WebhookVerifier> create(WebhookScheme scheme, std::string_view secret,
                                        std::chrono::seconds tolerance = kDefaultWebhookTolerance);

  WebhookScheme scheme() const { return scheme_; }
  std::chrono::seconds tolerance() const { return tolerance_; }

  // Picks the scheme's fields out of `headers`, any range of name/value pairs whose members
  // convert to std::string_view.
  template <typename Headers>
  WebhookFields fieldsOf(const Headers& headers) const {
    WebhookFields fields;
    for (const auto& [name, value] : headers) take(fields, name, value);
    return fields;
  }
  // Nullopt when one of the request's signatures is `body`'s, made with this key within the
  // tolerance of `now`; else why not.
  std::optional<WebhookRefusal> verify(const WebhookFields& fields, std::string_view body,
                                       std::chrono::system_clock::time_point now) const;
  template <typename Headers>
  std::optional<WebhookRefusal> verify(const Headers& headers, std::string_view body,
                                       std::chrono::system_clock::time_point now) const {
    return verify(fieldsOf(headers), body, now);
  }

 private:
  WebhookVerifier(WebhookScheme scheme, std::string key, std::chrono::seconds tolerance)
      : scheme_(scheme), key_(std::move(key)), tolerance_(tolerance) {}
  void take(WebhookFields& fields, std::string_view name, std::string_view value) const;

  WebhookScheme scheme_;
  std::string key_;
  std::chrono::seconds tolerance_;
};

}  // namespace gust
