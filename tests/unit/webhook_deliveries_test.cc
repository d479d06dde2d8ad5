#include "triggers/webhooks/webhook_deliveries.h"

#include <doctest/doctest.h>

#include "runtime/base/webhook_signature.h"

#include "runtime/store/webhook_store.h"

namespace gust {
namespace {

std::string headerOf(const std::vector<std::pair<std::string, std::string>>& headers, const std::string& name) {
  for (const auto& [n, v] : headers) {
    if (n == name) return v;
  }
  return "(none)";
}

TEST_CASE("signWebhook matches the Standard Webhooks spec's example") {
  // The spec's published example, and python3's hmac/base64 agree on it:
  // base64(HMAC-SHA256(b64decode("MfKQ..."), b'msg_p5jX....1614265330.{"test": 2432232314}')).
  auto signature = signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                               R"({"test": 2432232314})");
  REQUIRE(signature.ok());
  CHECK(*signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

TEST_CASE("signWebhook keys with the secret's decoded bytes and signs an empty body too") {
  // python3: base64(hmac.new(bytes(range(24)), b"id-1.1700000000.", sha256).digest())
  auto signature = signWebhook("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "id-1", 1700000000, "");
  REQUIRE(signature.ok());
  CHECK(*signature == "v1,FgOFO1fk5uAw8PBu7nD08JCpDT4Mv5BY1GRf3V0JOYw=");
  // Another id, timestamp or body is another signature.
  CHECK(*signWebhook("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "id-2", 1700000000, "") != *signature);
  CHECK(*signWebhook("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "id-1", 1700000001, "") != *signature);
}

TEST_CASE("signWebhook refuses a secret that is not whsec_ and base64") {
  CHECK(signWebhook("AAECAwQF", "id", 1, "").error().kind == ErrorKind::kBadInput);
  CHECK(signWebhook("whsec_not base64!", "id", 1, "").error().kind == ErrorKind::kBadInput);
  CHECK(signWebhook("whsec_", "id", 1, "").error().kind == ErrorKind::kBadInput);
}

TEST_CASE("a fresh webhook secret is whsec_ and 24 random bytes in base64, and signs") {
  auto a = newWebhookSecret();
  auto b = newWebhookSecret();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->starts_with("whsec_"));
  CHECK(a->size() == 6 + 32);
  CHECK(*a != *b);
  CHECK(signWebhook(*a, "id", 1, "x").ok());
}

TEST_CASE("webhookHeaders: webhook-id is the event's ce-id, the timestamp the clock's, ce-* pass through") {
  Webhook hook;
  hook.secret = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX";
  QueueMessage message;
  message.id = "m-1";
  message.headers = {{"ce-id", "id-1"}, {"ce-type", "order.created"}, {"traceparent", "00-abc-def-01"},
                     {"content-type", "text/plain"}, {"x-private", "kept out"}};
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));
  auto headers = webhookHeaders(hook, message, now);
  REQUIRE(headers.ok());
  CHECK(headerOf(*headers, "webhook-id") == "id-1");
  CHECK(headerOf(*headers, "webhook-timestamp") == "1700000000");
  CHECK(headerOf(*headers, "webhook-signature") == "v1,FgOFO1fk5uAw8PBu7nD08JCpDT4Mv5BY1GRf3V0JOYw=");
  CHECK(headerOf(*headers, "Content-Type") == "text/plain");
  CHECK(headerOf(*headers, "ce-type") == "order.created");
  CHECK(headerOf(*headers, "traceparent") == "00-abc-def-01");
  CHECK(headerOf(*headers, "x-private") == "(none)");

  SUBCASE("without a content-type the body is announced as JSON") {
    message.headers.pop_back();
    message.headers.pop_back();
    CHECK(headerOf(*webhookHeaders(hook, message, now), "Content-Type") == "application/json");
  }
  SUBCASE("during a rotation's overlap both secrets sign; after it only the new one") {
    hook.previous_secret = hook.secret;
    hook.previous_until = now + std::chrono::hours(24);
    hook.secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    std::string both = headerOf(*webhookHeaders(hook, message, now), "webhook-signature");
    std::string fresh = *signWebhook(hook.secret, "id-1", 1700000000, "");
    CHECK(both == fresh + " v1,FgOFO1fk5uAw8PBu7nD08JCpDT4Mv5BY1GRf3V0JOYw=");
    auto later = now + std::chrono::hours(24);
    CHECK(headerOf(*webhookHeaders(hook, message, later), "webhook-signature") ==
          *signWebhook(hook.secret, "id-1", 1700000000 + 24 * 3600, ""));
  }
}

}  // namespace
}  // namespace gust
