#pragma once
// Deploying an app to a running host: read its manifest and built module, upload them as
// multipart/form-data to POST /v1/apps/{app}/versions, and read what the host answered.
// Shared by `gust deploy` and `gust dev`. Blocking; for the CLI, not for a loop thread.

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "runtime/cli/admin_client.h"
#include "runtime/base/result.h"

namespace gust::cli {

// Bigger than any sane function module; a bigger file is a mistake, not an upload.
constexpr size_t kMaxModuleBytes = 256u << 20;

struct DeployUpload {
  std::string app;
  std::string manifest;     // gust.json as written
  std::string module;       // the built .so
  std::string module_name;  // its file name, sent as the part's filename
};

// Reads APP_DIR/gust.json (checked with the manifest parser, so a typo is caught before
// the upload) and the module it names, which must be built.
Result<DeployUpload> readDeployUpload(const std::filesystem::path& app_dir);

// A multipart/form-data body and its Content-Type (RFC 7578), for items whose content
// must not contain the boundary; `boundary` is chosen by the caller.
// One part of a multipart/form-data body (cpp-httplib's MultipartFormData, without its header).
struct FormPart {
  std::string name;
  std::string content;
  std::string filename;
  std::string content_type;
};

struct MultipartBody {
  std::string content_type;
  std::string body;
};
MultipartBody encodeMultipart(const std::vector<FormPart>& items, const std::string& boundary);

// A boundary that occurs in none of `items`.
std::string chooseBoundary(const std::vector<FormPart>& items);

// The upload's parts: "manifest" (gust.json) and "module" (the .so).
std::vector<FormPart> deployParts(const DeployUpload& upload);

struct DeployedRoute {
  std::vector<std::string> methods;
  std::string path;
  std::string function;
};

struct Deployed {
  std::string app;
  std::string version;
  std::vector<DeployedRoute> routes;
  std::vector<std::string> triggers;  // "timer tick @every 1m", "queue work <- jobs"
  double took_ms = 0;
  std::string http_url;  // the host's public HTTP address, when it says
  nlohmann::json answer;  // the whole 201 body
};

// The routes of a deploy or describe answer: [{"methods","path","function"}].
std::vector<DeployedRoute> routesFrom(const nlohmann::json& routes);

// Parses a 201 answer of POST /v1/apps/{app}/versions.
Result<Deployed> parseDeployed(const std::string& body);

// Called as the upload goes: `uploading` before the first byte (with the body's size),
// `sent` after each piece of it (with the bytes sent so far), `starting` once the last byte
// is sent and the host is starting the version.
struct DeployProgress {
  std::function<void(size_t bytes)> uploading;
  std::function<void()> starting;
  std::function<void(size_t bytes_so_far)> sent;
};

// Uploads and waits for the host's answer. 422 (the version's workers failed to start)
// comes back as kUnavailable carrying the worker's own error; the active version keeps
// serving.
Result<Deployed> deployUpload(const AdminTarget& target, const DeployUpload& upload, const DeployProgress& progress);

// The lines that show a deployed app's routes: "GET  http://127.0.0.1:8080/x/hello/{who}",
// with `base` (the public address) in front of each path when it is known.
std::vector<std::string> routeLines(const std::vector<DeployedRoute>& routes, const std::string& base);

}  // namespace gust::cli
