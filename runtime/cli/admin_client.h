#pragma once
// The CLI's client of a running host's admin API: where it is, its token, and one request.
// A host listens on DATA_DIR/admin.sock (see runtime/admin/admin_socket.h), so the data dir
// that holds the token also says where to connect; --admin or $GUST_ADMIN_URL name another
// place, a socket (unix:/path) or a TCP listener (http://host:port).

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/cli/args.h"
#include "runtime/base/result.h"

namespace gust::cli {

struct AdminTarget {
  std::string url;  // "unix:/path/admin.sock" or "http://host:port"; empty: DATA_DIR/admin.sock
  std::filesystem::path data_dir = ".gust";
  std::string why;  // how it was chosen, for --verbose
  std::optional<Error> problem;  // no host could be chosen: adminSend answers this
};

// From --admin and --data-dir, else $GUST_ADMIN_URL and $GUST_DATA; else ./.gust when a host
// serves it; else one of the hosts that recorded where they listen
// (runtime/host/host_record.h): the only live one, or the one whose data dir is nearest to
// this folder (in it or in the nearest ancestor that holds any); a tie is an error that lists
// them. With no record, ./.gust.
AdminTarget adminTarget(const Args& args);

// `gust --verbose`: the first request says on stderr which host it goes to and why.
void setExplainAdminTarget(bool explain);

// Where the target's requests go, as the CLI names it in messages ("unix:.gust/admin.sock").
std::string adminAddress(const AdminTarget& target);

// The options of every command that talks to a host, and `specs` with them.
std::vector<OptionSpec> adminOptions(std::vector<OptionSpec> specs = {});

// Prints a command's usage, with the help of --admin and --data-dir (the same for every
// command that talks to a host) in place of its "{admin options}\n" line, the descriptions
// starting at `column`.
void printAdminUsage(std::string_view usage, size_t column);

// Header names compare without regard to case (RFC 9110 section 5.1), as cpp-httplib's do.
// The CLI's own types, so that the commands do not parse <httplib.h>: only the files that
// talk HTTP include it (runtime/cli/admin_http.h).
struct HeaderNameLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using AdminHeaders = std::multimap<std::string, std::string, HeaderNameLess>;

struct AdminRequest {
  std::string method = "GET";
  std::string path;  // with its query string
  std::string body;
  std::string content_type = "application/json";
  AdminHeaders headers;  // besides Authorization
};

// The host's answer.
struct AdminResponse {
  int status = 0;
  std::string body;
  AdminHeaders headers;

  // The first value of the header `name`, or "".
  std::string header(const std::string& name) const;
};

// Sends one request with the admin token; fails (with a one-line reason) only when there
// is no answer or the token is refused. Any other status is the caller's to read.
Result<AdminResponse> adminSend(const AdminTarget& target, const AdminRequest& request);

// A bodiless GET, POST or DELETE.
Result<AdminResponse> adminCall(const AdminTarget& target, const std::string& method, const std::string& path);

// Why the host refused: the problem+json `detail` (or `title`), else the status and the
// start of the body, as one line.
std::string problemDetail(const AdminResponse& response);

// The JSON object of a 2xx answer; otherwise an error carrying the host's reason
// (kNotFound for a 404, so callers can say which name was unknown).
Result<nlohmann::json> jsonAnswer(const AdminResponse& response);

// Writes the body exactly as the host sent it (for --json), ending with a newline.
void printAnswer(const AdminResponse& response);

}  // namespace gust::cli
