#include "runtime/cli/admin_client.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "runtime/admin/admin_token.h"

namespace gust::cli {

AdminTarget adminTarget(const Args& args) {
  AdminTarget t;
  if (const char* env = std::getenv("GUST_ADMIN_URL"); env && *env) t.url = env;
  if (auto url = args.get("--admin")) t.url = *url;
  if (const char* data = std::getenv("GUST_DATA"); data && *data) t.data_dir = data;
  if (auto dir = args.get("--data-dir")) t.data_dir = *dir;
  return t;
}

Error unreachable(const std::string& url, httplib::Error error) {
  return makeError(ErrorKind::kUnavailable, "cannot reach the admin API at " + url + ": " + httplib::to_string(error) +
                                                " (is `gust serve` running?)");
}

Result<httplib::Response> adminSend(const AdminTarget& target, const AdminRequest& request) {
  auto token = readAdminToken(target.data_dir);
  if (!token) return token.error();
  httplib::Client client(target.url);
  if (!client.is_valid()) return makeError(ErrorKind::kBadInput, "\"" + target.url + "\" is not a valid http:// address");
  // Long enough for a logs long poll (at most 30 s) and a deploy that starts slow workers.
  client.set_read_timeout(600, 0);
  client.set_connection_timeout(10, 0);
  httplib::Request req;
  req.method = request.method;
  req.path = request.path;
  req.headers = request.headers;
  req.set_header("Authorization", "Bearer " + *token);
  if (!request.body.empty() || request.method == "POST") {
    req.body = request.body;
    req.set_header("Content-Type", request.content_type);
  }
  httplib::Result res = client.send(req);
  if (!res) return unreachable(target.url, res.error());
  if (res->status == 401) {
    return makeError(ErrorKind::kBadInput, "the admin API refused the token (set GUST_ADMIN_TOKEN or --data-dir to the "
                                           "host's own)");
  }
  return *res;
}

Result<httplib::Response> adminCall(const AdminTarget& target, const std::string& method, const std::string& path) {
  AdminRequest request;
  request.method = method;
  request.path = path;
  return adminSend(target, request);
}

std::string problemDetail(const httplib::Response& response) {
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

Result<nlohmann::json> jsonAnswer(const httplib::Response& response) {
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

void printAnswer(const httplib::Response& response) {
  std::fwrite(response.body.data(), 1, response.body.size(), stdout);
  if (response.body.empty() || response.body.back() != '\n') std::fputc('\n', stdout);
}

}  // namespace gust::cli
