#include "runtime/base/webhook_signature.h"

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

using namespace gust;
using namespace std::chrono_literals;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The vectors below were computed apart from this code: the Standard Webhooks one is the
// spec's own (its libraries' tests), the GitHub one is GitHub's documentation example, and
// the Stripe one was computed with python3's hmac module:
//   hmac.new(b"whsec_test_secret", b'1700000000.{"id":"evt_1"}', hashlib.sha256).hexdigest()
constexpr std::string_view kStandardSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kStandardId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr int64_t kStandardTime = 1614265330;
constexpr std::string_view kStandardBody = R"({"test": 2432232314})";
constexpr std::string_view kStandardSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

constexpr std::string_view kGithubSecret = "It's a Secret to Everybody";
constexpr std::string_view kGithubBody = "Hello, World!";
constexpr std::string_view kGithubSignature =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

constexpr std::string_view kStripeSecret = "whsec_test_secret";
constexpr int64_t kStripeTime = 1700000000;
constexpr std::string_view kStripeBody = R"({"id":"evt_1"})";
constexpr std::string_view kStripeMac = "248a374f50f943a28b0f6ab50faf9a7e7e29b710fa26df9fb1618b9bf8ea9c9a";

std::chrono::system_clock::time_point at(int64_t unix_seconds) {
  return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

WebhookVerifier verifier(WebhookScheme scheme, std::string_view secret, std::chrono::seconds tolerance = 300s) {
  auto v = WebhookVerifier::create(scheme, secret, tolerance);
  REQUIRE(v.ok());
  return *v;
}

Headers standardHeaders(std::string signature, std::string timestamp = std::to_string(kStandardTime)) {
  return {{"webhook-id", std::string(kStandardId)},
          {"webhook-timestamp", std::move(timestamp)},
          {"webhook-signature", std::move(signature)}};
}

WebhookProblem problemOf(const std::optional<WebhookRefusal>& refusal) {
  REQUIRE(refusal.has_value());
  return refusal->problem;
}

}  // namespace

TEST_CASE("signing gives the independently computed signature of each scheme") {
  auto key = webhookKey(WebhookScheme::kStandardWebhooks, kStandardSecret);
  REQUIRE(key.ok());
  CHECK(standardWebhookSignature(*key, kStandardId, kStandardTime, kStandardBody) == kStandardSignature);
  CHECK(githubSignature(kGithubSecret, kGithubBody) == kGithubSignature);
  CHECK(stripeSignature(kStripeSecret, kStripeTime, kStripeBody) ==
        "t=1700000000,v1=" + std::string(kStripeMac));
}

TEST_CASE("a Standard Webhooks delivery passes when any signature matches, within the tolerance either way") {
  auto v = verifier(WebhookScheme::kStandardWebhooks, kStandardSecret);
  CHECK_FALSE(v.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime)));
  CHECK_FALSE(v.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime + 300)));
  CHECK_FALSE(v.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime - 300)));
  // A rotation: an old key's signature and an unknown version beside the good one.
  std::string several = "v1a,AAAA v1,Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=  " + std::string(kStandardSignature);
  CHECK_FALSE(v.verify(standardHeaders(several), kStandardBody, at(kStandardTime)));
  // Names in any case, as a proxy may send them.
  Headers upper = {{"Webhook-Id", std::string(kStandardId)},
                   {"WEBHOOK-TIMESTAMP", std::to_string(kStandardTime)},
                   {"Webhook-Signature", std::string(kStandardSignature)}};
  CHECK_FALSE(v.verify(upper, kStandardBody, at(kStandardTime)));
  // The secret without its prefix is the same key.
  auto bare = verifier(WebhookScheme::kStandardWebhooks, kStandardSecret.substr(6));
  CHECK_FALSE(bare.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime)));
}

TEST_CASE("a Standard Webhooks delivery outside the tolerance is refused as stale, saying how old it is") {
  auto v = verifier(WebhookScheme::kStandardWebhooks, kStandardSecret);
  auto old = v.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime + 3 * 3600));
  CHECK(problemOf(old) == WebhookProblem::kStale);
  CHECK(old->message == "timestamp 1614265330 is 3h old, past the 5m tolerance");
  auto early = v.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime - 301));
  CHECK(problemOf(early) == WebhookProblem::kStale);
  CHECK(early->message == "timestamp 1614265330 is 5m1s in the future, past the 5m tolerance");
  auto wide = verifier(WebhookScheme::kStandardWebhooks, kStandardSecret, 4h);
  CHECK_FALSE(wide.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime + 3 * 3600)));
}

TEST_CASE("a Standard Webhooks delivery with another body, secret, id or timestamp does not match") {
  auto v = verifier(WebhookScheme::kStandardWebhooks, kStandardSecret);
  auto body = v.verify(standardHeaders(std::string(kStandardSignature)), R"({"test": 2432232315})", at(kStandardTime));
  CHECK(problemOf(body) == WebhookProblem::kMismatch);
  CHECK(body->message.find("g0hM") == std::string::npos);  // never the expected value
  auto other = verifier(WebhookScheme::kStandardWebhooks, "whsec_" + std::string(28, 'A'));
  CHECK(problemOf(other.verify(standardHeaders(std::string(kStandardSignature)), kStandardBody, at(kStandardTime))) ==
        WebhookProblem::kMismatch);
  Headers id = standardHeaders(std::string(kStandardSignature));
  id[0].second = "msg_other";
  CHECK(problemOf(v.verify(id, kStandardBody, at(kStandardTime))) == WebhookProblem::kMismatch);
  auto shifted = standardHeaders(std::string(kStandardSignature), std::to_string(kStandardTime + 1));
  CHECK(problemOf(v.verify(shifted, kStandardBody, at(kStandardTime))) == WebhookProblem::kMismatch);
}

TEST_CASE("a Standard Webhooks delivery with a header missing, malformed or past a bound is refused saying which") {
  auto v = verifier(WebhookScheme::kStandardWebhooks, kStandardSecret);
  auto now = at(kStandardTime);
  Headers none = {{"webhook-id", std::string(kStandardId)}, {"webhook-timestamp", std::to_string(kStandardTime)}};
  auto missing = v.verify(none, kStandardBody, now);
  CHECK(problemOf(missing) == WebhookProblem::kMissing);
  CHECK(missing->message == "no webhook-signature header");
  CHECK(v.verify(Headers{}, kStandardBody, now)->message == "no webhook-id header");
  auto text_time = v.verify(standardHeaders(std::string(kStandardSignature), "yesterday"), kStandardBody, now);
  CHECK(problemOf(text_time) == WebhookProblem::kMalformed);
  CHECK(text_time->message == "webhook-timestamp \"yesterday\" is not a time in Unix seconds");
  CHECK(problemOf(v.verify(standardHeaders(std::string(kStandardSignature), "-5"), kStandardBody, now)) ==
        WebhookProblem::kMalformed);
  CHECK(problemOf(v.verify(standardHeaders(std::string(kStandardSignature), std::string(40, '9')), kStandardBody,
                           now)) == WebhookProblem::kMalformed);
  CHECK(problemOf(v.verify(standardHeaders("v1,not base64!"), kStandardBody, now)) == WebhookProblem::kMalformed);
  CHECK(problemOf(v.verify(standardHeaders("v2,abcd"), kStandardBody, now)) == WebhookProblem::kMalformed);
  std::string many;
  for (int i = 0; i < 17; ++i) many += std::string(kStandardSignature) + " ";
  auto too_many = v.verify(standardHeaders(many), kStandardBody, now);
  CHECK(problemOf(too_many) == WebhookProblem::kMalformed);
  CHECK(too_many->message == "webhook-signature holds more than 16 signatures");
  CHECK(problemOf(v.verify(standardHeaders(std::string(5000, ' ')), kStandardBody, now)) ==
        WebhookProblem::kMalformed);
  Headers twice = standardHeaders(std::string(kStandardSignature));
  twice.emplace_back("webhook-signature", "v1,AAAA");
  auto dup = v.verify(twice, kStandardBody, now);
  CHECK(problemOf(dup) == WebhookProblem::kMalformed);
  CHECK(dup->message == "webhook-signature is sent more than once");
  Headers long_id = standardHeaders(std::string(kStandardSignature));
  long_id[0].second = std::string(300, 'x');
  CHECK(problemOf(v.verify(long_id, kStandardBody, now)) == WebhookProblem::kMalformed);
}

TEST_CASE("a GitHub delivery passes with its signature and is refused without it, malformed or for another body") {
  auto v = verifier(WebhookScheme::kGithub, kGithubSecret);
  auto now = at(0);  // GitHub signs no timestamp: any time will do
  Headers good = {{"x-hub-signature-256", std::string(kGithubSignature)}};
  CHECK_FALSE(v.verify(good, kGithubBody, now));
  Headers upper_hex = {{"X-Hub-Signature-256", "sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17"}};
  CHECK_FALSE(v.verify(upper_hex, kGithubBody, now));
  CHECK(problemOf(v.verify(good, "Hello, World?", now)) == WebhookProblem::kMismatch);
  CHECK(problemOf(verifier(WebhookScheme::kGithub, "another").verify(good, kGithubBody, now)) ==
        WebhookProblem::kMismatch);
  auto none = v.verify(Headers{{"x-hub-signature", "sha1=abc"}}, kGithubBody, now);
  CHECK(problemOf(none) == WebhookProblem::kMissing);
  CHECK(none->message == "no X-Hub-Signature-256 header");
  for (std::string bad : {"757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                          "sha256=757107ea", "sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}) {
    CHECK(problemOf(v.verify(Headers{{"x-hub-signature-256", bad}}, kGithubBody, now)) == WebhookProblem::kMalformed);
  }
}

TEST_CASE("a Stripe delivery passes when any v1 matches within the tolerance, and says why it is refused otherwise") {
  auto v = verifier(WebhookScheme::kStripe, kStripeSecret);
  auto now = at(kStripeTime + 60);
  auto header = [](std::string value) { return Headers{{"stripe-signature", std::move(value)}}; };
  std::string good = "t=1700000000,v1=" + std::string(kStripeMac);
  CHECK_FALSE(v.verify(header(good), kStripeBody, now));
  CHECK_FALSE(v.verify(header("t=1700000000,v1=" + std::string(64, '0') + ",v0=abc,v1=" + std::string(kStripeMac)),
                       kStripeBody, now));
  CHECK(problemOf(v.verify(header(good), R"({"id":"evt_2"})", now)) == WebhookProblem::kMismatch);
  CHECK(problemOf(v.verify(header("t=1700000001,v1=" + std::string(kStripeMac)), kStripeBody, now)) ==
        WebhookProblem::kMismatch);
  auto stale = v.verify(header(good), kStripeBody, at(kStripeTime + 3600));
  CHECK(problemOf(stale) == WebhookProblem::kStale);
  CHECK(stale->message == "timestamp 1700000000 is 1h old, past the 5m tolerance");
  CHECK(v.verify(Headers{}, kStripeBody, now)->message == "no Stripe-Signature header");
  CHECK(v.verify(header("v1=" + std::string(kStripeMac)), kStripeBody, now)->message ==
        "Stripe-Signature holds no t=<timestamp>");
  CHECK(v.verify(header("t=1700000000"), kStripeBody, now)->message == "Stripe-Signature holds no v1=<64 hex digits>");
  CHECK(problemOf(v.verify(header("t=1700000000,t=1700000000,v1=" + std::string(kStripeMac)), kStripeBody, now)) ==
        WebhookProblem::kMalformed);
  CHECK(problemOf(v.verify(header("t=soon,v1=" + std::string(kStripeMac)), kStripeBody, now)) ==
        WebhookProblem::kMalformed);
  CHECK(problemOf(v.verify(header(good + ",junk"), kStripeBody, now)) == WebhookProblem::kMalformed);
  std::string many = "t=1700000000";
  for (int i = 0; i < 40; ++i) many += ",v1=" + std::string(kStripeMac);
  CHECK(problemOf(v.verify(header(many), kStripeBody, now)) == WebhookProblem::kMalformed);
}

TEST_CASE("a verifier refuses an empty secret, a Standard Webhooks secret that is not base64, and no tolerance") {
  auto empty = WebhookVerifier::create(WebhookScheme::kGithub, "");
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.error().message == "the github secret is empty");
  auto not_base64 = WebhookVerifier::create(WebhookScheme::kStandardWebhooks, "whsec_not*base64");
  REQUIRE_FALSE(not_base64.ok());
  CHECK(not_base64.error().message.find("not*base64") == std::string::npos);  // never the secret
  CHECK_FALSE(WebhookVerifier::create(WebhookScheme::kStripe, "s", 0s).ok());
  // Stripe keys with the secret as written, whsec_ included, which need not be base64.
  CHECK(WebhookVerifier::create(WebhookScheme::kStripe, "whsec_not*base64").ok());
}

TEST_CASE("schemes are named as manifests write them") {
  for (auto s : {WebhookScheme::kStandardWebhooks, WebhookScheme::kGithub, WebhookScheme::kStripe}) {
    CHECK(webhookSchemeNamed(webhookSchemeName(s)) == s);
  }
  CHECK_FALSE(webhookSchemeNamed("svix"));
  CHECK_FALSE(webhookSchemeHasTimestamp(WebhookScheme::kGithub));
  CHECK(webhookSchemeHasTimestamp(WebhookScheme::kStripe));
}
