#include "runtime/cli/admin_client.h"

#include <cstdlib>

#include "runtime/admin_token.h"

namespace gust::cli {

AdminTarget adminTarget(const Args& args) {
  AdminTarget t;
  if (const char* env = std::getenv("GUST_ADMIN_URL"); env && *env) t.url = env;
  if (auto url = args.get("--admin")) t.url = *url;
  if (const char* data = std::getenv("GUST_DATA"); data && *data) t.data_dir = data;
  if (auto dir = args.get("--data-dir")) t.data_dir = *dir;
  return t;
}

Result<httplib::Response> adminCall(const AdminTarget& target, const std::string& method, const std::string& path) {
  auto token = readAdminToken(target.data_dir);
  if (!token) return token.error();
  httplib::Client client(target.url);
  if (!client.is_valid()) return makeError(ErrorKind::kBadInput, "\"" + target.url + "\" is not a valid http:// address");
  client.set_read_timeout(600, 0);
  httplib::Headers headers = {{"Authorization", "Bearer " + *token}};
  httplib::Result res = method == "POST" ? client.Post(path.c_str(), headers, "", "application/json")
                                         : client.Get(path.c_str(), headers);
  if (!res) {
    return makeError(ErrorKind::kUnavailable, "cannot reach the admin API at " + target.url + ": " +
                                                  httplib::to_string(res.error()) + " (is `gust serve` running?)");
  }
  if (res->status == 401) {
    return makeError(ErrorKind::kBadInput, "the admin API refused the token (set GUST_ADMIN_TOKEN or --data-dir to the "
                                           "host's own)");
  }
  return *res;
}

}  // namespace gust::cli
