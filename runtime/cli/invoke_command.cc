// gust invoke: calls a function over HTTP, or runs a timer function through the admin API.
#include <httplib.h>
#include <strings.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/cli/admin_client.h"
#include "runtime/cli/args.h"
#include "runtime/cli/command_table.h"
#include "runtime/cli/commands.h"
#include "runtime/base/duration.h"

namespace gust::cli {

constexpr const char* kInvokeUsage = R"(usage: gust invoke [URL|PATH] [options]
       gust invoke --timer APP/FUNCTION [--admin URL] [--data-dir DIR]

Calls a function over HTTP and prints the response status and body. PATH (such as
/hello/world) is resolved against --host. With --timer, asks the running host (through its
admin API) to run a timer function now, and prints the run's outcome.

options:
  -X, --request METHOD  the request method (default GET, or POST with --data)
  -H, --header 'N: v'   a request header; repeatable
  -d, --data TEXT       the request body; --data @FILE reads it from FILE
  --host URL            where the host listens (default http://127.0.0.1:8080, or $GUST_URL)
  -i, --include         print the response headers too
  --timeout D           give up after this long (default 60s)
  --timer APP/FUNCTION  run that timer function now
{admin options}
  -h, --help            show this help

Exit status: 0 for a 2xx or 3xx answer (or a timer run that succeeded), 1 otherwise.
)";


namespace {

int runTimerNow(const Args& args, const std::string& id) {
  auto slash = id.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == id.size() || id.find('/', slash + 1) != std::string::npos) {
    return fail("gust invoke: --timer takes APP/FUNCTION, such as cron-report/report", kExitUsage);
  }
  auto res = adminCall(adminTarget(args), "POST", "/v1/timers/" + id + "/run");
  if (!res) return fail("gust invoke: " + res.error().message);
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status == 200 || res->status == 502) {
    std::string status = body.is_object() ? body.value("status", "?") : "?";
    std::string detail = body.is_object() ? body.value("detail", "") : "";
    std::printf("timer %s: %s%s%s\n", id.c_str(), status.c_str(), detail.empty() ? "" : ": ", detail.c_str());
    return res->status == 200 ? 0 : 1;
  }
  std::string detail = body.is_object() ? body.value("detail", res->body) : res->body;
  return fail("gust invoke: " + detail);
}

}  // namespace

int invokeCommand(int argc, char** argv) {
  if (wantsHelp(argc, argv)) return printAdminUsage(kInvokeUsage, 24), 0;
  auto args = Args::parse("invoke", commandOptions("invoke"), argc, argv);
  if (!args) return fail(args.error().message, kExitUsage);
  if (auto timer = args->get("--timer")) {
    if (!args->positional().empty()) return fail("gust invoke: --timer takes no URL", kExitUsage);
    return runTimerNow(*args, *timer);
  }
  if (args->positional().size() > 1) return fail("gust invoke: give one URL or path; see `gust invoke --help`", kExitUsage);
  std::string target = args->positional().empty() ? "/" : args->positional()[0];
  std::string base = "http://127.0.0.1:8080";
  if (const char* env = std::getenv("GUST_URL"); env && *env) base = env;
  if (auto host = args->get("--host")) base = *host;
  std::string path = target;
  if (target.rfind("http://", 0) == 0) {
    size_t slash = target.find('/', 7);
    base = target.substr(0, slash);
    path = slash == std::string::npos ? "/" : target.substr(slash);
  } else if (target.rfind("https://", 0) == 0) {
    return fail("gust invoke: https is not supported; use http:// (the host listens on plain HTTP)", kExitUsage);
  } else if (target.empty() || target[0] != '/') {
    return fail("gust invoke: \"" + target + "\" is neither a URL (http://...) nor a path starting with '/'", kExitUsage);
  }
  std::string body;
  bool has_body = false;
  if (auto data = args->get("--data")) {
    has_body = true;
    if (!data->empty() && (*data)[0] == '@') {
      std::string file = data->substr(1);
      // Far above any host's body limit: a bigger file is a mistake, not a request.
      constexpr std::uintmax_t kMaxDataFile = 256u << 20;
      std::error_code ec;
      if (std::filesystem::file_size(file, ec) > kMaxDataFile && !ec) {
        return fail("gust invoke: " + file + " is larger than 256 MiB; send a smaller body", kExitUsage);
      }
      std::ifstream in(file, std::ios::binary);
      if (!in) return fail("gust invoke: cannot read " + file + " (given with --data @FILE)");
      body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } else {
      body = *data;
    }
  }
  std::string method = args->get("-X").value_or(has_body ? "POST" : "GET");
  httplib::Headers headers;
  std::string content_type = "application/octet-stream";
  for (const auto& h : args->all("-H")) {
    auto colon = h.find(':');
    if (colon == std::string::npos || colon == 0) {
      return fail("gust invoke: header \"" + h + "\" must look like 'Name: value'", kExitUsage);
    }
    std::string name = h.substr(0, colon);
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    if (strcasecmp(name.c_str(), "content-type") == 0) content_type = value;
    else headers.emplace(name, value);
  }
  std::chrono::milliseconds timeout{60'000};
  if (auto t = args->get("--timeout")) {
    auto parsed = parseDuration(*t);
    if (!parsed) return fail("gust invoke: --timeout: " + parsed.error().message, kExitUsage);
    timeout = *parsed;
  }
  httplib::Client client(base);
  if (!client.is_valid()) return fail("gust invoke: \"" + base + "\" is not a valid http:// address", kExitUsage);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(timeout - secs);
  client.set_read_timeout(secs.count(), usecs.count());
  client.set_write_timeout(secs.count(), usecs.count());
  httplib::Request req;
  req.method = method;
  req.path = path;
  req.headers = headers;
  if (has_body) {
    req.body = body;
    req.set_header("Content-Type", content_type);
  }
  httplib::Result res = client.send(req);
  if (!res) {
    return fail("gust invoke: cannot reach " + base + ": " + httplib::to_string(res.error()) +
                " (is `gust serve` running there?)");
  }
  std::printf("HTTP %d\n", res->status);
  if (args->has("--include")) {
    for (const auto& [k, v] : res->headers) std::printf("%s: %s\n", k.c_str(), v.c_str());
  }
  std::fwrite(res->body.data(), 1, res->body.size(), stdout);
  if (!res->body.empty() && res->body.back() != '\n') std::printf("\n");
  return res->status >= 200 && res->status < 400 ? 0 : 1;
}

}  // namespace gust::cli
