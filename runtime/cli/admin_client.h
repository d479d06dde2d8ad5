#pragma once
// The CLI's client of a running host's admin API: where it is, and its token.

#include <httplib.h>

#include <filesystem>
#include <string>

#include "runtime/cli/args.h"
#include "runtime/result.h"

namespace gust::cli {

struct AdminTarget {
  std::string url = "http://127.0.0.1:8081";
  std::filesystem::path data_dir = ".gust";
};

// From --admin and --data-dir, else $GUST_ADMIN_URL and $GUST_DATA, else the defaults.
AdminTarget adminTarget(const Args& args);

// Sends one request with the admin token; on failure returns a one-line reason.
Result<httplib::Response> adminCall(const AdminTarget& target, const std::string& method, const std::string& path);

}  // namespace gust::cli
