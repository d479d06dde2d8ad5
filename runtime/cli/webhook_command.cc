// gust webhook: subscribe external URLs to a topic, list, remove them and rotate their
// signing secrets (docs/admin-api.md, "Webhooks").
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/base/names.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kWebhookUsage = R"(usage: gust webhook <command> [arguments] [--admin URL] [--data-dir DIR]

A webhook POSTs each event published to a topic to an external URL, signed as the Standard
Webhooks spec says (webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256
of "id.timestamp.body">). A failed POST (no 2xx within 10 s) is retried with exponential
backoff; past --webhook-attempts the event goes to the queue <topic>:<id>.dead, from which
`gust queue redrive` sends it again. The host calls no loopback, private or link-local
address unless --callback-allow lists it.

commands:
  add TOPIC URL [--type T]
                     subscribe URL to TOPIC (only events of type T, if given) and print its
                     signing secret (whsec_...) alone on stdout: it is shown only now
  ls [--json]        list the webhooks: id, topic, URL, type, backlog (never a secret)
  rm ID              stop delivering and drop the subscription
  rotate ID          print a new secret; for 24 h deliveries carry the old one's signature too

options:
  --admin URL       the host's admin API (default http://127.0.0.1:8081, or $GUST_ADMIN_URL)
  --data-dir DIR    where to find the admin token (default ./.gust, or $GUST_DATA)
  -h, --help        show this help
)";

Result<Args> parseWebhookArgs(const std::string& sub, size_t words, const char* what, int argc, char** argv) {
  auto args = Args::parse("webhook " + sub, commandOptions("webhook " + sub), argc, argv);
  if (!args) return args.error();
  if (args->positional().size() != words) {
    return makeError(ErrorKind::kBadInput, "gust webhook " + sub + ": give " + what + "; see `gust webhook --help`");
  }
  return args;
}

// Prints the secret alone on stdout (so `SECRET=$(gust webhook add ...)` works).
void printSecret(const nlohmann::json& body) { std::printf("%s\n", fieldText(body, "secret").c_str()); }

int add(int argc, char** argv) {
  auto args = parseWebhookArgs("add", 2, "the topic and the URL", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const std::string& topic = args->positional()[0];
  if (auto ok = validateTopicName(topic); !ok) return fail("gust webhook add: " + ok.error().message, kExitUsage);
  nlohmann::json request_body = {{"topic", topic}, {"url", args->positional()[1]}};
  if (std::string type = args->get("--type").value_or(""); !type.empty()) request_body["type"] = type;
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/webhooks";
  request.body = request_body.dump();
  auto res = adminSend(adminTarget(*args), request);
  if (!res) return fail("gust webhook add: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust webhook add: " + body.error().message);
  printSecret(*body);
  std::fprintf(stderr,
               "created webhook %s for topic %s; its signing secret is shown only now: give it to the receiver\n",
               fieldText(*body, "id").c_str(), topic.c_str());
  return 0;
}

int list(int argc, char** argv) {
  auto args = parseWebhookArgs("ls", 0, "no arguments", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/webhooks");
  if (!res) return fail("gust webhook ls: " + res.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust webhook ls: " + body.error().message);
  auto hooks = body->value("webhooks", nlohmann::json::array());
  if (hooks.empty()) {
    std::printf("no webhooks; add one with `gust webhook add TOPIC URL`\n");
    return 0;
  }
  Table table({"ID", "TOPIC", "URL", "TYPE", "READY", "DEAD", "CREATED"});
  for (const auto& h : hooks) {
    std::string type = h.value("type", nlohmann::json()).is_string() ? fieldText(h, "type") : "(all)";
    auto backlog = h.value("backlog", nlohmann::json::object());
    table.add({fieldText(h, "id"), fieldText(h, "topic"), fieldText(h, "url"), type,
               std::to_string(backlog.value("ready", 0) + backlog.value("delayed", 0)),
               std::to_string(backlog.value("dead", 0)), timeText(h, "created_at")});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

int remove(int argc, char** argv) {
  auto args = parseWebhookArgs("rm", 1, "the webhook's id", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const std::string& id = args->positional()[0];
  if (auto ok = validateKeyName(id); !ok) return fail("gust webhook rm: not a webhook id: " + id, kExitUsage);
  auto res = adminCall(adminTarget(*args), "DELETE", "/v1/webhooks/" + id);
  if (!res) return fail("gust webhook rm: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust webhook rm: " + body.error().message);
  std::printf("removed webhook %s; its undelivered events stay in its queue until purged\n", id.c_str());
  return 0;
}

int rotate(int argc, char** argv) {
  auto args = parseWebhookArgs("rotate", 1, "the webhook's id", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const std::string& id = args->positional()[0];
  if (auto ok = validateKeyName(id); !ok) return fail("gust webhook rotate: not a webhook id: " + id, kExitUsage);
  auto res = adminCall(adminTarget(*args), "POST", "/v1/webhooks/" + id + "/rotate");
  if (!res) return fail("gust webhook rotate: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust webhook rotate: " + body.error().message);
  printSecret(*body);
  std::fprintf(stderr,
               "new secret for webhook %s, shown only now; deliveries carry the old secret's signature too "
               "for 24 h\n",
               id.c_str());
  return 0;
}

}  // namespace

int webhookCommand(int argc, char** argv) {
  if (argc == 0) return std::fprintf(stderr, "%s", kWebhookUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "help" || wantsHelp(argc, argv)) return std::printf("%s", kWebhookUsage), 0;
  if (sub == "add") return add(argc - 1, argv + 1);
  if (sub == "ls") return list(argc - 1, argv + 1);
  if (sub == "rm") return remove(argc - 1, argv + 1);
  if (sub == "rotate") return rotate(argc - 1, argv + 1);
  return unknownSubcommand("webhook", sub, subcommandsOf("webhook"));
}

}  // namespace gust::cli
