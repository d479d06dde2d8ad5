#pragma once
// The CLI's client of a running host's admin API: where it is, its token, and one request.
// A host listens on DATA_DIR/admin.sock (see runtime/admin/admin_socket.h), so the data dir
// that holds the token also says where to connect; --admin or $GUST_ADMIN_URL name another
// place, a socket (unix:/path) or a TCP listener (http://host:port).

#include <httplib.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cli/args.h"
#include "runtime/base/result.h"

namespace gust::cli {

struct AdminTarget {
  std::string url;  // "unix:/path/admin.sock" or "http://host:port"; empty: DATA_DIR/admin.sock
  std::filesystem::path data_dir = ".gust";
};

// From --admin and --data-dir, else $GUST_ADMIN_URL and $GUST_DATA, else the defaults.
AdminTarget adminTarget(const Args& args);

// Where the target's requests go, as the CLI names it in messages ("unix:.gust/admin.sock").
std::string adminAddress(const AdminTarget& target);

// A client for the target, without the token; a missing socket is an error that says how
// to start a host or name one.
Result<std::unique_ptr<httplib::Client>> adminClient(const AdminTarget& target);

// The options of every command that talks to a host, and `specs` with them.
std::vector<OptionSpec> adminOptions(std::vector<OptionSpec> specs = {});

// Prints a command's usage, with the help of --admin and --data-dir (the same for every
// command that talks to a host) in place of its "{admin options}\n" line, the descriptions
// starting at `column`.
void printAdminUsage(std::string_view usage, size_t column);

struct AdminRequest {
  std::string method = "GET";
  std::string path;  // with its query string
  std::string body;
  std::string content_type = "application/json";
  httplib::Headers headers;  // besides Authorization
};

// Sends one request with the admin token; fails (with a one-line reason) only when there
// is no answer or the token is refused. Any other status is the caller's to read.
Result<httplib::Response> adminSend(const AdminTarget& target, const AdminRequest& request);

// A bodiless GET, POST or DELETE.
Result<httplib::Response> adminCall(const AdminTarget& target, const std::string& method, const std::string& path);

// Why the host refused: the problem+json `detail` (or `title`), else the status and the
// start of the body, as one line.
std::string problemDetail(const httplib::Response& response);

// The JSON object of a 2xx answer; otherwise an error carrying the host's reason
// (kNotFound for a 404, so callers can say which name was unknown).
Result<nlohmann::json> jsonAnswer(const httplib::Response& response);

// Writes the body exactly as the host sent it (for --json), ending with a newline.
void printAnswer(const httplib::Response& response);

// The reason a request got no usable answer, shared by every admin call.
Error unreachable(const std::string& url, httplib::Error error);

}  // namespace gust::cli
