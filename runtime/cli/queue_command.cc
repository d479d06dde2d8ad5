// gust queue: send to, list, peek at, redrive and purge the queues of a running host.
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/base/names.h"
#include "runtime/base/text.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/queue_message.h"
#include "runtime/cli/table.h"
#include "runtime/store/queue_backend.h"

namespace gust::cli {

namespace {

constexpr const char* kQueueUsage = R"(usage: gust queue <command> [arguments] [--admin URL] [--data-dir DIR]

Works with the durable queues of a running host.

commands:
  send NAME -d|--data TEXT|@FILE [--id ID] [--delay 30s] [-H|--header K=V]...
                          put a message on queue NAME (@- reads it from stdin); --id
                          deduplicates, --delay holds it back, --header adds a header
  ls [--json]             every queue a deployed app consumes or declares and every one
                          holding messages: depth, in flight, delayed, dead, consumer
  peek NAME [-n|--limit N] [--json]
                          show up to N (default 10) waiting messages without taking them
  redrive NAME.dead       move every message of a dead-letter queue back to its queue
  purge NAME              delete every waiting message of NAME

options:
{admin options}
  -h, --help        show this help
)";

// The one queue name a sub-command takes, checked.
Result<std::string> queueName(const Args& args, const std::string& sub, bool allow_dead) {
  if (args.positional().size() != 1) {
    return makeError(ErrorKind::kBadInput, "gust queue " + sub + ": give one queue name; see `gust queue --help`");
  }
  const std::string& name = args.positional()[0];
  // Past send, any queue the host keeps: dead-letter queues ("<queue>.dead") and topic
  // subscriptions' queues ("<topic>:<subscriber>", shown by `gust topic subs`) too.
  if (auto valid = allow_dead ? validateStoredQueueName(name) : validateQueueName(name); !valid) {
    return makeError(ErrorKind::kBadInput, "gust queue " + sub + ": " + valid.error().message);
  }
  return name;
}

int send(int argc, char** argv) {
  auto args = Args::parse("queue send", commandOptions("queue send"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto name = queueName(*args, "send", false);
  if (!name) return fail(name.error().message, kExitUsage);
  if (!args->has("--data")) {
    return fail("gust queue send: give the message with --data TEXT or --data @FILE", kExitUsage);
  }
  QueueSendFlags flags;
  flags.data = *args->get("--data");
  flags.id = args->get("--id");
  flags.delay = args->get("--delay");
  flags.headers = args->all("--header");
  auto message = makeQueueSend(flags);
  if (!message) return fail("gust queue send: " + message.error().message, kExitUsage);
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/queues/" + *name + "/messages";
  request.body = std::move(message->body);
  request.content_type = "application/octet-stream";
  request.headers = std::move(message->headers);
  auto res = adminSend(adminTarget(*args), request);
  if (!res) return fail("gust queue send: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust queue send: " + body.error().message);
  if (body->value("duplicate", false)) {
    std::printf("%s: already queued (duplicate of message %s), not sent again\n", name->c_str(),
                fieldText(*body, "id").c_str());
  } else {
    std::printf("%s: queued message %s\n", name->c_str(), fieldText(*body, "id").c_str());
  }
  return 0;
}

int list(int argc, char** argv) {
  auto args = Args::parse("queue ls", commandOptions("queue ls"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust queue ls: takes no arguments", kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/queues");
  if (!res) return fail("gust queue ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust queue ls: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& queues = (*body)["queues"];
  if (!queues.is_array() || queues.empty()) {
    std::printf("no queues yet; a queue is listed once a deployed app consumes or declares it, or a message is sent "
                "to it\n");
    return 0;
  }
  // Who reads it: its consumers, else the apps that declare it (they publish to it).
  auto consumers = [](const nlohmann::json& q) {
    std::string out;
    for (const auto& c : q.value("consumers", nlohmann::json::array())) {
      out += (out.empty() ? "" : ",") + (c.is_string() ? c.get<std::string>() : "?");
    }
    if (!out.empty()) return out;
    for (const auto& app : q.value("declared_by", nlohmann::json::array())) {
      out += (out.empty() ? "" : ",") + (app.is_string() ? app.get<std::string>() : "?");
    }
    return out.empty() ? std::string("-") : "none (declared by " + out + ")";
  };
  Table table({"QUEUE", "DEPTH", "IN FLIGHT", "DELAYED", "DEAD", "CONSUMER"});
  for (const auto& q : queues) {
    table.add({fieldText(q, "name"), fieldText(q, "depth"), fieldText(q, "in_flight"), fieldText(q, "delayed"),
               fieldText(q, "dead"), consumers(q)});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

// One line of a message body: control characters escaped, long bodies cut.
std::string bodyPreview(const nlohmann::json& message) {
  if (!message.contains("body") && message.contains("body_base64")) {
    auto bytes = base64Decode(message.value("body_base64", ""));
    return bytes ? "(binary, " + std::to_string(bytes->size()) + " bytes)" : "(binary)";
  }
  std::string body = fieldText(message, "body");
  std::string out;
  for (unsigned char c : body) {
    if (out.size() >= 120) return out + "…";
    if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7f) out += '?';
    else out += static_cast<char>(c);
  }
  return out;
}

int peek(int argc, char** argv) {
  auto args = Args::parse("queue peek", commandOptions("queue peek"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto name = queueName(*args, "peek", true);
  if (!name) return fail(name.error().message, kExitUsage);
  int limit = 10;
  if (auto l = args->get("--limit")) {
    char* end = nullptr;
    long n = std::strtol(l->c_str(), &end, 10);
    if (l->empty() || *end != '\0' || n < 1 || n > 1000) {
      return fail("gust queue peek: --limit must be a number from 1 to 1000", kExitUsage);
    }
    limit = static_cast<int>(n);
  }
  auto res = adminCall(adminTarget(*args), "GET", "/v1/queues/" + *name + "/messages?limit=" + std::to_string(limit));
  if (!res) return fail("gust queue peek: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust queue peek: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& messages = (*body)["messages"];
  if (!messages.is_array() || messages.empty()) {
    std::printf("%s has no waiting messages\n", name->c_str());
    return 0;
  }
  Table table({"ID", "ATTEMPTS", "ENQUEUED", "VISIBLE AT", "BODY"});
  for (const auto& m : messages) {
    table.add({fieldText(m, "id"), fieldText(m, "attempts"), timeText(m, "enqueued_at"), timeText(m, "visible_at"),
               bodyPreview(m)});
    std::string error = m.value("last_error", "");
    if (!error.empty()) table.add({"", "", "", "", "last error: " + error});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

int redrive(int argc, char** argv) {
  auto args = Args::parse("queue redrive", commandOptions("queue redrive"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto name = queueName(*args, "redrive", true);
  if (!name) return fail(name.error().message, kExitUsage);
  constexpr std::string_view kDead = ".dead";
  if (name->size() <= kDead.size() || name->compare(name->size() - kDead.size(), kDead.size(), kDead) != 0) {
    return fail("gust queue redrive: it moves messages out of a dead-letter queue; give " + *name + ".dead", kExitUsage);
  }
  auto res = adminCall(adminTarget(*args), "POST", "/v1/queues/" + *name + "/redrive");
  if (!res) return fail("gust queue redrive: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust queue redrive: " + body.error().message);
  std::printf("moved %s messages from %s back to %s\n", fieldText(*body, "moved").c_str(), name->c_str(),
              fieldText(*body, "to").c_str());
  return 0;
}

int purge(int argc, char** argv) {
  auto args = Args::parse("queue purge", commandOptions("queue purge"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto name = queueName(*args, "purge", true);
  if (!name) return fail(name.error().message, kExitUsage);
  auto res = adminCall(adminTarget(*args), "DELETE", "/v1/queues/" + *name + "/messages");
  if (!res) return fail("gust queue purge: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust queue purge: " + body.error().message);
  std::printf("purged %s messages from %s\n", fieldText(*body, "purged").c_str(), name->c_str());
  return 0;
}

}  // namespace

int queueCommand(int argc, char** argv) {
  if (argc == 0) return std::fprintf(stderr, "%s", kQueueUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "--help" || sub == "-h" || sub == "help") return printAdminUsage(kQueueUsage, 20), 0;
  if (wantsHelp(argc, argv)) return printAdminUsage(kQueueUsage, 20), 0;
  if (sub == "send") return send(argc - 1, argv + 1);
  if (sub == "ls") return list(argc - 1, argv + 1);
  if (sub == "peek") return peek(argc - 1, argv + 1);
  if (sub == "redrive") return redrive(argc - 1, argv + 1);
  if (sub == "purge") return purge(argc - 1, argv + 1);
  return unknownSubcommand("queue", sub, subcommandsOf("queue"));
}

}  // namespace gust::cli
