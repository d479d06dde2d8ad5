// Outbound webhooks end to end: a real host, its admin API and CLI, and a real receiver on
// 127.0.0.1 (allowlisted with --callback-allow) that records each POST; signatures are
// checked by python3's hmac, independently of the host's OpenSSL code. Events are published
// by sending to the topic's name through the admin API, which fans out like a publish.
#include <doctest/doctest.h>
#include <httplib.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "tests/integration/harness.h"
#include "tests/support/server_thread.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Quick retries, so that a dead letter comes within seconds.
const std::vector<std::string> kHostArgs = {"--callback-allow", "127.0.0.1/32", "--webhook-attempts", "3",
                                            "--webhook-backoff", "50ms"};

struct Received {
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
};

// Records every POST to /hook and answers what `status` says for the n-th (from 1).
class Receiver {
 public:
  explicit Receiver(std::function<int(int)> status = [](int) { return 200; }) : status_(std::move(status)) {
    server_.server().Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      Received r;
      for (const auto& [name, value] : req.headers) {
        std::string lower;
        for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        r.headers[lower] = value;
      }
      r.body = req.body;
      int n;
      {
        std::lock_guard lock(mutex_);
        received_.push_back(std::move(r));
        n = static_cast<int>(received_.size());
      }
      res.status = status_(n);
      res.set_content("", "text/plain");
    });
    server_.start();
  }
  std::string url() const { return server_.url() + "/hook"; }
  std::vector<Received> received() {
    std::lock_guard lock(mutex_);
    return received_;
  }
  size_t count() { return received().size(); }

 private:
  std::function<int(int)> status_;
  std::mutex mutex_;
  std::vector<Received> received_;
  ServerThread server_;
};

class Admin {
 public:
  explicit Admin(const Host& host) : client_(host.adminClient(30s)), token_(host.adminToken()) {}
  httplib::Result post(const std::string& path, const std::string& body, httplib::Headers headers = {}) {
    headers.emplace("Authorization", "Bearer " + token_);
    return client_.Post(path, headers, body, "application/json");
  }
  json get(const std::string& path) {
    auto r = client_.Get(path, {{"Authorization", "Bearer " + token_}});
    REQUIRE(r);
    REQUIRE(r->status == 200);
    return json::parse(r->body);
  }
  // A webhook on `topic` to `url`; its answer (with the secret).
  json add(const std::string& topic, const std::string& url, const std::string& type = "") {
    json body = {{"topic", topic}, {"url", url}};
    if (!type.empty()) body["type"] = type;
    auto r = post("/v1/webhooks", body.dump());
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
    return json::parse(r->body);
  }
  // Publishes `body` to `topic`: a send to its name fans out into every subscription.
  void publish(const std::string& topic, const std::string& body, httplib::Headers headers = {}) {
    auto r = post("/v1/queues/" + topic + "/messages", body, std::move(headers));
    REQUIRE(r);
    INFO(r->body);
    REQUIRE(r->status == 201);
  }
  json webhook(const std::string& id) {
    json all = get("/v1/webhooks");
    for (const auto& h : all["webhooks"]) {
      if (h["id"] == id) return h;
    }
    FAIL("no webhook " << id);
    return {};
  }

 private:
  httplib::Client client_;
  std::string token_;
};

// Whether python3's hmac finds one of the space-separated signatures of `r` to be the
// Standard Webhooks signature by `secret`.
bool verifiedByPython(const fs::path& dir, const std::string& secret, const Received& r) {
  writeFile(dir / "secret", secret);
  writeFile(dir / "id", r.headers.at("webhook-id"));
  writeFile(dir / "ts", r.headers.at("webhook-timestamp"));
  writeFile(dir / "body", r.body);
  writeFile(dir / "sigs", r.headers.at("webhook-signature"));
  std::string script = R"(
import base64, hashlib, hmac, pathlib, sys
d = pathlib.Path(sys.argv[1])
secret = d.joinpath('secret').read_text()
key = base64.b64decode(secret[len('whsec_'):])
msg = d.joinpath('id').read_bytes() + b'.' + d.joinpath('ts').read_bytes() + b'.' + d.joinpath('body').read_bytes()
want = 'v1,' + base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()).decode()
sys.exit(0 if any(hmac.compare_digest(s, want) for s in d.joinpath('sigs').read_text().split(' ')) else 1)
)";
  writeFile(dir / "verify.py", script);
  std::string command = "python3 " + (dir / "verify.py").string() + " " + dir.string();
  return std::system(command.c_str()) == 0;
}

}  // namespace

TEST_CASE("an event published to a topic reaches its webhook signed, with the CloudEvents attributes") {
  Receiver receiver;
  TempDir tmp;
  Host host({}, tmp.path(), kHostArgs);
  Admin admin(host);
  json hook = admin.add("orders", receiver.url());
  std::string id = hook["id"];
  std::string secret = hook["secret"];
  CHECK(id.starts_with("wh_"));
  CHECK(secret.starts_with("whsec_"));
  CHECK(hook["queue"] == "orders:" + id);

  admin.publish("orders", R"({"order": 42})", {{"Gust-Header-Content-Type", "application/json"}});
  waitFor("the webhook's delivery", [&] { return receiver.count() == 1; }, 20s, host);
  Received got = receiver.received().front();
  CHECK(got.body == R"({"order": 42})");
  CHECK(got.headers["content-type"] == "application/json");
  CHECK(got.headers["ce-type"] == "orders");
  CHECK(got.headers["ce-specversion"] == "1.0");
  CHECK(!got.headers["ce-source"].empty());
  CHECK(got.headers["webhook-id"] == got.headers["ce-id"]);
  CHECK(!got.headers["webhook-id"].empty());
  long long ts = std::stoll(got.headers["webhook-timestamp"]);
  long long now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch()).count();
  CHECK(std::llabs(now - ts) < 300);
  CHECK(verifiedByPython(tmp.path(), secret, got));
  // Another secret does not verify it: the check can fail.
  CHECK(!verifiedByPython(tmp.path(), "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", got));

  // The listing shows the webhook and its drained backlog, never its secret.
  json listed = admin.get("/v1/webhooks");
  CHECK(listed.dump().find(secret) == std::string::npos);
  waitFor("the delivered event to be acked", [&] { return admin.webhook(id)["backlog"]["in_flight"] == 0; }, 10s,
          host);
  CHECK(admin.webhook(id)["backlog"]["ready"] == 0);
  CHECK(admin.webhook(id)["topic"] == "orders");

  // gust.db keeps the secret to sign with: it is the host user's alone.
  CHECK((fs::status(host.dataDir() / "gust.db").permissions() & (fs::perms::group_all | fs::perms::others_all)) ==
        fs::perms::none);
}

TEST_CASE("a webhook outlives a restart of the host, with its secret") {
  Receiver receiver;
  TempDir tmp;
  json hook;
  {
    Host host({}, tmp.path(), kHostArgs);
    hook = Admin(host).add("orders", receiver.url());
    host.process().signal(SIGTERM);
    CHECK(host.process().wait().status == 0);
  }
  Host host({}, tmp.path(), kHostArgs);
  Admin admin(host);
  CHECK(admin.webhook(hook["id"])["url"] == receiver.url());
  admin.publish("orders", "after restart");
  waitFor("the delivery after the restart", [&] { return receiver.count() == 1; }, 20s, host);
  CHECK(verifiedByPython(tmp.path(), hook["secret"], receiver.received().front()));
}

TEST_CASE("a webhook with a type takes only events of that type") {
  Receiver receiver;
  TempDir tmp;
  Host host({}, tmp.path(), kHostArgs);
  Admin admin(host);
  admin.add("orders", receiver.url(), "order.created");
  admin.publish("orders", "shipped", {{"Gust-Header-Ce-Type", "order.shipped"}});
  admin.publish("orders", "created", {{"Gust-Header-Ce-Type", "order.created"}});
  waitFor("the delivery of the matching event", [&] { return receiver.count() >= 1; }, 20s, host);
  auto got = receiver.received();
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "created");
  CHECK(got[0].headers["ce-type"] == "order.created");
}

TEST_CASE("a receiver that fails twice gets a third attempt with the same webhook-id") {
  Receiver receiver([](int n) { return n <= 2 ? 500 : 200; });
  TempDir tmp;
  Host host({}, tmp.path(), kHostArgs);
  Admin admin(host);
  json hook = admin.add("orders", receiver.url());
  admin.publish("orders", "retry me");
  waitFor("three attempts", [&] { return receiver.count() == 3; }, 30s, host);
  auto got = receiver.received();
  CHECK(got[0].headers["webhook-id"] == got[1].headers["webhook-id"]);
  CHECK(got[1].headers["webhook-id"] == got[2].headers["webhook-id"]);
  CHECK(verifiedByPython(tmp.path(), hook["secret"], got[2]));
  std::string id = hook["id"];
  waitFor("the event to be acked", [&] {
    json b = admin.webhook(id)["backlog"];
    return b["ready"] == 0 && b["in_flight"] == 0 && b["delayed"] == 0;
  }, 10s, host);
  CHECK(admin.webhook(id)["backlog"]["dead"] == 0);
}

TEST_CASE("a receiver that always fails ends in <topic>:<id>.dead, and redrive delivers the event again") {
  std::atomic<bool> healthy{false};
  Receiver receiver([&healthy](int) { return healthy ? 204 : 503; });
  TempDir tmp;
  Host host({}, tmp.path(), kHostArgs);
  Admin admin(host);
  json hook = admin.add("orders", receiver.url());
  std::string id = hook["id"];
  admin.publish("orders", "doomed");
  waitFor("the event to be dead-lettered", [&] { return admin.webhook(id)["backlog"]["dead"] == 1; }, 30s, host);
  CHECK(receiver.count() == 3);  // --webhook-attempts 3
  json dead = admin.get("/v1/queues/orders:" + id + ".dead/messages");
  REQUIRE(dead["messages"].size() == 1);
  CHECK(dead["messages"][0]["body"] == "doomed");
  CHECK(dead["messages"][0].dump().find("503") != std::string::npos);  // why it died

  healthy = true;
  auto moved = admin.post("/v1/queues/orders:" + id + ".dead/redrive", "");
  REQUIRE(moved);
  CHECK(moved->status == 200);
  waitFor("the redriven delivery", [&] { return receiver.count() == 4; }, 20s, host);
  auto got = receiver.received();
  CHECK(got[3].body == "doomed");
  CHECK(got[3].headers["webhook-id"] == got[0].headers["webhook-id"]);
  CHECK(verifiedByPython(tmp.path(), hook["secret"], got[3]));
}

TEST_CASE("a loopback webhook URL is refused unless --callback-allow lists it") {
  TempDir tmp;
  Host host({}, tmp.path());
  Admin admin(host);
  auto r = admin.post("/v1/webhooks", R"({"topic": "orders", "url": "http://127.0.0.1:9/hook"})");
  REQUIRE(r);
  CHECK(r->status == 400);
  CHECK(r->body.find("loopback") != std::string::npos);
  CHECK(r->body.find("--callback-allow") != std::string::npos);
  auto metadata = admin.post("/v1/webhooks", R"({"topic": "orders", "url": "http://169.254.169.254/"})");
  REQUIRE(metadata);
  CHECK(metadata->status == 400);
  CHECK(admin.get("/v1/webhooks")["webhooks"].empty());
}

TEST_CASE("gust webhook add, ls, rotate and rm through the CLI; a rotation signs with both secrets") {
  Receiver receiver;
  TempDir tmp;
  Host host({}, tmp.path(), kHostArgs);
  Admin admin(host);
  std::vector<std::string> where = {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), where.begin(), where.end());
    return args;
  };
  auto added = runGust(with({"webhook", "add", "orders", receiver.url()}), tmp.path());
  INFO(added.err);
  REQUIRE(added.status == 0);
  std::string old_secret = added.out.substr(0, added.out.find('\n'));
  CHECK(old_secret.starts_with("whsec_"));
  CHECK(added.out == old_secret + "\n");  // the secret alone on stdout
  json hooks = admin.get("/v1/webhooks")["webhooks"];
  REQUIRE(hooks.size() == 1);
  std::string id = hooks[0]["id"];

  auto listed = runGust(with({"webhook", "ls"}), tmp.path());
  REQUIRE(listed.status == 0);
  CHECK(listed.out.find(id) != std::string::npos);
  CHECK(listed.out.find(receiver.url()) != std::string::npos);
  CHECK(listed.out.find("whsec_") == std::string::npos);
  auto listed_json = runGust(with({"webhook", "ls", "--json"}), tmp.path());
  REQUIRE(listed_json.status == 0);
  CHECK(json::parse(listed_json.out)["webhooks"][0]["id"] == id);
  CHECK(listed_json.out.find("whsec_") == std::string::npos);

  auto rotated = runGust(with({"webhook", "rotate", id}), tmp.path());
  REQUIRE(rotated.status == 0);
  std::string new_secret = rotated.out.substr(0, rotated.out.find('\n'));
  CHECK(new_secret.starts_with("whsec_"));
  CHECK(new_secret != old_secret);
  admin.publish("orders", "after rotate");
  waitFor("the delivery after the rotation", [&] { return receiver.count() == 1; }, 20s, host);
  Received got = receiver.received().front();
  CHECK(verifiedByPython(tmp.path(), new_secret, got));
  CHECK(verifiedByPython(tmp.path(), old_secret, got));

  auto removed = runGust(with({"webhook", "rm", id}), tmp.path());
  REQUIRE(removed.status == 0);
  CHECK(admin.get("/v1/webhooks")["webhooks"].empty());
  auto again = runGust(with({"webhook", "rm", id}), tmp.path());
  CHECK(again.status != 0);
  CHECK(again.err.find("no webhook") != std::string::npos);
}
