#include "functions/manifest.h"

#include <doctest/doctest.h>

using namespace gust;

namespace {
std::string errorOf(std::string_view text) {
  auto m = parseManifest(text);
  return m ? std::string("(parsed)") : m.error().message;
}
}  // namespace

TEST_CASE("a full manifest parses with its routes, timer and pool settings") {
  auto m = parseManifest(R"({
    "name": "shop",
    "module": "out/shop.so",
    "min_instances": 1, "max_instances": 8, "concurrency": 2,
    "idle_timeout": "2m", "max_pending": 10, "pending_timeout": "500ms", "timeout": "5s", "memory_mb": 128,
    "functions": {
      "order": { "routes": [{ "path": "/orders/{id}", "methods": ["get", "POST"] }, "/orders"], "timeout": "1s" },
      "report": { "timer": { "schedule": "*/10 * * * * *", "time_zone": "Europe/Berlin", "run_on_startup": true } }
    }
  })");
  REQUIRE(m);
  CHECK(m->name == "shop");
  CHECK(m->module == "out/shop.so");
  CHECK(m->pool.min_instances == 1);
  CHECK(m->pool.max_instances == 8);
  CHECK(m->pool.concurrency == 2);
  CHECK(m->pool.idle_timeout == std::chrono::minutes(2));
  CHECK(m->pool.pending_timeout == std::chrono::milliseconds(500));
  CHECK(m->pool.memory_mb == 128);
  REQUIRE(m->functions.size() == 2);
  const FunctionSpec& order = m->functions[0];
  CHECK(order.name == "order");
  REQUIRE(order.routes.size() == 2);
  CHECK(order.routes[0].methods == std::vector<std::string>{"GET", "POST"});
  CHECK(order.routes[1].path == "/orders");
  CHECK(order.routes[1].methods == std::vector<std::string>{"GET"});
  CHECK(m->timeoutOf(order) == std::chrono::seconds(1));
  const FunctionSpec& report = m->functions[1];
  REQUIRE(report.timer);
  CHECK(report.timer->schedule == "*/10 * * * * *");
  CHECK(report.timer->time_zone == "Europe/Berlin");
  CHECK(report.timer->run_on_startup);
  CHECK(m->timeoutOf(report) == std::chrono::seconds(5));
}

TEST_CASE("defaults fill what a minimal manifest leaves out") {
  auto m = parseManifest(R"({"name": "hello", "functions": {"hello": {"routes": ["/hello"]}}})");
  REQUIRE(m);
  CHECK(m->module == "build/hello.so");
  CHECK(m->isolation == Isolation::kProcess);
  CHECK(m->pool.min_instances == 0);
  CHECK(m->pool.concurrency == 1);
  CHECK(m->pool.timeout == std::chrono::seconds(30));
}

TEST_CASE("unknown fields are errors that suggest the field meant") {
  CHECK(errorOf(R"({"name": "a", "functoins": {}})") == "gust.json: functoins: unknown field \"functoins\" (did you mean \"functions\"?)");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"rutes": ["/x"]}}})") ==
        "gust.json: functions.f: unknown field \"rutes\" (did you mean \"routes\"?)");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": [{"path": "/x", "method": ["GET"]}]}}})")
            .find("functions.f.routes[0]: unknown field \"method\" (did you mean \"methods\"?)") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "zzzzzz": 1, "functions": {"f": {"routes": ["/x"]}}})").find("known fields:") !=
        std::string::npos);
}

TEST_CASE("each invalid field is named with its problem") {
  CHECK(errorOf(R"({"functions": {"f": {"routes": ["/x"]}}})").find("name: is missing") != std::string::npos);
  CHECK(errorOf(R"({"name": "Bad Name", "functions": {"f": {"routes": ["/x"]}}})").find("not a valid app name") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a"})").find("functions: is missing") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {}})").find("functions: must be a non-empty object") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"9f": {"routes": ["/x"]}}})").find("not a valid function name") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {}}})").find("functions.f: has no trigger") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": ["x"]}}})").find("routes[0].path: must start with '/'") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": [{"path": "/x", "methods": ["GOT"]}]}}})")
            .find("methods[0]: \"GOT\" is not a supported HTTP method") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "timeout": "5", "functions": {"f": {"routes": ["/x"]}}})")
            .find("timeout: invalid duration \"5\"") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "max_instances": 0, "functions": {"f": {"routes": ["/x"]}}})")
            .find("max_instances: must be a whole number from 1 to 1024") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "min_instances": 5, "max_instances": 2, "functions": {"f": {"routes": ["/x"]}}})")
            .find("min_instances: is 5, more than max_instances (2)") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "module": "../x.so", "functions": {"f": {"routes": ["/x"]}}})")
            .find("module: must be a relative path inside the app folder") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "isolation": "vm", "functions": {"f": {"routes": ["/x"]}}})")
            .find("isolation: must be \"process\"") != std::string::npos);
  auto thread = parseManifest(R"({"name": "a", "isolation": "thread", "functions": {"f": {"routes": ["/x"]}}})");
  REQUIRE(thread);
  CHECK(thread->isolation == Isolation::kThread);
}

TEST_CASE("a queue trigger takes its settings, with defaults tied to the function's timeout") {
  auto m = parseManifest(R"({"name": "a", "timeout": "10s", "functions": {
      "short": {"queue": "orders"},
      "full": {"timeout": "1s", "queue": {"name": "ship.v2", "batch_size": 32, "max_attempts": 3,
               "backoff": {"base": "200ms", "cap": "10s"}, "visibility_timeout": "5s", "max_age": "1h"}}}})");
  REQUIRE(m);
  const auto& full = m->functions[0].name == "full" ? m->functions[0] : m->functions[1];
  const auto& brief = m->functions[0].name == "full" ? m->functions[1] : m->functions[0];
  REQUIRE(brief.queue);
  CHECK(brief.queue->queue == "orders");
  CHECK(brief.queue->batch_size == 1);
  CHECK(brief.queue->max_attempts == 5);
  CHECK(brief.queue->visibility_timeout == std::chrono::seconds(20));
  REQUIRE(full.queue);
  CHECK(full.queue->batch_size == 32);
  CHECK(full.queue->max_attempts == 3);
  CHECK(full.queue->backoff_base == std::chrono::milliseconds(200));
  CHECK(full.queue->backoff_cap == std::chrono::seconds(10));
  CHECK(full.queue->visibility_timeout == std::chrono::seconds(5));
  CHECK(full.queue->max_age == std::chrono::hours(1));
}

TEST_CASE("a queue trigger's mistakes are named") {
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": {"name": "q", "visibility_timeout": "30s"}}}})") ==
        "gust.json: functions.f.queue.visibility_timeout: is 30s, not longer than the function's timeout (30s); "
        "make it longer, e.g. 1m");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": "a/b"}}})").find("not a valid queue name") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": "orders.dead"}}})").find("dead-letter queue") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": {"name": "q", "batch_size": 0}}}})")
            .find("batch_size: must be a whole number from 1 to 1000") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": {"name": "q", "backoff": {"base": "2s", "cap": "1s"}}}}})")
            .find("is shorter than backoff.base") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": {"nme": "q"}}}})").find("did you mean \"name\"") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"queue": "q"}, "g": {"queue": "q"}}})")
            .find("already consumed by function f") != std::string::npos);
}

TEST_CASE("a timer's schedule is checked when the manifest loads") {
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"timer": "*/0 * * * *"}}})") ==
        "gust.json: functions.f.timer: schedule \"*/0 * * * *\": minute field at column 1: step must be at least 1");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"timer": "0 0 30 2 *"}}})").find("never fires") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"timer": {"schedule": "@daily", "time_zone": "Mars/Olympus"}}}})")
            .find("Mars/Olympus") != std::string::npos);
  CHECK(parseManifest(R"({"name": "a", "functions": {"f": {"timer": {"schedule": "@every 10s"}}}})"));
}

TEST_CASE("invalid JSON is reported with its line and column") {
  CHECK(errorOf("{\n  \"name\": \"a\",\n  oops\n}") == "gust.json:3:3: not valid JSON");
  CHECK(errorOf("[1, 2]") == "gust.json: must be a JSON object");
  CHECK(errorOf("") .find("not valid JSON") != std::string::npos);
}

TEST_CASE("a manifest larger than the limit is refused before parsing") {
  std::string huge(kMaxManifestBytes + 1, ' ');
  CHECK(errorOf(huge).find("larger than") != std::string::npos);
}

TEST_CASE("app names follow the documented rule") {
  CHECK(validateAppName("hello"));
  CHECK(validateAppName("a-b_c9"));
  for (const char* bad : {"", "Hello", "9a", "a/b", "..", "a b", "a\nb"}) CHECK_FALSE(validateAppName(bad));
  CHECK_FALSE(validateAppName(std::string(64, 'a')));
}

TEST_CASE("the host's pool defaults fill what the manifest leaves out, and the manifest wins") {
  PoolSettings defaults;
  defaults.max_instances = 9;
  defaults.timeout = std::chrono::seconds(3);
  defaults.memory_mb = 64;
  auto m = parseManifest(R"({"name": "a", "memory_mb": 128, "functions": {"f": {"routes": ["/x"]}}})", "gust.json",
                         defaults);
  REQUIRE(m);
  CHECK(m->pool.max_instances == 9);
  CHECK(m->pool.timeout == std::chrono::seconds(3));
  CHECK(m->pool.memory_mb == 128);
  CHECK(m->pool.concurrency == PoolSettings{}.concurrency);
}

TEST_CASE("max_processes bounds the app's tasks and leaves room for its own workers") {
  auto m = parseManifest(R"({"name": "a", "max_processes": 64, "functions": {"f": {"routes": ["/x"]}}})");
  REQUIRE(m);
  CHECK(m->pool.max_processes == 64);
  auto defaulted = parseManifest(R"({"name": "a", "functions": {"f": {"routes": ["/x"]}}})");
  REQUIRE(defaulted);
  CHECK(defaulted->pool.max_processes == 512);
  // Left out, it grows with an app whose workers alone would need more.
  auto big = parseManifest(R"({"name": "a", "max_instances": 200, "functions": {"f": {"routes": ["/x"]}}})");
  REQUIRE(big);
  CHECK(big->pool.max_processes == 800);
  CHECK(errorOf(R"({"name": "a", "max_instances": 8, "concurrency": 4, "max_processes": 40,
                    "functions": {"f": {"routes": ["/x"]}}})")
            .find("max_processes: is 40, fewer than the app's workers need themselves (56") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "max_processes": 2, "functions": {"f": {"routes": ["/x"]}}})").find("max_processes") !=
        std::string::npos);
}

TEST_CASE("storage bounds are the app's own when set and the host's (unset here) otherwise") {
  auto m = parseManifest(R"({"name": "a", "max_pending_async": 50, "max_queue_bytes": 1048576,
      "queue_retention": "2h", "dead_letter_retention": "72h",
      "functions": {"f": {"routes": ["/f"]}}})");
  REQUIRE(m);
  CHECK(m->storage.max_pending_async == 50u);
  CHECK(m->storage.max_queue_bytes == 1048576u);
  CHECK(m->storage.queue_retention == std::chrono::hours(2));
  CHECK(m->storage.dead_letter_retention == std::chrono::hours(72));
  auto plain = parseManifest(R"({"name": "a", "functions": {"f": {"routes": ["/f"]}}})");
  REQUIRE(plain);
  CHECK_FALSE(plain->storage.max_pending_async);
  CHECK_FALSE(plain->storage.max_queue_bytes);
  CHECK(errorOf(R"({"name": "a", "max_queue_bytes": 10, "functions": {"f": {"routes": ["/f"]}}})")
            .find("max_queue_bytes: must be a number of bytes from 1024") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "max_pending_async": 0, "functions": {"f": {"routes": ["/f"]}}})")
            .find("max_pending_async: must be a whole number from 1") != std::string::npos);
}

TEST_CASE("an app may publish to the queues it lists in publishes and to those its functions consume") {
  auto m = parseManifest(R"({"name": "a", "publishes": ["audit", "mail"],
      "functions": {"f": {"routes": ["/f"]}, "g": {"queue": "orders"}}})");
  REQUIRE(m);
  CHECK(m->mayPublishTo("audit"));
  CHECK(m->mayPublishTo("mail"));
  CHECK(m->mayPublishTo("orders"));
  CHECK_FALSE(m->mayPublishTo("billing"));
  CHECK_FALSE(m->mayPublishTo("orders.dead"));
  CHECK(errorOf(R"({"name": "a", "publishes": "audit", "functions": {"f": {"routes": ["/f"]}}})")
            .find("publishes: must be a list") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "publishes": ["a/b"], "functions": {"f": {"routes": ["/f"]}}})")
            .find("publishes[0]") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "publishes": ["x", "x"], "functions": {"f": {"routes": ["/f"]}}})")
            .find("listed twice") != std::string::npos);
}

TEST_CASE("a topic subscription takes a queue trigger's settings and a filter, with its own queue") {
  auto m = parseManifest(R"({"name": "shop", "topics": ["order.completed"], "functions": {
      "payment": {"topic": "order.placed"},
      "audit": {"topic": {"name": "order.placed", "batch_size": 10, "max_attempts": 3,
                          "backoff": {"base": "2s", "cap": "1m"},
                          "filter": {"type": ["order.placed", "order.paid"], "headers": {"region": "eu"}}}}}})");
  REQUIRE(m);
  const auto& payment = m->functions[0].name == "payment" ? m->functions[0] : m->functions[1];
  const auto& audit = m->functions[0].name == "audit" ? m->functions[0] : m->functions[1];
  REQUIRE(payment.topic);
  CHECK(payment.topic->topic == "order.placed");
  CHECK(payment.topic->delivery.queue == "order.placed:shop:payment");
  CHECK(payment.topic->filter.empty());
  CHECK(payment.topic->delivery.visibility_timeout == 2 * m->pool.timeout);
  REQUIRE(audit.topic);
  CHECK(audit.topic->delivery.batch_size == 10);
  CHECK(audit.topic->delivery.max_attempts == 3);
  CHECK(audit.topic->delivery.backoff_base == std::chrono::seconds(2));
  CHECK(audit.topic->filter.types == std::vector<std::string>{"order.placed", "order.paid"});
  CHECK(audit.topic->filter.headers == std::vector<std::pair<std::string, std::string>>{{"region", "eu"}});
  CHECK(m->topics == std::vector<std::string>{"order.completed"});
  CHECK(m->mayPublishTo("order.completed"));
  CHECK(m->mayPublishTo("order.placed"));
  CHECK_FALSE(m->mayPublishTo("order.failed"));

  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"topic": "t", "queue": "q"}}})").find("not both") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"topic": {"name": "t", "filter": {"kind": "x"}}}}})")
            .find("functions.f.topic.filter") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"topic": {"name": "t", "filter": {"type": []}}}}})")
            .find("1 to 64 event types") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"topic": "x.dead"}}})").find("dead") != std::string::npos);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"topic": {"batch_size": 2}}}})").find("needs a \"name\"") !=
        std::string::npos);
  CHECK(errorOf(R"({"name": "a", "topics": ["a:b"], "functions": {"f": {"routes": ["/f"]}}})").find("topics[0]") !=
        std::string::npos);
}

TEST_CASE("auth is public by default, set on the app, and overridden per function") {
  auto plain = parseManifest(R"({"name": "a", "functions": {"f": {"routes": ["/x"]}}})");
  REQUIRE(plain);
  CHECK(plain->auth == Auth::kPublic);
  CHECK(plain->authOf(plain->functions[0]) == Auth::kPublic);

  auto keyed = parseManifest(R"({"name": "a", "auth": "key",
      "functions": {"f": {"routes": ["/x"]}, "g": {"routes": ["/y"], "auth": "public"}}})");
  REQUIRE(keyed);
  CHECK(keyed->auth == Auth::kKey);
  for (const auto& f : keyed->functions) {
    CHECK(keyed->authOf(f) == (f.name == "f" ? Auth::kKey : Auth::kPublic));
  }

  auto one = parseManifest(R"({"name": "a", "functions": {"f": {"routes": ["/x"], "auth": "key"}, "g": {"routes": ["/y"]}}})");
  REQUIRE(one);
  for (const auto& f : one->functions) CHECK(one->authOf(f) == (f.name == "f" ? Auth::kKey : Auth::kPublic));
}

TEST_CASE("an unknown auth value is refused with the two that exist") {
  CHECK(errorOf(R"({"name": "a", "auth": "token", "functions": {"f": {"routes": ["/x"]}}})") ==
        "gust.json: auth: must be \"public\" (anyone may call; the default) or \"key\" (callers need a function key "
        "from `gust keys create`), not \"token\"");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": ["/x"], "auth": 1}}})") ==
        "gust.json: functions.f.auth: must be a string");
}

TEST_CASE("streams name a literal path, a topic, the filters a client may use, an auth and a retention") {
  auto m = parseManifest(R"({"name": "shop", "auth": "key", "functions": {"f": {"routes": ["/x"]}}, "streams": [
      {"path": "/orders/events", "topic": "order.progress", "filter": ["subject", "type"], "retain": "2h",
       "auth": "public"},
      {"path": "/all", "topic": "order.progress"}]})");
  REQUIRE(m);
  REQUIRE(m->streams.size() == 2);
  CHECK(m->streams[0].path == "/orders/events");
  CHECK(m->streams[0].topic == "order.progress");
  CHECK(m->streams[0].filter == std::vector<std::string>{"subject", "type"});
  CHECK(m->streams[0].retain == std::chrono::hours(2));
  CHECK(m->streams[0].auth == Auth::kPublic);
  CHECK(m->streams[1].retain == std::chrono::hours(1));
  CHECK_FALSE(m->streams[1].auth.has_value());

  const std::string f = R"(, "functions": {"f": {"routes": ["/x"]}}})";
  CHECK(errorOf(R"({"name": "a", "streams": [{"path": "/e/{id}", "topic": "t"}])" + f) ==
        "gust.json: streams[0].path: must be a literal path starting with '/' (no parameters), such as "
        "\"/orders/events\"");
  CHECK(errorOf(R"({"name": "a", "streams": [{"path": "/e"}])" + f) ==
        "gust.json: streams[0]: needs the \"topic\" whose events it streams");
  CHECK(errorOf(R"({"name": "a", "streams": [{"path": "/e", "topic": "t", "filter": ["body"]}])" + f) ==
        "gust.json: streams[0].filter: names event attributes a client may filter on: \"subject\", \"type\" or "
        "\"source\", not \"body\"");
  CHECK(errorOf(R"({"name": "a", "streams": [{"path": "/e", "topic": "t", "retain": "200h"}])" + f) ==
        "gust.json: streams[0].retain: must be at most 168h (7 days): the events are kept in the host's store");
  CHECK(errorOf(R"({"name": "a", "streams": [{"path": "/e", "topic": "t"}, {"path": "/e", "topic": "u"}])" + f) ==
        "gust.json: streams[1].path: \"/e\" is the path of another stream");
}

TEST_CASE("graphql names a path, the schema and an auth; an embedded schema is built with its topic bindings") {
  const std::string sdl = "type Query { ok: Boolean } type Order { id: ID } type Subscription { "
                          "order(id: ID): Order @topic(name: \\\"order.updated\\\", filter: {subject: \\\"id\\\"}) }";
  auto m = parseManifest(R"({"name": "shop", "functions": {"f": {"routes": ["/x"]}}, "graphql": {"path": "/gql",
      "schema": "schema.graphql", "auth": "key", "retain": "2h", "sdl": ")" + sdl + R"("}})");
  REQUIRE_MESSAGE(m, m.error().message);
  REQUIRE(m->graphql);
  CHECK(m->graphql->path == "/gql");
  CHECK(m->graphql->schema_file == "schema.graphql");
  CHECK(m->graphql->auth == Auth::kKey);
  CHECK(m->graphql->retain == std::chrono::hours(2));
  REQUIRE(m->graphql->schema);
  REQUIRE(m->graphql->bindings.count("order") == 1);
  CHECK(m->graphql->bindings.at("order").topic == "order.updated");

  // Without its text the schema file is read by loadManifest, not here.
  auto bare = parseManifest(R"({"name": "a", "functions": {"f": {"routes": ["/x"]}}, "graphql": {"schema": "s.graphql"}})");
  REQUIRE(bare);
  CHECK(bare->graphql->path == "/graphql");
  CHECK(bare->graphql->schema == nullptr);

  const std::string f = R"(, "functions": {"f": {"routes": ["/x"]}}})";
  CHECK(errorOf(R"({"name": "a", "graphql": {"path": "/g"})" + f) ==
        "gust.json: graphql: needs the \"schema\" file holding the SDL, such as \"schema.graphql\"");
  CHECK(errorOf(R"({"name": "a", "graphql": {"schema": "../s.graphql"})" + f) ==
        "gust.json: graphql.schema: must be a relative path inside the app folder, such as \"schema.graphql\"");
  CHECK(errorOf(R"({"name": "a", "streams": [{"path": "/g", "topic": "t"}], "graphql": {"path": "/g", "schema": "s"})" +
                f) == "gust.json: graphql.path: \"/g\" is the path of a stream; give the GraphQL endpoint its own");
  // What is wrong in the SDL is said with the file's name.
  const std::string unbound = errorOf(R"({"name": "a", "graphql": {"schema": "s.graphql", "sdl":
      "type Query { ok: Boolean } type Subscription { tick: Int }"})" + f);
  CHECK(unbound.rfind("gust.json: graphql: s.graphql: GraphQL schema: Subscription.tick", 0) == 0);
  const std::string broken = errorOf(R"({"name": "a", "graphql": {"schema": "s.graphql", "sdl": "type {"})" + f);
  CHECK(broken.find("s.graphql: GraphQL schema: Syntax Error") != std::string::npos);
  CHECK(broken.find("line 1") != std::string::npos);
}

TEST_CASE("verify names a function's signature scheme, the variable holding its secret, and a tolerance") {
  auto m = parseManifest(R"({"name": "a", "required_env": ["API_KEY"], "functions": {
      "hook": {"routes": [{"path": "/hook", "methods": ["POST"]}],
               "verify": {"scheme": "standard-webhooks", "secret": "env:HOOK_SECRET", "tolerance": "10m"}},
      "gh": {"routes": ["/gh"], "verify": {"scheme": "github", "secret": "env:API_KEY"}},
      "plain": {"routes": ["/plain"]}}})");
  REQUIRE(m);
  for (const auto& f : m->functions) {
    if (f.name == "hook") {
      REQUIRE(f.verify);
      CHECK(f.verify->scheme == WebhookScheme::kStandardWebhooks);
      CHECK(f.verify->secret_env == "HOOK_SECRET");
      CHECK(f.verify->tolerance == std::chrono::minutes(10));
    } else if (f.name == "gh") {
      REQUIRE(f.verify);
      CHECK(f.verify->scheme == WebhookScheme::kGithub);
      CHECK(f.verify->tolerance == kDefaultWebhookTolerance);
    } else {
      CHECK_FALSE(f.verify);
    }
  }
  // A verify secret is required like required_env, each name once.
  CHECK(m->requiredEnv() == std::vector<std::string>{"API_KEY", "HOOK_SECRET"});
}

TEST_CASE("a verify with an unknown scheme, a written-out secret or a misplaced tolerance is refused saying why") {
  auto with = [](std::string verify, std::string routes = R"(["/x"])") {
    return errorOf(R"({"name": "a", "functions": {"f": {"routes": )" + routes + R"(, "verify": )" + verify + "}}}");
  };
  CHECK(with(R"({"scheme": "svix", "secret": "env:S"})") ==
        "gust.json: functions.f.verify.scheme: \"svix\" is not a signature scheme; use \"standard-webhooks\", "
        "\"github\" or \"stripe\"");
  CHECK(with(R"({"scheme": "stripe", "secret": "whsec_abc"})") ==
        "gust.json: functions.f.verify.secret: must be \"env:NAME\", naming an app variable set with `gust env set "
        "APP NAME=...`; a secret is never written in gust.json");
  CHECK(with(R"({"scheme": "stripe", "secret": "env:GUST_X"})").starts_with("gust.json: functions.f.verify.secret: "));
  CHECK(with(R"({"scheme": "stripe"})") ==
        "gust.json: functions.f.verify: needs a \"secret\": \"env:NAME\", naming the app variable that holds it");
  CHECK(with(R"({"secret": "env:S"})") ==
        "gust.json: functions.f.verify: needs a \"scheme\": \"standard-webhooks\", \"github\" or \"stripe\"");
  CHECK(with(R"({"scheme": "github", "secret": "env:S", "tolerance": "5m"})") ==
        "gust.json: functions.f.verify.tolerance: a github signature carries no timestamp, so no tolerance applies; "
        "remove it");
  CHECK(with(R"({"scheme": "stripe", "secret": "env:S", "tolerance": "1500ms"})").starts_with(
      "gust.json: functions.f.verify.tolerance: must be whole seconds"));
  CHECK(with(R"({"scheme": "stripe", "secret": "env:S", "tolerance": "25h"})").starts_with(
      "gust.json: functions.f.verify.tolerance: must be whole seconds"));
  CHECK(with(R"({"scheme": "stripe", "secret": "env:S", "tolerence": "5m"})") ==
        "gust.json: functions.f.verify: unknown field \"tolerence\" (did you mean \"tolerance\"?)");
  CHECK(with(R"("stripe")").starts_with("gust.json: functions.f.verify: must be an object"));
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"timer": "@every 1m",
      "verify": {"scheme": "github", "secret": "env:S"}}}})") ==
        "gust.json: functions.f.verify: checks the signature of HTTP requests, and function f has no routes; add its "
        "\"routes\" or remove \"verify\"");
}

TEST_CASE("a websocket function takes GET routes only and no other trigger") {
  auto m = parseManifest(R"({"name": "a", "functions": {"chat": {"routes": ["/chat/{room}"], "websocket": true},
                                                         "plain": {"routes": ["/plain"]}}})");
  REQUIRE(m);
  CHECK(m->functions[0].websocket);
  CHECK_FALSE(m->functions[1].websocket);
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": ["/f"], "websocket": "yes"}}})") ==
        "gust.json: functions.f.websocket: must be true (every route of the function takes WebSocket connections) or "
        "false");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": [{"path": "/f", "methods": ["POST"]}],
      "websocket": true}}})") ==
        "gust.json: functions.f.websocket: route /f must accept GET only: a WebSocket connection starts with a GET "
        "upgrade request");
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"routes": ["/f"], "timer": "@every 1m", "websocket": true}}})")
            .starts_with("gust.json: functions.f.websocket: a WebSocket function is invoked for its connections' "
                         "events only"));
  CHECK(errorOf(R"({"name": "a", "functions": {"f": {"timer": "@every 1m", "websocket": true}}})") ==
        "gust.json: functions.f.websocket: needs the function's \"routes\": the paths clients connect to");
}
