#include "runtime/cli/admin_client.h"


#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "runtime/admin/admin_token.h"
#include "runtime/cli/admin_http.h"
#include "runtime/host/host_record.h"

namespace gust::cli {

namespace {

bool explain_target = false;

std::string describe(const HostRecord& host) {
  return "pid " + std::to_string(host.pid) + " (data dir " + host.data_dir.string() + ", unix:" +
         host.admin_socket.string() + ")";
}

// How near a host's data dir is to the folder the CLI runs in: the number of steps up from
// that folder to the first one that holds the data dir (or is it). A project's host, with its
// data dir in the project, is nearest to every folder of the project.
size_t nearness(const std::filesystem::path& data_dir, const std::filesystem::path& cwd) {
  std::error_code ec;
  auto real = std::filesystem::weakly_canonical(data_dir, ec);  // as getcwd names folders
  if (ec) real = data_dir;
  size_t depth = 0;
  for (std::filesystem::path dir = cwd;; dir = dir.parent_path(), ++depth) {
    auto [in_dir, in_real] = std::mismatch(dir.begin(), dir.end(), real.begin(), real.end());
    if (in_dir == dir.end() || dir == dir.parent_path()) return depth;
  }
}

// No flag, no variable, no host on ./.gust: the hosts that recorded where they listen.
AdminTarget recordedTarget(AdminTarget t) {
  t.why = "it is the default, ./" + t.data_dir.string();
  auto dir = hostRecordDir();
  if (!dir) return t;
  auto hosts = liveHostRecords(*dir);
  if (!hosts) {
    std::fprintf(stderr, "gust: ignoring the host records: %s\n", hosts.error().message.c_str());
    return t;
  }
  if (hosts->empty()) {
    t.why += ", and no live host is recorded in " + dir->string();
    return t;
  }
  std::error_code ec;
  auto cwd = std::filesystem::current_path(ec);
  std::vector<const HostRecord*> nearest;
  size_t best = SIZE_MAX;
  for (const auto& host : *hosts) {
    size_t near = ec ? 0 : nearness(host.data_dir, cwd);
    if (near < best) best = near, nearest.clear();
    if (near == best) nearest.push_back(&host);
  }
  if (nearest.size() > 1) {
    std::string list;
    for (const HostRecord* host : nearest) list += (list.empty() ? "" : ", ") + describe(*host);
    t.problem = makeError(ErrorKind::kBadInput, std::to_string(nearest.size()) +
                                                    " hosts are running and none is nearer to this folder than the "
                                                    "others: " + list + "; choose one with --data-dir DIR or --admin URL");
    return t;
  }
  const HostRecord& chosen = *nearest.front();
  t.why = hosts->size() == 1 ? "it is the only live host recorded in " + dir->string()
                             : "of the " + std::to_string(hosts->size()) + " live hosts recorded in " + dir->string() +
                                   " its data dir is the nearest to this folder";
  t.url = "unix:" + chosen.admin_socket.string();
  t.data_dir = chosen.data_dir;
  return t;
}

}  // namespace

AdminTarget adminTarget(const Args& args) {
  AdminTarget t;
  std::vector<std::string> given;
  const char* env_url = std::getenv("GUST_ADMIN_URL");
  // `gust deploy --host` is an older name of --admin.
  if (auto url = args.get("--admin")) {
    t.url = *url, given.push_back("--admin");
  } else if (auto host = args.get("--host")) {
    t.url = *host, given.push_back("--host");
  } else if (env_url && *env_url) {
    t.url = env_url, given.push_back("$GUST_ADMIN_URL");
  }
  const char* env_data = std::getenv("GUST_DATA");
  if (auto dir = args.get("--data-dir")) {
    t.data_dir = *dir, given.push_back("--data-dir");
  } else if (env_data && *env_data) {
    t.data_dir = env_data, given.push_back("$GUST_DATA");
  }
  if (!given.empty()) {
    t.why = "it was named by " + given.front() + (given.size() > 1 ? " and " + given.back() : "");
    return t;
  }
  // A host serving ./.gust is the one meant here, recorded or not.
  std::error_code ec;
  if (std::filesystem::exists(t.data_dir / "admin.sock", ec)) {
    t.why = "the default data dir ./" + t.data_dir.string() + " holds its admin.sock";
    return t;
  }
  return recordedTarget(std::move(t));
}

void setExplainAdminTarget(bool explain) { explain_target = explain; }

std::string adminAddress(const AdminTarget& target) {
  return target.url.empty() ? "unix:" + (target.data_dir / "admin.sock").string() : target.url;
}

Result<std::unique_ptr<httplib::Client>> adminClient(const AdminTarget& target) {
  if (explain_target && !target.problem) {
    std::fprintf(stderr, "gust: talking to the host at %s (data dir %s) because %s\n",
                 adminAddress(target).c_str(), target.data_dir.c_str(), target.why.c_str());
    explain_target = false;  // once per command
  }
  if (target.problem) return *target.problem;
  std::string address = adminAddress(target);
  constexpr std::string_view kUnix = "unix:";
  if (address.rfind(kUnix, 0) == 0) {
    std::string path = address.substr(kUnix.size());
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      if (target.url.empty()) {
        return makeError(ErrorKind::kUnavailable,
                         "no host is serving " + target.data_dir.string() +
                             " (no admin.sock): start one with `gust serve`, or give --admin / --data-dir");
      }
      return makeError(ErrorKind::kUnavailable, "no admin socket at " + path + " (is `gust serve` running?)");
    }
    auto client = std::make_unique<httplib::Client>(path);
    client->set_address_family(AF_UNIX);
    return client;
  }
  auto client = std::make_unique<httplib::Client>(address);
  if (address.rfind("http://", 0) != 0 || !client->is_valid()) {
    return makeError(ErrorKind::kBadInput,
                     "\"" + address + "\" is not an admin address; use unix:/path/admin.sock or http://host:port");
  }
  return client;
}

bool HeaderNameLess::operator()(const std::string& a, const std::string& b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](unsigned char x, unsigned char y) {
    return std::tolower(x) < std::tolower(y);
  });
}

std::string AdminResponse::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? "" : it->second;
}

AdminResponse adminResponse(const httplib::Response& response) {
  AdminResponse out;
  out.status = response.status;
  out.body = response.body;
  out.headers.insert(response.headers.begin(), response.headers.end());
  return out;
}

std::vector<OptionSpec> adminOptions(std::vector<OptionSpec> specs) {
  specs.push_back({"--admin", "", true});
  specs.push_back({"--data-dir", "", true});
  return specs;
}

void printAdminUsage(std::string_view usage, size_t column) {
  constexpr std::string_view kSlot = "{admin options}\n";
  auto line = [column](std::string_view option, std::string_view first, std::string_view second) {
    std::string out = "  " + std::string(option);
    out += std::string(column > out.size() ? column - out.size() : 1, ' ');
    return out + std::string(first) + "\n" + std::string(column, ' ') + std::string(second) + "\n";
  };
  std::string help =
      line("--admin URL", "the host's admin API: unix:/path/admin.sock or http://HOST:PORT",
           "(default $GUST_ADMIN_URL, else the admin.sock in the data dir)") +
      line("--data-dir DIR", "the host's data dir, which holds its admin.sock and admin.token",
           "(default $GUST_DATA, else ./.gust); $GUST_ADMIN_TOKEN wins");
  std::string text(usage);
  if (size_t at = text.find(kSlot); at != std::string::npos) text.replace(at, kSlot.size(), help);
  std::fwrite(text.data(), 1, text.size(), stdout);
}

Error unreachable(const std::string& url, httplib::Error error) {
  return makeError(ErrorKind::kUnavailable, "cannot reach the admin API at " + url + ": " + httplib::to_string(error) +
                                                " (is `gust serve` running?)");
}

Result<AdminResponse> adminSend(const AdminTarget& target, const AdminRequest& request) {
  // The socket first: a missing one says more (no host here) than a missing token.
  auto client = adminClient(target);
  if (!client) return client.error();
  auto token = readAdminToken(target.data_dir);
  if (!token) return token.error();
  // Long enough for a logs long poll (at most 30 s) and a deploy that starts slow workers.
  (*client)->set_read_timeout(600, 0);
  (*client)->set_connection_timeout(10, 0);
  httplib::Request req;
  req.method = request.method;
  req.path = request.path;
  req.headers.insert(request.headers.begin(), request.headers.end());
  req.set_header("Authorization", "Bearer " + *token);
  if (!request.body.empty() || request.method == "POST") {
    req.body = request.body;
    req.set_header("Content-Type", request.content_type);
  }
  httplib::Result res = (*client)->send(req);
  if (!res) return unreachable(adminAddress(target), res.error());
  if (res->status == 401) {
    return makeError(ErrorKind::kBadInput, "the admin API refused the token (set GUST_ADMIN_TOKEN or --data-dir to the "
                                           "host's own)");
  }
  return adminResponse(*res);
}

Result<AdminResponse> adminCall(const AdminTarget& target, const std::string& method, const std::string& path) {
  AdminRequest request;
  request.method = method;
  request.path = path;
  return adminSend(target, request);
}

std::string problemDetail(const AdminResponse& response) {
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object()) {
    for (const char* key : {"detail", "title"}) {
      auto it = body.find(key);
      if (it != body.end() && it->is_string() && !it->get<std::string>().empty()) return it->get<std::string>();
    }
  }
  std::string start = response.body.substr(0, 200);
  for (char& c : start) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return "the host answered " + std::to_string(response.status) + (start.empty() ? "" : ": " + start);
}

Result<nlohmann::json> jsonAnswer(const AdminResponse& response) {
  if (response.status < 200 || response.status > 299) {
    return makeError(response.status == 404 ? ErrorKind::kNotFound : ErrorKind::kBadInput, problemDetail(response));
  }
  auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (!body.is_object()) {
    return makeError(ErrorKind::kInternal, "the host answered " + std::to_string(response.status) +
                                               " with something that is not a JSON object: " +
                                               response.body.substr(0, 200));
  }
  return body;
}

void printAnswer(const AdminResponse& response) {
  std::fwrite(response.body.data(), 1, response.body.size(), stdout);
  if (response.body.empty() || response.body.back() != '\n') std::fputc('\n', stdout);
}

}  // namespace gust::cli
