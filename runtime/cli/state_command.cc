// gust state: what an app's functions keep in its app state (docs/admin-api.md,
// "App state"), for operators: list the keys, print one value.
#include <cctype>
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

constexpr const char *kStateUsage =
    R"(usage: gust state <command> APP [arguments] [--admin URL] [--data-dir DIR]

An app's state is the key-value store its functions read and write with ctx.state()
(versions, compare-and-set, TTLs). These commands only read it.

commands:
  ls APP [--prefix P] [--limit N]
                     list the app's keys (starting with P): version, size, expiry,
                     last update; at most N (default 100, at most 10000)
  get APP KEY        print the key's value alone on stdout, as stored (its version on
                     stderr); exit status 1 when the key does not exist

options:
  --admin URL       the host's admin API (default http://127.0.0.1:8081, or $GUST_ADMIN_URL)
  --data-dir DIR    where to find the admin token (default ./.gust, or $GUST_DATA)
  -h, --help        show this help
)";

// `text` as a query parameter's value: RFC 3986 unreserved bytes as they are,
// all else %XX.
std::string queryText(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto b = static_cast<unsigned char>(c);
    if (std::isalnum(b) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      out += {'%', kHex[b >> 4], kHex[b & 15]};
    }
  }
  return out;
}

Result<Args> parseStateArgs(const std::string &sub, size_t words,
                            const char *what, int argc, char **argv) {
  auto args = Args::parse("state " + sub, commandOptions("state " + sub), argc, argv);
  if (!args)
    return args.error();
  if (args->positional().size() != words) {
    return makeError(ErrorKind::kBadInput, "gust state " + sub + ": give " +
                                               what +
                                               "; see `gust state --help`");
  }
  if (auto valid = validateAppName(args->positional()[0]); !valid) {
    return makeError(ErrorKind::kBadInput,
                     "gust state " + sub + ": " + valid.error().message);
  }
  return args;
}

int list(int argc, char **argv) {
  auto args =
      parseStateArgs("ls", 1,
                     "the app only", argc, argv);
  if (!args)
    return fail(args.error().message, kExitUsage);
  const std::string &app = args->positional()[0];
  std::string path = "/v1/apps/" + app + "/state?limit=" +
                     queryText(args->get("--limit").value_or("100")) +
                     "&prefix=" + queryText(args->get("--prefix").value_or(""));
  auto res = adminCall(adminTarget(*args), "GET", path);
  if (!res)
    return fail("gust state ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body)
    return fail("gust state ls: " + body.error().message);
  auto keys = body->value("keys", nlohmann::json::array());
  if (keys.empty()) {
    std::printf("%s holds no state keys%s\n", app.c_str(),
                args->get("--prefix") ? " with that prefix" : "");
    return 0;
  }
  Table table({"KEY", "VERSION", "SIZE", "EXPIRES", "UPDATED"});
  for (const auto &k : keys) {
    std::string expires = k.value("expires_at", nlohmann::json()).is_string()
                              ? timeText(k, "expires_at")
                              : "never";
    table.add({fieldText(k, "key"), fieldText(k, "version"),
               fieldText(k, "size"), expires, timeText(k, "updated_at")});
  }
  std::printf("%s", table.render().c_str());
  const auto &usage = body->value("usage", nlohmann::json::object());
  std::fprintf(stderr, "%s holds %s keys, %s bytes%s\n", app.c_str(),
               fieldText(usage, "keys").c_str(),
               fieldText(usage, "bytes").c_str(),
               body->value("truncated", false) ? " (list cut at --limit)" : "");
  return 0;
}

int get(int argc, char **argv) {
  auto args = parseStateArgs("get", 2, "the app and the key", argc, argv);
  if (!args)
    return fail(args.error().message, kExitUsage);
  const std::string &app = args->positional()[0];
  const std::string &key = args->positional()[1];
  auto res =
      adminCall(adminTarget(*args), "GET",
                "/v1/apps/" + app + "/state/value?key=" + queryText(key));
  if (!res)
    return fail("gust state get: " + res.error().message);
  if (res->status != 200)
    return fail("gust state get: " + problemDetail(*res));
  std::fwrite(res->body.data(), 1, res->body.size(), stdout);
  std::fprintf(stderr, "version %s\n",
               res->header("Gust-State-Version").c_str());
  return 0;
}

} // namespace

int stateCommand(int argc, char **argv) {
  if (argc == 0)
    return std::fprintf(stderr, "%s", kStateUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "help" || wantsHelp(argc, argv))
    return std::printf("%s", kStateUsage), 0;
  if (sub == "ls")
    return list(argc - 1, argv + 1);
  if (sub == "get")
    return get(argc - 1, argv + 1);
  return unknownSubcommand("state", sub, subcommandsOf("state"));
}

} // namespace gust::cli
