// gust keys: create, list and revoke the function keys that callers of an app's
// `"auth": "key"` functions send (docs/security.md, "Function keys").
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

constexpr const char* kKeysUsage = R"(usage: gust keys <command> APP [arguments] [--admin URL] [--data-dir DIR]

Function keys let a caller reach an app's functions whose gust.json says "auth": "key"
(on the app, or on one function). A caller sends one as `Authorization: Bearer KEY` or
`x-gust-key: KEY`; without a valid one the answer is 401 and the function does not run.
The host stores only a digest of each key: a key is shown once, when it is made.

commands:
  create APP [--function F] [--name N]
                     make a key (for every function of APP, or only F) and print it
                     alone on stdout; N defaults to key-1, key-2 ...
  ls APP             list the app's keys: name, function, creation time (never the keys)
  revoke APP NAME    refuse the key from the next request on, and delete it

Key names are 1 to 63 letters, digits, '-' or '_'; an app has at most 100 keys.

options:
  --admin URL       the host's admin API (default http://127.0.0.1:8081, or $GUST_ADMIN_URL)
  --data-dir DIR    where to find the admin token (default ./.gust, or $GUST_DATA)
  -h, --help        show this help
)";

// Parses `gust keys SUB` with its options (runtime/cli/command_table.h); `words` is how many positional words it takes.
Result<Args> parseKeysArgs(const std::string& sub, size_t words, const char* what, int argc, char** argv) {
  auto args = Args::parse("keys " + sub, commandOptions("keys " + sub), argc, argv);
  if (!args) return args.error();
  if (args->positional().size() != words) {
    return makeError(ErrorKind::kBadInput, "gust keys " + sub + ": give " + what + "; see `gust keys --help`");
  }
  if (auto valid = validateAppName(args->positional()[0]); !valid) {
    return makeError(ErrorKind::kBadInput, "gust keys " + sub + ": " + valid.error().message);
  }
  return args;
}

int create(int argc, char** argv) {
  auto args = parseKeysArgs("create", 1, "the app only", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const std::string& app = args->positional()[0];
  nlohmann::json request_body = nlohmann::json::object();
  if (std::string function = args->get("--function").value_or(""); !function.empty()) {
    if (auto ok = validateFunctionName(function); !ok) return fail("gust keys create: " + ok.error().message, kExitUsage);
    request_body["function"] = function;
  }
  if (std::string name = args->get("--name").value_or(""); !name.empty()) {
    if (auto ok = validateKeyName(name); !ok) return fail("gust keys create: " + ok.error().message, kExitUsage);
    request_body["name"] = name;
  }
  AdminRequest request;
  request.method = "POST";
  request.path = "/v1/apps/" + app + "/keys";
  request.body = request_body.dump();
  auto res = adminSend(adminTarget(*args), request);
  if (!res) return fail("gust keys create: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust keys create: " + body.error().message);
  // The key alone on stdout, so `KEY=$(gust keys create app)` works; the notes on stderr.
  std::printf("%s\n", fieldText(*body, "key").c_str());
  std::string scope = body->value("function", nlohmann::json()).is_string()
                          ? "function " + fieldText(*body, "function") + " of " + app
                          : "every function of " + app;
  std::fprintf(stderr, "created key %s for %s; it is shown only now: keep it where its caller can read it\n",
               fieldText(*body, "name").c_str(), scope.c_str());
  return 0;
}

int list(int argc, char** argv) {
  auto args = parseKeysArgs("ls", 1, "the app only", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const std::string& app = args->positional()[0];
  auto res = adminCall(adminTarget(*args), "GET", "/v1/apps/" + app + "/keys");
  if (!res) return fail("gust keys ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust keys ls: " + body.error().message);
  auto keys = body->value("keys", nlohmann::json::array());
  if (keys.empty()) {
    std::printf("%s has no keys; make one with `gust keys create %s`\n", app.c_str(), app.c_str());
    return 0;
  }
  Table table({"NAME", "FUNCTION", "CREATED"});
  for (const auto& k : keys) {
    std::string function = k.value("function", nlohmann::json()).is_string() ? fieldText(k, "function") : "(all)";
    table.add({fieldText(k, "name"), function, timeText(k, "created_at")});
  }
  std::printf("%s", table.render().c_str());
  return 0;
}

int revoke(int argc, char** argv) {
  auto args = parseKeysArgs("revoke", 2, "the app and the key's name", argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  const std::string& app = args->positional()[0];
  const std::string& name = args->positional()[1];
  if (auto ok = validateKeyName(name); !ok) return fail("gust keys revoke: " + ok.error().message, kExitUsage);
  auto res = adminCall(adminTarget(*args), "DELETE", "/v1/apps/" + app + "/keys/" + name);
  if (!res) return fail("gust keys revoke: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust keys revoke: " + body.error().message);
  std::printf("revoked key %s of %s; requests with it are refused from now on\n", name.c_str(), app.c_str());
  return 0;
}

}  // namespace

int keysCommand(int argc, char** argv) {
  if (argc == 0) return std::fprintf(stderr, "%s", kKeysUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "help" || wantsHelp(argc, argv)) return std::printf("%s", kKeysUsage), 0;
  if (sub == "create") return create(argc - 1, argv + 1);
  if (sub == "ls") return list(argc - 1, argv + 1);
  if (sub == "revoke") return revoke(argc - 1, argv + 1);
  return unknownSubcommand("keys", sub, subcommandsOf("keys"));
}

}  // namespace gust::cli
