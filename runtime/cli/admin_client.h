#pragma once
// The CLI's client of a running host's admin API: where it is, its token, and one request.

#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/cli/args.h"
#include "runtime/base/result.h"

namespace gust::cli {

struct AdminTarget {
  std::string url = "http://127.0.0.1:8081";
  std::filesystem::path data_dir = ".gust";
};

// From --admin and --data-dir, else $GUST_ADMIN_URL and $GUST_DATA, else the defaults.
AdminTarget adminTarget(const Args& args);

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
