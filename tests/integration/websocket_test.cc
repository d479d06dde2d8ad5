// WebSocket functions end to end (docs/architecture.md "WebSocket functions"): a real host
// with the websocket fixture, driven by npm's `ws` client (tests/js/ws_client.mjs), a client
// nobody here wrote. CONNECT decides, MESSAGEs come in order and are answered, sends reach a
// connection from an HTTP invocation (process and thread isolation) and from the admin API,
// never from another app, and a connection outlives a crashed MESSAGE and a redeploy.
#include <doctest/doctest.h>
#include <httplib.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"
#include "tests/integration/ws_client.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

std::string manifest(const std::string& name, const std::string& extra = "", const std::string& chat_extra = "") {
  return R"({"name": ")" + name + R"(",)" + extra + R"( "functions": {
    "chat":   { "routes": ["/)" + name + R"(/chat/{room}"], "websocket": true)" + chat_extra + R"( },
    "push":   { "routes": [{ "path": "/)" + name + R"(/push/{id}", "methods": ["POST"] }] },
    "lookup": { "routes": ["/)" + name + R"(/lookup/{key}"] }
  }})";
}

struct Fixture {
  TempDir tmp;
  fs::path chat = makeApp(tmp.path(), "chat", manifest("chat"), env("GUST_FIXTURE_WEBSOCKET"));
  fs::path other =
      makeApp(tmp.path(), "other", manifest("other", "", R"(, "auth": "key")"), env("GUST_FIXTURE_WEBSOCKET"));
  fs::path threaded =
      makeApp(tmp.path(), "threaded", manifest("threaded", R"( "isolation": "thread",)"), env("GUST_FIXTURE_WEBSOCKET"));
  Host host{{chat, other, threaded}, tmp.path()};

  std::string url(const std::string& path) { return "ws://127.0.0.1:" + std::to_string(host.port()) + path; }
  httplib::Client client() { return localClient(host.port()); }
  httplib::Client admin() {
    httplib::Client c = host.adminClient();
    c.set_bearer_token_auth(host.adminToken());
    return c;
  }
  // Opens a connection to `app`'s chat and answers its id.
  std::string open(WsClient& ws) {
    json opened = ws.next("open");
    REQUIRE(opened["id"].is_string());
    return opened["id"];
  }
  CommandResult gust(std::vector<std::string> args) {
    args.insert(args.end(), {"--admin", host.adminUrl(), "--data-dir", host.dataDir().string()});
    return runGust(args, tmp.path());
  }
  // What `app`'s DISCONNECT recorded for the connection, once it has run.
  std::string disconnectCode(const std::string& app, const std::string& id) {
    std::string code;
    waitFor(
        "the DISCONNECT of " + id,
        [&] {
          auto r = client().Get("/" + app + "/lookup/disconnect-" + id);
          if (!r || r->status != 200) return false;
          code = r->body;
          return true;
        },
        20s, [] { return std::string(); });
    return code;
  }
};

}  // namespace

TEST_CASE("CONNECT decides: a refusal reaches the client with its status and body, a plain GET gets 426") {
  Fixture f;
  WsClient refused(f.tmp.path(), f.url("/chat/chat/closed"));
  json r = refused.next("refused");
  CHECK(r["status"] == 403);
  CHECK(r["body"] == "room closed\n");

  auto plain = f.client().Get("/chat/chat/lobby");
  REQUIRE(plain);
  CHECK(plain->status == 426);
  CHECK(plain->body.find("WebSocket client") != std::string::npos);

  WsClient accepted(f.tmp.path(), f.url("/chat/chat/lobby"), {"--protocol", "chat.v1"});
  json opened = accepted.next("open");
  CHECK(opened["protocol"] == "chat.v1");
  CHECK(opened["room"] == "lobby");  // a header of the CONNECT answer, on the 101
  CHECK(opened["id"].get<std::string>().size() == 32);

  // A keyed function's upgrade request needs its key, as any request to it does.
  WsClient keyless(f.tmp.path(), f.url("/other/chat/lobby"));
  CHECK(keyless.next("refused")["status"] == 401);
  auto created = f.admin().Post("/v1/apps/other/keys", "{}", "application/json");
  REQUIRE(created);
  REQUIRE(created->status == 201);
  std::string key = json::parse(created->body)["key"];
  WsClient keyed(f.tmp.path(), f.url("/other/chat/lobby"), {"--header", "Authorization: Bearer " + key});
  CHECK(keyed.reply("hi") == "echo: hi");
}

TEST_CASE("messages are echoed in order, text and binary, fragmented ones whole; pings are answered") {
  Fixture f;
  WsClient ws(f.tmp.path(), f.url("/chat/chat/lobby"));
  std::string id = f.open(ws);
  CHECK(ws.reply("hello") == "echo: hello");
  CHECK(ws.reply("whoami") == id);
  CHECK(ws.reply("room") == "lobby");  // the upgrade request's params on every event
  for (int i = 0; i < 5; ++i) ws.send("n" + std::to_string(i));
  for (int i = 0; i < 5; ++i) CHECK(ws.next("message")["data"] == "echo: n" + std::to_string(i));

  ws.command({{"send_binary", "00ff10"}});
  json binary = ws.next("message");
  CHECK(binary["binary"] == true);
  CHECK(binary["data"] == "00ff10");

  ws.command({{"fragments", {"frag", "men", "ted"}}});
  CHECK(ws.next("message")["data"] == "echo: fragmented");

  ws.command({{"ping", "are you there"}});
  CHECK(ws.next("pong")["data"] == "are you there");

  CHECK(ws.reply("twice") == "first");  // ctx.send from the MESSAGE itself, before its reply
  CHECK(ws.next("message")["data"] == "second");
}

TEST_CASE("the close handshake ends a connection and its DISCONNECT gets the code; ctx.close closes") {
  Fixture f;
  WsClient ws(f.tmp.path(), f.url("/chat/chat/lobby"));
  std::string id = f.open(ws);
  ws.command({{"close", {4001, "done here"}}});
  json closed = ws.next("close");
  CHECK(closed["code"] == 4001);
  CHECK(f.disconnectCode("chat", id) == "4001");

  WsClient asked(f.tmp.path(), f.url("/chat/chat/lobby"));
  std::string asked_id = f.open(asked);
  asked.send("bye");
  json bye = asked.next("close");
  CHECK(bye["code"] == 4000);
  CHECK(bye["reason"] == "asked to leave");
  CHECK(f.disconnectCode("chat", asked_id) == "4000");
}

TEST_CASE("an HTTP invocation and the admin API send to a connection; another app cannot") {
  Fixture f;
  WsClient ws(f.tmp.path(), f.url("/chat/chat/lobby"));
  std::string id = f.open(ws);

  auto pushed = f.client().Post("/chat/push/" + id, "from http", "text/plain");
  REQUIRE(pushed);
  CHECK(pushed->status == 200);
  CHECK(ws.next("message")["data"] == "from http");

  auto threaded = f.client().Post("/threaded/push/" + id, "from a thread", "text/plain");
  REQUIRE(threaded);
  CHECK(threaded->status == 404);  // another app: as if there were no such connection
  auto other = f.client().Post("/other/push/" + id, "from another app", "text/plain");
  REQUIRE(other);
  CHECK(other->status == 404);
  CHECK(other->body.find("not found") != std::string::npos);
  auto unknown = f.client().Post("/chat/push/0123456789abcdef0123456789abcdef", "x", "text/plain");
  REQUIRE(unknown);
  CHECK(unknown->status == 404);

  auto listed = f.admin().Get("/v1/connections?app=chat");
  REQUIRE(listed);
  REQUIRE(listed->status == 200);
  json list = json::parse(listed->body)["connections"];
  REQUIRE(list.size() == 1);
  CHECK(list[0]["id"] == id);
  CHECK(list[0]["function"] == "chat");
  CHECK(list[0]["path"] == "/chat/chat/lobby");
  CHECK(list[0]["peer"] == "127.0.0.1");
  CHECK(list[0]["messages_out"] == 1);
  CHECK(json::parse(f.admin().Get("/v1/connections?app=other")->body)["connections"].empty());

  auto sent = f.admin().Post("/v1/connections/" + id + "?binary=1", std::string("\x01\x02", 2),
                             "application/octet-stream");
  REQUIRE(sent);
  CHECK(sent->status == 200);
  json binary = ws.next("message");
  CHECK(binary["binary"] == true);
  CHECK(binary["data"] == "0102");

  CommandResult ls = f.gust({"connections", "ls", "chat"});
  REQUIRE_MESSAGE(ls.status == 0, ls.err);
  CHECK(ls.out.find(id) != std::string::npos);
  CHECK(ls.out.find("/chat/chat/lobby") != std::string::npos);
  CommandResult sent_by_cli = f.gust({"connections", "send", id, "--data", "from the CLI"});
  REQUIRE_MESSAGE(sent_by_cli.status == 0, sent_by_cli.err);
  CHECK(ws.next("message")["data"] == "from the CLI");

  auto closed = f.admin().Delete("/v1/connections/" + id + "?code=4002");
  REQUIRE(closed);
  CHECK(closed->status == 200);
  CHECK(ws.next("close")["code"] == 4002);
  CHECK(f.admin().Delete("/v1/connections/" + id)->status == 404);
}

TEST_CASE("a thread-isolated app serves its own connections and sends to them from HTTP") {
  Fixture f;
  WsClient ws(f.tmp.path(), f.url("/threaded/chat/lobby"));
  std::string id = f.open(ws);
  CHECK(ws.reply("hi") == "echo: hi");
  auto pushed = f.client().Post("/threaded/push/" + id, "from a thread", "text/plain");
  REQUIRE(pushed);
  CHECK(pushed->status == 200);
  CHECK(ws.next("message")["data"] == "from a thread");
  auto closed = f.client().Post("/threaded/push/" + id + "?close=4003", "", "text/plain");
  REQUIRE(closed);
  CHECK(ws.next("close")["code"] == 4003);
}

TEST_CASE("a worker crash during a MESSAGE keeps the connection; a redeploy keeps it; removing the app closes it") {
  Fixture f;
  WsClient ws(f.tmp.path(), f.url("/chat/chat/lobby"));
  std::string id = f.open(ws);
  ws.send("crash");
  CHECK(ws.reply("still there?") == "echo: still there?");

  httplib::MultipartFormDataItems items = {
      {"manifest", manifest("chat"), "gust.json", "application/json"},
      {"module", readFile(env("GUST_FIXTURE_WEBSOCKET")), "chat.so", "application/octet-stream"},
  };
  auto deployed = f.admin().Post("/v1/apps/chat/versions", items);
  REQUIRE(deployed);
  REQUIRE_MESSAGE(deployed->status == 201, deployed->body);
  CHECK(ws.reply("after deploy") == "echo: after deploy");

  auto removed = f.admin().Delete("/v1/apps/chat");
  REQUIRE(removed);
  CHECK(removed->status < 300);
  CHECK(ws.next("close")["code"] == 1001);
}
