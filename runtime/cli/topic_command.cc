// gust topic: list a running host's topics, publish an event, and show a topic's
// subscriptions with their backlog.
#include <cstdio>
#include <string>
#include <vector>

#include "runtime/base/names.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/queue_message.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kTopicUsage = R"(usage: gust topic <command> [arguments] [--admin URL] [--data-dir DIR]

Works with the topics of a running host. A topic exists while an app declares it
("topics" in gust.json), a function subscribes to it ("topic") or a webhook does; each
event published to it reaches every subscription, each with its own queue, retries and
dead letters.

commands:
  ls [--json]             each topic: who declares it, subscriptions, events published
  publish NAME --data TEXT|@FILE [--type T] [--id ID] [--subject S]
                          publish one event (@- reads it from stdin); --type is its
                          ce-type (default: the topic's name), --id deduplicates
  subs NAME [--json]      each subscription of NAME: its queue, filter, backlog, in
                          flight and dead (see `gust queue peek` and `gust queue redrive`)

options:
{admin options}
  -h, --help        show this help
)";

Result<std::string> topicName(const Args& args, const std::string& sub) {
  if (args.positional().size() != 1) {
    return makeError(ErrorKind::kBadInput, "gust topic " + sub + ": give one topic name; see `gust topic --help`");
  }
  if (auto valid = validateTopicName(args.positional()[0]); !valid) {
    return makeError(ErrorKind::kBadInput, "gust topic " + sub + ": " + valid.error().message);
  }
  return args.positional()[0];
}

int list(int argc, char** argv) {
  auto args = Args::parse("topic ls", commandOptions("topic ls"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (!args->positional().empty()) return fail("gust topic ls: takes no arguments", kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/topics");
  if (!res) return fail("gust topic ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust topic ls: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& topics = (*body)["topics"];
  if (!topics.is_array() || topics.empty()) {
    std::printf("no topics yet; an app declares one with \"topics\" in gust.json, or subscribes with \"topic\"\n");
    return 0;
  }
  Table table({"TOPIC", "DECLARED BY", "SUBSCRIPTIONS", "PUBLISHED", "LAST PUBLISHED"});
  for (const auto& t : topics) {
    std::string owners;
    const nlohmann::json declared_by = t.value("declared_by", nlohmann::json::array());
    for (const auto& owner : declared_by) {
      owners += (owners.empty() ? "" : ",") + owner.get<std::string>();
    }
    table.add({fieldText(t, "name"), owners.empty() ? "-" : owners, fieldText(t, "subscriptions"),
               fieldText(t, "published"), t.contains("last_published_at") ? timeText(t, "last_published_at") : "-"});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

int publish(int argc, char** argv) {
  auto args = Args::parse("topic publish", commandOptions("topic publish"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto name = topicName(*args, "publish");
  if (!name) return fail(name.error().message, kExitUsage);
  if (!args->has("--data")) return fail("gust topic publish: give the event with --data TEXT or --data @FILE", kExitUsage);
  QueueSendFlags flags;  // the same --data rules as `gust queue send`
  flags.data = *args->get("--data");
  flags.id = args->get("--id");
  auto data = makeQueueSend(flags);
  if (!data) return fail("gust topic publish: " + data.error().message, kExitUsage);
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/topics/" + *name + "/events";
  request.body = std::move(data->body);
  request.content_type = "application/octet-stream";
  if (auto id = args->get("--id")) request.headers.emplace("ce-id", *id);
  for (const char* attribute : {"type", "subject"}) {
    auto value = args->get(std::string("--") + attribute);
    if (!value) continue;
    if (value->empty() || value->size() > 256) {
      return fail(std::string("gust topic publish: --") + attribute + " must be 1 to 256 characters", kExitUsage);
    }
    request.headers.emplace(std::string("ce-") + attribute, *value);
  }
  auto res = adminSend(adminTarget(*args), request);
  if (!res) return fail("gust topic publish: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust topic publish: " + body.error().message);
  if (body->value("duplicate", false)) {
    std::printf("%s: event %s was published before; not again\n", name->c_str(), fieldText(*body, "id").c_str());
  } else {
    std::printf("%s: published event %s\n", name->c_str(), fieldText(*body, "id").c_str());
  }
  return 0;
}

int subs(int argc, char** argv) {
  auto args = Args::parse("topic subs", commandOptions("topic subs"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto name = topicName(*args, "subs");
  if (!name) return fail(name.error().message, kExitUsage);
  auto res = adminCall(adminTarget(*args), "GET", "/v1/topics/" + *name + "/subscriptions");
  if (!res) return fail("gust topic subs: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust topic subs: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& list = (*body)["subscriptions"];
  if (!list.is_array() || list.empty()) {
    std::printf("%s has no subscriptions; its events go nowhere until a function or a webhook subscribes\n",
                name->c_str());
    return 0;
  }
  Table table({"SUBSCRIBER", "QUEUE", "FILTER", "BACKLOG", "IN FLIGHT", "DELAYED", "DEAD"});
  for (const auto& s : list) {
    std::string filter;
    // Copies, not references: value() answers a temporary.
    const nlohmann::json f = s.value("filter", nlohmann::json::object());
    const nlohmann::json types = f.value("types", nlohmann::json::array());
    const nlohmann::json headers = f.value("headers", nlohmann::json::object());
    for (const auto& type : types) {
      filter += (filter.empty() ? "type=" : "|") + type.get<std::string>();
    }
    for (const auto& [k, v] : headers.items()) {
      filter += (filter.empty() ? "" : " ") + k + "=" + v.get<std::string>();
    }
    table.add({fieldText(s, "subscriber"), fieldText(s, "queue"), filter.empty() ? "-" : filter,
               fieldText(s, "backlog"), fieldText(s, "in_flight"), fieldText(s, "delayed"), fieldText(s, "dead")});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

}  // namespace

int topicCommand(int argc, char** argv) {
  if (argc == 0) return std::fprintf(stderr, "%s", kTopicUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "--help" || sub == "-h" || sub == "help" || wantsHelp(argc, argv)) {
    return printAdminUsage(kTopicUsage, 20), 0;
  }
  if (sub == "ls") return list(argc - 1, argv + 1);
  if (sub == "publish") return publish(argc - 1, argv + 1);
  if (sub == "subs") return subs(argc - 1, argv + 1);
  return unknownSubcommand("topic", sub, subcommandsOf("topic"));
}

}  // namespace gust::cli
