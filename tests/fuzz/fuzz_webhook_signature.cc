// libFuzzer target: any bytes as the header fields of each webhook signature scheme must
// give a verdict, never a crash or a read past a bound; a refusal always says what was
// wrong, and what one scheme signs, it verifies.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/base/webhook_signature.h"

namespace {

using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

// Splits `data` at NUL bytes into at most `n` pieces (the last takes the rest).
std::vector<std::string_view> pieces(std::string_view data, size_t n) {
  std::vector<std::string_view> out;
  while (out.size() + 1 < n) {
    size_t nul = data.find('\0');
    if (nul == std::string_view::npos) break;
    out.push_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  out.push_back(data);
  while (out.size() < n) out.emplace_back();
  return out;
}

void check(const gust::WebhookVerifier& v, const Headers& headers, std::string_view body,
           std::chrono::system_clock::time_point now) {
  auto refusal = v.verify(headers, body, now);
  if (refusal && refusal->message.empty()) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using gust::WebhookScheme;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto p = pieces(text, 4);  // id, timestamp, signature, body
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
  const std::string key = "0123456789abcdef0123456789abcdef";
  auto standard = gust::WebhookVerifier::create(WebhookScheme::kStandardWebhooks, "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=");
  auto github = gust::WebhookVerifier::create(WebhookScheme::kGithub, key);
  auto stripe = gust::WebhookVerifier::create(WebhookScheme::kStripe, key);
  if (!standard || !github || !stripe) __builtin_trap();
  check(*standard, {{"webhook-id", p[0]}, {"webhook-timestamp", p[1]}, {"webhook-signature", p[2]}}, p[3], now);
  check(*github, {{"x-hub-signature-256", p[2]}}, p[3], now);
  check(*stripe, {{"stripe-signature", p[2]}}, p[3], now);
  // Whatever the body, its own signature verifies.
  const std::string signature = gust::standardWebhookSignature(key, "msg_1", 1'700'000'000, p[3]);
  if (standard->verify(Headers{{"webhook-id", "msg_1"}, {"webhook-timestamp", "1700000000"}, {"webhook-signature", signature}},
                       p[3], now)) {
    __builtin_trap();
  }
  // A secret made of the input is taken or refused with a message, never more.
  for (auto scheme : {WebhookScheme::kStandardWebhooks, WebhookScheme::kGithub, WebhookScheme::kStripe}) {
    auto v = gust::WebhookVerifier::create(scheme, p[0]);
    if (!v && v.error().message.empty()) __builtin_trap();
  }
  return 0;
}
