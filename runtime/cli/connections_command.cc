// gust connections: list the open WebSocket connections of a running host, send one a
// message, close one (docs/admin-api.md "Connections").
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

constexpr const char* kConnectionsUsage = R"(usage: gust connections <command> [arguments] [--admin URL] [--data-dir DIR]

Works with the open WebSocket connections of a running host: those of the functions with
"websocket": true in their gust.json. Each has an id, which its function's invocations
see and which `ls` shows.

commands:
  ls [APP] [--json]       each open connection: its app, function, path, peer, when it
                          opened, messages received and sent
  send ID --data TEXT|@FILE [--binary]
                          send the connection one message (@- reads it from stdin);
                          text unless --binary
  close ID [--code N]     start its close handshake with code N (1000, or 3000..4999);
                          its function then gets its DISCONNECT

options:
{admin options}
  -h, --help        show this help
)";

Result<std::string> connectionId(const Args& args, const std::string& sub) {
  if (args.positional().size() != 1) {
    return makeError(ErrorKind::kBadInput,
                     "gust connections " + sub + ": give one connection id; `gust connections ls` lists them");
  }
  return args.positional()[0];
}

int list(int argc, char** argv) {
  auto args = Args::parse("connections ls", commandOptions("connections ls"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (args->positional().size() > 1) return fail("gust connections ls: takes at most one app name", kExitUsage);
  std::string path = "/v1/connections";
  if (!args->positional().empty()) {
    const std::string& app = args->positional()[0];
    if (auto valid = validateAppName(app); !valid) return fail("gust connections ls: " + valid.error().message, kExitUsage);
    path += "?app=" + app;
  }
  auto res = adminCall(adminTarget(*args), "GET", path);
  if (!res) return fail("gust connections ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust connections ls: " + body.error().message);
  if (args->has("--json")) return printAnswer(*res), 0;
  const auto& list = (*body)["connections"];
  if (!list.is_array() || list.empty()) {
    std::printf("no open connections; a function with \"websocket\": true takes them on its routes\n");
    return 0;
  }
  Table table({"ID", "APP", "FUNCTION", "PATH", "PEER", "OPENED", "IN", "OUT"});
  for (const auto& c : list) {
    table.add({fieldText(c, "id"), fieldText(c, "app"), fieldText(c, "function"), fieldText(c, "path"),
               fieldText(c, "peer"), timeText(c, "opened_at"), fieldText(c, "messages_in"),
               fieldText(c, "messages_out")});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

int send(int argc, char** argv) {
  auto args = Args::parse("connections send", commandOptions("connections send"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto id = connectionId(*args, "send");
  if (!id) return fail(id.error().message, kExitUsage);
  if (!args->has("--data")) return fail("gust connections send: give the message with --data TEXT or --data @FILE", kExitUsage);
  QueueSendFlags flags;  // the same --data rules as `gust queue send`
  flags.data = *args->get("--data");
  auto data = makeQueueSend(flags);
  if (!data) return fail("gust connections send: " + data.error().message, kExitUsage);
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/connections/" + *id + (args->has("--binary") ? "?binary=1" : "");
  request.body = std::move(data->body);
  request.content_type = "application/octet-stream";
  auto res = adminSend(adminTarget(*args), request);
  if (!res) return fail("gust connections send: " + res.error().message);
  if (auto body = jsonAnswer(*res); !body) return fail("gust connections send: " + body.error().message);
  std::printf("%s: sent\n", id->c_str());
  return 0;
}

int close(int argc, char** argv) {
  auto args = Args::parse("connections close", commandOptions("connections close"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  auto id = connectionId(*args, "close");
  if (!id) return fail(id.error().message, kExitUsage);
  std::string path = "/v1/connections/" + *id;
  if (auto code = args->get("--code")) {
    if (code->empty() || code->find_first_not_of("0123456789") != std::string::npos) {
      return fail("gust connections close: --code must be 1000, or 3000..4999", kExitUsage);
    }
    path += "?code=" + *code;
  }
  auto res = adminCall(adminTarget(*args), "DELETE", path);
  if (!res) return fail("gust connections close: " + res.error().message);
  if (auto body = jsonAnswer(*res); !body) return fail("gust connections close: " + body.error().message);
  std::printf("%s: closing\n", id->c_str());
  return 0;
}

}  // namespace

int connectionsCommand(int argc, char** argv) {
  if (argc == 0) return std::fprintf(stderr, "%s", kConnectionsUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "--help" || sub == "-h" || sub == "help" || wantsHelp(argc, argv)) {
    return printAdminUsage(kConnectionsUsage, 20), 0;
  }
  if (sub == "ls") return list(argc - 1, argv + 1);
  if (sub == "send") return send(argc - 1, argv + 1);
  if (sub == "close") return close(argc - 1, argv + 1);
  return unknownSubcommand("connections", sub, subcommandsOf("connections"));
}

}  // namespace gust::cli
