// Inbound webhooks (issue 15, point 5) on a real host: routes whose "verify" makes the host
// check a Standard Webhooks, GitHub or Stripe signature before the function runs, sync or
// async, and a function that checks one itself through gust::webhooks::verify. Every
// signature here is made by python3's hmac module, never by the code under test.
#include <doctest/doctest.h>
#include <httplib.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/integration/harness.h"

using namespace gust::test;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// The secrets as each sender shows them. The Standard Webhooks one is the spec's example.
const std::string kHookSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const std::string kGithubSecret = "github-webhook-secret-for-tests";
const std::string kStripeSecret = "whsec_stripe_secret_for_tests";

// argv: scheme secret timestamp id body -> the signature header's value.
constexpr const char* kSigner = R"(
import base64, hashlib, hmac, sys
scheme, secret, ts, mid, body = sys.argv[1:6]
def mac(key, text): return hmac.new(key, text.encode(), hashlib.sha256)
if scheme == "standard-webhooks":
    key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
    print("v1," + base64.b64encode(mac(key, mid + "." + ts + "." + body).digest()).decode())
elif scheme == "github":
    print("sha256=" + mac(secret.encode(), body).hexdigest())
else:
    print("t=" + ts + ",v1=" + mac(secret.encode(), ts + "." + body).hexdigest())
)";

int64_t nowSeconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string manifestOf(const std::string& app, const std::string& scheme, const std::string& variable) {
  return R"({"name": ")" + app + R"(", "functions": {
    "echo": {"routes": [{"path": "/)" + app + R"(/hook", "methods": ["POST"]}],
             "verify": {"scheme": ")" + scheme + R"(", "secret": "env:)" + variable + R"("}},
    "selfverify": {"routes": [{"path": "/)" + app + R"(/self", "methods": ["POST"]}]}}})";
}

struct Webhooks {
  TempDir tmp;
  Host host{{}, tmp.path()};

  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    return runGust(args, tmp.path());
  }

  httplib::Result deploy(const std::string& app, const std::string& manifest) {
    httplib::MultipartFormDataItems items = {{"manifest", manifest, "gust.json", "application/json"},
                                             {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), app + ".so",
                                              "application/octet-stream"}};
    httplib::Client c = host.adminClient(60s);
    c.set_bearer_token_auth(host.adminToken());
    return c.Post("/v1/apps/" + app + "/versions", items);
  }

  std::string sign(const std::string& scheme, const std::string& secret, int64_t timestamp, const std::string& id,
                   const std::string& body) {
    auto r = Process({"/usr/bin/env", "python3", "-c", kSigner, scheme, secret, std::to_string(timestamp), id, body},
                     tmp.path() / "python.stderr")
                 .finish(30s);
    REQUIRE_MESSAGE(r.status == 0, r.err);
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r.out;
  }

  httplib::Result post(const std::string& path, httplib::Headers headers, const std::string& body) {
    return localClient(host.port(), 30s).Post(path, headers, body, "application/json");
  }

  // The invocations recorded for `app`'s `function`.
  json invocations(const std::string& app, const std::string& function) {
    auto r = host.adminClient().Get("/v1/invocations?app=" + app + "&function=" + function,
                                    {{"Authorization", "Bearer " + host.adminToken()}});
    REQUIRE(r);
    REQUIRE_MESSAGE(r->status == 200, r->body);
    return json::parse(r->body)["invocations"];
  }
};

httplib::Headers standardHeaders(const std::string& id, int64_t timestamp, const std::string& signature) {
  return {{"webhook-id", id}, {"webhook-timestamp", std::to_string(timestamp)}, {"webhook-signature", signature}};
}

// A 401 problem saying `kind`, and nothing of any secret.
void checkRefused(const httplib::Result& r, std::string_view kind) {
  REQUIRE(r);
  CHECK(r->status == 401);
  CHECK(r->get_header_value("Content-Type") == "application/problem+json");
  CHECK(r->body.find(kind) != std::string::npos);
  for (const auto& secret : {kHookSecret, kGithubSecret, kStripeSecret}) CHECK(r->body.find(secret) == std::string::npos);
}

}  // namespace

TEST_CASE("a route with verify runs its function only for a good signature: unsigned, mis-signed, stale and "
          "tampered replays get 401, sync or async") {
  Webhooks w;
  // Its secret is a required variable: a deploy without it is refused, naming it.
  auto refused = w.deploy("inbound", manifestOf("inbound", "standard-webhooks", "HOOK_SECRET"));
  REQUIRE(refused);
  CHECK(refused->status == 400);
  CHECK(refused->body.find("gust env set inbound HOOK_SECRET=...") != std::string::npos);
  REQUIRE(w.gust({"env", "set", "inbound", "HOOK_SECRET=" + kHookSecret, "GH_SECRET=" + kGithubSecret,
                  "STRIPE_SECRET=" + kStripeSecret})
              .status == 0);
  auto deployed = w.deploy("inbound", manifestOf("inbound", "standard-webhooks", "HOOK_SECRET"));
  REQUIRE(deployed);
  REQUIRE_MESSAGE(deployed->status == 201, deployed->body);

  const std::string body = R"({"type": "order.paid", "id": 42})";
  const int64_t now = nowSeconds();
  const std::string good = w.sign("standard-webhooks", kHookSecret, now, "msg_1", body);
  auto ok = w.post("/inbound/hook", standardHeaders("msg_1", now, good), body);
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(ok->body == body);

  checkRefused(w.post("/inbound/hook", {}, body), "signature missing");
  const std::string other = "whsec_" + std::string("QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB");
  checkRefused(w.post("/inbound/hook", standardHeaders("msg_2", now, w.sign("standard-webhooks", other, now, "msg_2", body)), body),
               "signature does not match");
  const int64_t old = now - 3600;
  checkRefused(w.post("/inbound/hook", standardHeaders("msg_3", old, w.sign("standard-webhooks", kHookSecret, old, "msg_3", body)), body),
               "timestamp outside tolerance");
  // The good signature replayed with another body, or another id, matches nothing.
  checkRefused(w.post("/inbound/hook", standardHeaders("msg_1", now, good), R"({"type": "order.paid", "id": 43})"),
               "signature does not match");
  checkRefused(w.post("/inbound/hook", standardHeaders("msg_9", now, good), body), "signature does not match");
  // Async requests are checked before they are accepted.
  auto async_headers = standardHeaders("msg_4", now, w.sign("standard-webhooks", kHookSecret, now, "msg_4", body));
  async_headers.emplace("Prefer", "respond-async");
  checkRefused(w.post("/inbound/hook", {{"Prefer", "respond-async"}}, body), "signature missing");
  auto accepted = w.post("/inbound/hook", async_headers, body);
  REQUIRE(accepted);
  CHECK(accepted->status == 202);

  // The function ran for the two good requests only; no refused one became an invocation.
  waitFor("both good requests to be recorded", [&] { return w.invocations("inbound", "echo").size() >= 2; }, 30s,
          w.host);
  auto recorded = w.invocations("inbound", "echo");
  CHECK(recorded.size() == 2);
  for (const auto& r : recorded) CHECK(r["outcome"] == "ok");
}

TEST_CASE("GitHub and Stripe signatures are checked on their routes, and gust::webhooks::verify checks all three in a "
          "function") {
  Webhooks w;
  for (const auto& [app, variable, secret] : {std::tuple{"github", "GH_SECRET", kGithubSecret},
                                              std::tuple{"stripe", "STRIPE_SECRET", kStripeSecret}}) {
    REQUIRE(w.gust({"env", "set", app, std::string(variable) + "=" + secret, "HOOK_SECRET=" + kHookSecret,
                    std::string(app) == "github" ? "STRIPE_SECRET=x" : "GH_SECRET=" + kGithubSecret})
                .status == 0);
    auto deployed = w.deploy(app, manifestOf(app, app, variable));
    REQUIRE(deployed);
    REQUIRE_MESSAGE(deployed->status == 201, deployed->body);
  }
  const std::string body = R"({"action": "opened"})";
  const int64_t now = nowSeconds();
  const std::string github = w.sign("github", kGithubSecret, 0, "", body);
  auto gh_ok = w.post("/github/hook", {{"X-Hub-Signature-256", github}}, body);
  REQUIRE(gh_ok);
  CHECK(gh_ok->status == 200);
  checkRefused(w.post("/github/hook", {}, body), "signature missing");
  checkRefused(w.post("/github/hook", {{"X-Hub-Signature-256", w.sign("github", "another", 0, "", body)}}, body),
               "signature does not match");
  checkRefused(w.post("/github/hook", {{"X-Hub-Signature-256", "sha256=abc"}}, body), "signature malformed");

  auto stripe_ok = w.post("/stripe/hook", {{"Stripe-Signature", w.sign("stripe", kStripeSecret, now, "", body)}}, body);
  REQUIRE(stripe_ok);
  CHECK(stripe_ok->status == 200);
  checkRefused(w.post("/stripe/hook", {{"Stripe-Signature", w.sign("stripe", kStripeSecret, now - 3600, "", body)}}, body),
               "timestamp outside tolerance");

  // The function checks its own request with the SDK: the same verdicts, with what was wrong.
  auto self = [&](const std::string& scheme, httplib::Headers headers) {
    return w.post("/stripe/self?scheme=" + scheme, std::move(headers), body);
  };
  auto std_ok = self("standard-webhooks", standardHeaders("msg_1", now, w.sign("standard-webhooks", kHookSecret, now, "msg_1", body)));
  REQUIRE(std_ok);
  CHECK(std_ok->status == 200);
  CHECK(std_ok->body == "verified\n");
  auto gh_self = self("github", {{"X-Hub-Signature-256", github}});
  REQUIRE(gh_self);
  CHECK(gh_self->body == "verified\n");
  auto stale = self("standard-webhooks",
                    standardHeaders("msg_2", now - 3600, w.sign("standard-webhooks", kHookSecret, now - 3600, "msg_2", body)));
  REQUIRE(stale);
  CHECK(stale->status == 401);
  CHECK(stale->body.starts_with("timestamp outside tolerance: timestamp " + std::to_string(now - 3600) + " is 1h"));
  auto wrong = self("github", {{"X-Hub-Signature-256", w.sign("github", "another", 0, "", body)}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(wrong->body == "signature does not match: X-Hub-Signature-256 does not match the body and the secret\n");
}

TEST_CASE("gust env set puts a new verify secret in force, on a process-isolated app and a thread-isolated one alike") {
  Webhooks w;
  const std::string body = R"({"action": "closed"})";
  const std::string rotated = "github-webhook-secret-rotated";
  for (const std::string isolation : {"process", "thread"}) {
    CAPTURE(isolation);
    const std::string app = "gh" + isolation;
    REQUIRE(w.gust({"env", "set", app, "GH_SECRET=" + kGithubSecret}).status == 0);
    std::string manifest = manifestOf(app, "github", "GH_SECRET");
    manifest.insert(1, R"("isolation": ")" + isolation + R"(", )");
    auto deployed = w.deploy(app, manifest);
    REQUIRE(deployed);
    REQUIRE_MESSAGE(deployed->status == 201, deployed->body);
    const std::string path = "/" + app + "/hook";
    auto before = w.post(path, {{"X-Hub-Signature-256", w.sign("github", kGithubSecret, 0, "", body)}}, body);
    REQUIRE(before);
    CHECK(before->status == 200);

    auto set = w.gust({"env", "set", app, "GH_SECRET=" + rotated});
    REQUIRE_MESSAGE(set.status == 0, set.err);
    auto old = w.post(path, {{"X-Hub-Signature-256", w.sign("github", kGithubSecret, 0, "", body)}}, body);
    checkRefused(old, "signature does not match");
    auto fresh = w.post(path, {{"X-Hub-Signature-256", w.sign("github", rotated, 0, "", body)}}, body);
    REQUIRE(fresh);
    CHECK(fresh->status == 200);
    // The secret it needs cannot be removed while a version needs it.
    auto rm = w.gust({"env", "rm", app, "GH_SECRET"});
    CHECK(rm.status != 0);
    CHECK(rm.err.find("requires GH_SECRET") != std::string::npos);
  }
}
