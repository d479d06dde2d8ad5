// gust env: set, list and remove an app's own environment variables and secrets on a
// running host.
#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "functions/app_env.h"
#include "runtime/base/names.h"
#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/cli/table.h"

namespace gust::cli {

namespace {

constexpr const char* kEnvUsage = R"(usage: gust env <command> APP [arguments] [--admin URL] [--data-dir DIR]

Keeps an app's own environment variables and secrets on a running host. Only that app's
workers see them, beside PATH, LANG, TZ and HOME=/tmp; a change replaces its workers
without dropping a request. Values are stored in the host's data dir (readable by the
host's user only) and never shown again. On a Redis backend (--backend) they are also
stored in Redis, and every host of the cluster takes the change.

commands:
  set APP KEY=VALUE [KEY=VALUE...]
                     set variables (KEY=@FILE reads the value from FILE, without its
                     final newline: a value on a command line shows in `ps`)
  ls APP             list the app's variable names and the size of each value
  rm APP KEY [KEY...]
                     remove variables (not one the active version's required_env names)

Names are letters, digits and _ (not starting with a digit), up to 128 bytes; GUST_*,
LD_*, PATH and HOME are refused. A value is UTF-8 text of up to 32 KiB; an app has at
most 256 variables and 256 KiB in all.

options:
  --admin URL       the host's admin API (default http://127.0.0.1:8081, or $GUST_ADMIN_URL)
  --data-dir DIR    where to find the admin token (default ./.gust, or $GUST_DATA)
  -h, --help        show this help
)";


// A sub-command's arguments: the app (checked) and the words after it.
struct EnvArgs {
  Args args;
  std::vector<std::string> words;  // words[0] is the app
};

Result<EnvArgs> parseEnvArgs(const std::string& sub, bool needs_words, int argc, char** argv) {
  auto args = Args::parse("env " + sub, commandOptions("env " + sub), argc, argv);
  if (!args) return args.error();
  const auto& words = args->positional();
  if (words.empty() || (needs_words && words.size() < 2) || (!needs_words && words.size() > 1)) {
    return makeError(ErrorKind::kBadInput, "gust env " + sub + ": give the app" +
                                               (needs_words ? std::string(sub == "set" ? " and KEY=VALUE" : " and KEY")
                                                            : std::string(" only")) +
                                               "; see `gust env --help`");
  }
  if (auto valid = validateAppName(words[0]); !valid) {
    return makeError(ErrorKind::kBadInput, "gust env " + sub + ": " + valid.error().message);
  }
  return EnvArgs{*args, words};
}

// Sends a merge patch of the app's variables and prints what the host did.
int patch(const Args& args, const std::string& sub, const std::string& app, const nlohmann::json& changes) {
  AdminRequest request;
  request.method = "PATCH";
  request.path = "/v1/apps/" + app + "/env";
  request.body = changes.dump();
  auto res = adminSend(adminTarget(args), request);
  if (!res) return fail("gust env " + sub + ": " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust env " + sub + ": " + body.error().message);
  for (const auto& [key, value] : changes.items()) {
    std::printf("%s %s\n", value.is_null() ? "removed" : "set", key.c_str());
  }
  if (body->value("rolled", false)) {
    std::printf("%s: workers of version %s replaced; new invocations see the change\n", app.c_str(),
                fieldText(*body, "version").c_str());
  } else {
    std::printf("%s: no workers running; the app's next workers see the change\n", app.c_str());
  }
  return 0;
}

int set(int argc, char** argv) {
  auto parsed = parseEnvArgs("set", true, argc, argv);
  if (!parsed) return fail(parsed.error().message, kExitUsage);
  const auto& words = parsed->words;
  nlohmann::json changes = nlohmann::json::object();
  for (size_t i = 1; i < words.size(); ++i) {
    const std::string& word = words[i];
    size_t eq = word.find('=');
    if (eq == std::string::npos) {
      return fail("gust env set: \"" + word + "\" has no =; write KEY=VALUE (e.g. API_KEY=abc123)", kExitUsage);
    }
    std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (auto ok = validateEnvKey(key); !ok) return fail("gust env set: " + ok.error().message, kExitUsage);
    if (!value.empty() && value.front() == '@') {
      std::ifstream in(value.substr(1), std::ios::binary);
      if (!in) return fail("gust env set: cannot read " + value.substr(1) + " (the value of " + key + ")", kExitUsage);
      value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      if (!value.empty() && value.back() == '\n') value.pop_back();
    }
    if (auto ok = validateEnvValue(key, value); !ok) return fail("gust env set: " + ok.error().message, kExitUsage);
    changes[key] = value;
  }
  return patch(parsed->args, "set", words[0], changes);
}

int remove(int argc, char** argv) {
  auto parsed = parseEnvArgs("rm", true, argc, argv);
  if (!parsed) return fail(parsed.error().message, kExitUsage);
  const auto& words = parsed->words;
  nlohmann::json changes = nlohmann::json::object();
  for (size_t i = 1; i < words.size(); ++i) {
    if (auto ok = validateEnvKey(words[i]); !ok) return fail("gust env rm: " + ok.error().message, kExitUsage);
    changes[words[i]] = nullptr;
  }
  return patch(parsed->args, "rm", words[0], changes);
}

int list(int argc, char** argv) {
  auto parsed = parseEnvArgs("ls", false, argc, argv);
  if (!parsed) return fail(parsed.error().message, kExitUsage);
  const std::string& app = parsed->words[0];
  auto res = adminCall(adminTarget(parsed->args), "GET", "/v1/apps/" + app + "/env");
  if (!res) return fail("gust env ls: " + res.error().message);
  auto body = jsonAnswer(*res);
  if (!body) return fail("gust env ls: " + body.error().message);
  auto variables = body->value("variables", nlohmann::json::array());
  if (variables.empty()) {
    std::printf("%s has no variables; set one with `gust env set %s KEY=VALUE`\n", app.c_str(), app.c_str());
    return 0;
  }
  size_t width = 0;
  for (const auto& v : variables) width = std::max(width, fieldText(v, "name").size());
  for (const auto& v : variables) {
    std::printf("%-*s  ******** (%s bytes)\n", static_cast<int>(width), fieldText(v, "name").c_str(),
                fieldText(v, "bytes").c_str());
  }
  return 0;
}

}  // namespace

int envCommand(int argc, char** argv) {
  if (argc == 0) return std::fprintf(stderr, "%s", kEnvUsage), kExitUsage;
  std::string sub = argv[0];
  if (sub == "help" || wantsHelp(argc, argv)) return std::printf("%s", kEnvUsage), 0;
  if (sub == "set") return set(argc - 1, argv + 1);
  if (sub == "ls") return list(argc - 1, argv + 1);
  if (sub == "rm") return remove(argc - 1, argv + 1);
  return unknownSubcommand("env", sub, subcommandsOf("env"));
}

}  // namespace gust::cli
