#include "runtime/cli/deploy_client.h"

#include <httplib.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>

#include "functions/manifest.h"
#include "runtime/admin/admin_token.h"
#include "runtime/cli/admin_http.h"

namespace gust::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

Result<std::string> readBounded(const fs::path& path, size_t limit, const std::string& what) {
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) return makeError(ErrorKind::kNotFound, "cannot read " + what + " " + path.string() + ": " + ec.message());
  if (size > limit) {
    return makeError(ErrorKind::kBadInput, what + " " + path.string() + " is larger than the " +
                                               std::to_string(limit >> 20) + " MiB a deploy accepts");
  }
  std::ifstream in(path, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(size))) {
    return makeError(ErrorKind::kIo, "cannot read " + what + " " + path.string());
  }
  return text;
}

std::string stringOr(const json& j, const char* key, std::string fallback = "") {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : fallback;
}

}  // namespace

Result<DeployUpload> readDeployUpload(const fs::path& app_dir) {
  auto manifest = loadManifest(app_dir);
  if (!manifest) return manifest.error();
  DeployUpload upload;
  upload.app = manifest->name;
  auto text = readBounded(app_dir / "gust.json", kMaxManifestBytes, "the manifest");
  if (!text) return text.error();
  upload.manifest = std::move(*text);
  if (manifest->graphql) {
    // Only gust.json and the module travel: the schema file's text goes inside the manifest.
    json doc = json::parse(upload.manifest);
    doc["graphql"]["sdl"] = manifest->graphql->sdl;
    upload.manifest = doc.dump(2);
    if (upload.manifest.size() > kMaxManifestBytes) {
      return makeError(ErrorKind::kBadInput, "gust.json with the GraphQL schema inside is larger than " +
                                                 std::to_string(kMaxManifestBytes) + " bytes; shorten the schema");
    }
  }
  fs::path module = app_dir / manifest->module;
  std::error_code ec;
  if (!fs::is_regular_file(module, ec)) {
    return makeError(ErrorKind::kNotFound, "the module " + module.string() + " is not built; run `gust build " +
                                               app_dir.string() + "`");
  }
  auto bytes = readBounded(module, kMaxModuleBytes, "the module");
  if (!bytes) return bytes.error();
  upload.module = std::move(*bytes);
  upload.module_name = module.filename().string();
  return upload;
}

MultipartBody encodeMultipart(const std::vector<FormPart>& items, const std::string& boundary) {
  MultipartBody out;
  out.content_type = "multipart/form-data; boundary=" + boundary;
  size_t size = 0;
  for (const auto& item : items) size += item.content.size() + 256;
  out.body.reserve(size);
  for (const auto& item : items) {
    out.body += "--" + boundary + "\r\n";
    out.body += "Content-Disposition: form-data; name=\"" + item.name + "\"";
    if (!item.filename.empty()) out.body += "; filename=\"" + item.filename + "\"";
    out.body += "\r\n";
    if (!item.content_type.empty()) out.body += "Content-Type: " + item.content_type + "\r\n";
    out.body += "\r\n";
    out.body += item.content;
    out.body += "\r\n";
  }
  out.body += "--" + boundary + "--\r\n";
  return out;
}

std::string chooseBoundary(const std::vector<FormPart>& items) {
  std::random_device random;
  for (;;) {
    std::string boundary = "gust-";
    for (int i = 0; i < 4; ++i) {
      char part[9];
      std::snprintf(part, sizeof part, "%08x", static_cast<unsigned>(random()));
      boundary += part;
    }
    bool clashes = false;
    for (const auto& item : items) clashes = clashes || item.content.find(boundary) != std::string::npos;
    if (!clashes) return boundary;
  }
}

std::vector<FormPart> deployParts(const DeployUpload& upload) {
  return {{"manifest", upload.manifest, "gust.json", "application/json"},
          {"module", upload.module, upload.module_name, "application/octet-stream"}};
}

std::vector<DeployedRoute> routesFrom(const json& routes) {
  std::vector<DeployedRoute> out;
  if (!routes.is_array()) return out;
  for (const auto& r : routes) {
    if (!r.is_object()) continue;
    DeployedRoute route;
    route.path = stringOr(r, "path");
    route.function = stringOr(r, "function");
    if (auto m = r.find("methods"); m != r.end() && m->is_array()) {
      for (const auto& method : *m) {
        if (method.is_string()) route.methods.push_back(method.get<std::string>());
      }
    }
    out.push_back(std::move(route));
  }
  return out;
}

Result<Deployed> parseDeployed(const std::string& body) {
  json j = json::parse(body, nullptr, false);
  if (!j.is_object() || !j.contains("version")) {
    return makeError(ErrorKind::kInternal, "the host's answer to the deploy is not the expected JSON: " + body.substr(0, 200));
  }
  Deployed d;
  d.app = stringOr(j, "app");
  d.version = j["version"].is_string() ? j["version"].get<std::string>() : j["version"].dump();
  d.http_url = stringOr(j, "http_url");
  if (auto t = j.find("took_ms"); t != j.end() && t->is_number()) d.took_ms = t->get<double>();
  if (auto routes = j.find("routes"); routes != j.end()) d.routes = routesFrom(*routes);
  if (auto timers = j.find("timers"); timers != j.end() && timers->is_array()) {
    for (const auto& t : *timers) {
      if (t.is_object()) d.triggers.push_back("timer  " + stringOr(t, "function") + "  " + stringOr(t, "schedule"));
    }
  }
  if (auto queues = j.find("queues"); queues != j.end() && queues->is_array()) {
    for (const auto& q : *queues) {
      if (q.is_object()) d.triggers.push_back("queue  " + stringOr(q, "function") + "  <- " + stringOr(q, "queue"));
    }
  }
  d.answer = std::move(j);
  return d;
}

Result<Deployed> deployUpload(const AdminTarget& target, const DeployUpload& upload, const DeployProgress& progress) {
  auto made = adminClient(target);
  if (!made) return made.error();
  auto token = readAdminToken(target.data_dir);
  if (!token) return token.error();
  httplib::Client& client = **made;
  client.set_connection_timeout(10, 0);
  client.set_write_timeout(120, 0);
  client.set_read_timeout(600, 0);  // the host answers once the new version's workers are up
  auto parts = deployParts(upload);
  MultipartBody multipart = encodeMultipart(parts, chooseBoundary(parts));
  parts.clear();
  if (progress.uploading) progress.uploading(multipart.body.size());
  bool announced_start = false;
  const std::string& body = multipart.body;
  auto provider = [&body, &progress, &announced_start](size_t offset, size_t length, httplib::DataSink& sink) {
    size_t n = std::min<size_t>(length, 256 << 10);
    if (!sink.write(body.data() + offset, n)) return false;
    if (progress.sent) progress.sent(offset + n);
    if (offset + n == body.size() && !announced_start) {
      announced_start = true;
      if (progress.starting) progress.starting();
    }
    return true;
  };
  httplib::Headers headers = {{"Authorization", "Bearer " + *token}};
  std::string path = "/v1/apps/" + upload.app + "/versions";
  httplib::Result res = client.Post(path.c_str(), headers, body.size(), provider, multipart.content_type.c_str());
  if (!res) return unreachable(adminAddress(target), res.error());
  AdminResponse answer = adminResponse(*res);
  switch (answer.status) {
    case 201:
    case 200: return parseDeployed(answer.body);
    case 401:
      return makeError(ErrorKind::kBadInput, "the admin API refused the token (set GUST_ADMIN_TOKEN or --data-dir to "
                                             "the host's own)");
    case 404:
    case 405:
      return makeError(ErrorKind::kUnavailable, "this host cannot take deploys (" + problemDetail(answer) +
                                                    "); upgrade it, or serve the app folder with `gust serve DIR`");
    case 422:
      return makeError(ErrorKind::kUnavailable, "the new version failed to start, and the active version (if any) "
                                                "keeps serving: " + problemDetail(answer));
    default: return makeError(ErrorKind::kBadInput, "the host refused the deploy: " + problemDetail(answer));
  }
}

std::vector<std::string> routeLines(const std::vector<DeployedRoute>& routes, const std::string& base) {
  std::vector<std::string> lines;
  std::string prefix = base;
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  for (const auto& r : routes) {
    std::string methods;
    for (const auto& m : r.methods) methods += (methods.empty() ? "" : ",") + m;
    std::string line = methods;
    line.resize(std::max<size_t>(line.size() + 1, 8), ' ');
    line += prefix + r.path;
    if (!r.function.empty()) line += "  -> " + r.function;
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace gust::cli
