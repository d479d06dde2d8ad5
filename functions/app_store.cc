#include "functions/app_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "functions/durable_file.h"
#include "runtime/base/names.h"
#include "runtime/base/text.h"

namespace gust {
namespace fs = std::filesystem;
namespace {

constexpr const char* kManifestFile = "gust.json";
constexpr const char* kVersionFile = "version.json";
constexpr const char* kActiveFile = "active";
constexpr std::string_view kTempPrefix = ".tmp-";
constexpr std::string_view kRemovedPrefix = ".removed-";
constexpr size_t kMaxVersionFileBytes = 64 * 1024;
constexpr size_t kMaxModulePathLength = 1024;
constexpr size_t kMaxModulePathDepth = 8;

// Moves `from` to `to` unless `to` exists; returns 0, or the errno (EEXIST when `to` exists).
int renameNoReplace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return errno;
  // A file system without RENAME_NOREPLACE: rename(2) still refuses to replace a
  // non-empty directory, and a version directory is never empty.
  if (::rename(from.c_str(), to.c_str()) == 0) return 0;
  return errno == ENOTEMPTY ? EEXIST : errno;
}

Result<std::string> readSmallFile(const fs::path& path, size_t max_bytes) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT ? makeError(ErrorKind::kNotFound, path.string() + " does not exist")
                                     : ioError("open", path, errno);
  std::string text;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ioError("read", path, err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > max_bytes) {
      ::close(fd);
      return makeError(ErrorKind::kIo, path.string() + " is larger than " + std::to_string(max_bytes) +
                                           " bytes; it was not written by gust (remove it)");
    }
  }
  ::close(fd);
  return text;
}

// The module lands at the path the manifest names inside the version directory, so each
// part of that path must be a plain file name.
Result<void> validateModulePath(std::string_view module) {
  auto bad = [&](const std::string& why) {
    return makeError(ErrorKind::kBadInput, "gust.json: module: " + quote(module) + " " + why +
                                               "; use a relative path of plain names such as \"build/hello.so\"");
  };
  if (module.empty()) return bad("is empty");
  if (module.size() > kMaxModulePathLength) return bad("is longer than " + std::to_string(kMaxModulePathLength) + " characters");
  if (module == kManifestFile || module == kVersionFile) return bad("would overwrite the version's own " + std::string(module));
  size_t depth = 0;
  size_t start = 0;
  while (start <= module.size()) {
    size_t end = module.find('/', start);
    if (end == std::string_view::npos) end = module.size();
    std::string_view part = module.substr(start, end - start);
    if (part.empty()) return bad("has an empty path part");
    if (part == "." || part == "..") return bad("has a \"" + std::string(part) + "\" part");
    if (part.size() > 255) return bad("has a part longer than 255 characters");
    for (char c : part) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                c == '-' || c == '+';
      if (!ok) return bad("holds a character other than letters, digits, '.', '_', '-' or '+'");
    }
    if (++depth > kMaxModulePathDepth) return bad("is more than " + std::to_string(kMaxModulePathDepth) + " folders deep");
    start = end + 1;
  }
  return {};
}

// Version numbers present in an app directory, ascending.
Result<std::vector<uint64_t>> versionNumbers(const fs::path& app_dir) {
  std::vector<uint64_t> numbers;
  std::error_code ec;
  for (auto it = fs::directory_iterator(app_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto n = versionNumber(it->path().filename().string());
    if (n && it->is_directory(ec)) numbers.push_back(*n);
  }
  if (ec) return ioError("list", app_dir, ec);
  std::sort(numbers.begin(), numbers.end());
  return numbers;
}

std::string listOf(const std::vector<uint64_t>& numbers) {
  std::string out;
  for (uint64_t n : numbers) out += (out.empty() ? "" : ", ") + versionName(n);
  return out;
}

// Deletes a directory tree so that a crash part way leaves only a temp name behind: rename
// first (one atomic step), then remove.
Result<void> removeTree(const fs::path& dir, const fs::path& parent) {
  fs::path doomed = parent / (std::string(kTempPrefix) + "removing-" + randomSuffix());
  if (::rename(dir.c_str(), doomed.c_str()) != 0) return ioError("move aside", dir, errno);
  if (auto r = syncDir(parent); !r) return r;
  std::error_code ec;
  fs::remove_all(doomed, ec);
  if (ec) spdlog::warn("app store: cannot delete {}: {} (deleted on the next start)", doomed.string(), ec.message());
  return {};
}

}  // namespace

AppStore::AppStore(fs::path apps_dir, const AppStoreOptions& options, const Clock& clock)
    : apps_dir_(std::move(apps_dir)), options_(options), clock_(clock) {}

Result<std::unique_ptr<AppStore>> AppStore::open(const fs::path& data_dir, const AppStoreOptions& options,
                                                 const Clock& clock) {
  if (options.max_versions < 2) {
    return makeError(ErrorKind::kBadInput, "the app store keeps at least 2 versions per app (the active one and a "
                                           "new one), not " + std::to_string(options.max_versions));
  }
  if (options.max_apps < 1) return makeError(ErrorKind::kBadInput, "the app store must allow at least 1 app");
  fs::path apps = data_dir / "apps";
  std::error_code ec;
  fs::create_directories(apps, ec);
  if (ec) return ioError("create", apps, ec);
  std::unique_ptr<AppStore> store(new AppStore(apps, options, clock));
  if (auto r = store->cleanUp(); !r) return r.error();
  return store;
}

Result<void> AppStore::cleanUp() {
  std::error_code ec;
  std::vector<fs::path> doomed;
  std::vector<fs::path> apps;
  for (auto it = fs::directory_iterator(apps_dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (name.rfind(kRemovedPrefix, 0) == 0 || name.rfind(kTempPrefix, 0) == 0) doomed.push_back(it->path());
    else if (it->is_directory(ec)) apps.push_back(it->path());
  }
  if (ec) return ioError("list", apps_dir_, ec);
  for (const auto& app : apps) {
    for (auto it = fs::directory_iterator(app, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      if (it->path().filename().string().rfind(kTempPrefix, 0) == 0) doomed.push_back(it->path());
    }
    if (ec) return ioError("list", app, ec);
  }
  for (const auto& path : doomed) {
    spdlog::info("app store: deleting {}, left by an unfinished deploy or removal", path.string());
    fs::remove_all(path, ec);
    if (ec) return ioError("delete", path, ec);
  }
  // An app directory with nothing in it is a first deploy that did not finish.
  for (const auto& app : apps) {
    if (fs::is_empty(app, ec) && !ec) fs::remove(app, ec);
  }
  return {};
}

Result<VersionInfo> AppStore::deploy(std::string_view app, std::string_view manifest_json,
                                     std::string_view module_bytes) {
  // Everything is checked before anything touches the disk.
  if (auto r = validateAppName(app); !r) return r.error();
  auto manifest = parseManifest(manifest_json, kManifestFile);
  if (!manifest) return manifest.error();
  if (manifest->name != app) {
    return makeError(ErrorKind::kBadInput, "gust.json: name: the manifest names the app \"" + manifest->name +
                                               "\" but it is being deployed as \"" + std::string(app) +
                                               "\"; deploy it under its own name or change the manifest");
  }
  if (manifest->graphql && manifest->graphql->sdl.empty()) {
    // A version holds only gust.json and the module: a schema file would not be there.
    return makeError(ErrorKind::kBadInput, "gust.json: graphql: the schema's text is not in the manifest; deploy with "
                                           "`gust deploy`, which puts the schema file's SDL in graphql.sdl");
  }
  if (auto r = validateModulePath(manifest->module); !r) return r.error();
  auto artifact = checkArtifact(module_bytes, *manifest, options_.artifact, "module " + manifest->module);
  if (!artifact) return artifact.error();

  const std::string name(app);
  const fs::path app_dir = apps_dir_ / name;
  std::error_code ec;
  if (!fs::exists(app_dir, ec)) {
    auto apps = list();
    if (!apps) return apps.error();
    if (apps->size() >= options_.max_apps) {
      return makeError(ErrorKind::kBadInput, "the host already holds " + std::to_string(apps->size()) +
                                                 " apps, its limit; remove one before deploying a new app");
    }
    fs::create_directories(app_dir, ec);
    if (ec) return ioError("create", app_dir, ec);
    if (auto r = syncDir(apps_dir_); !r) return r.error();
  }

  const fs::path temp = app_dir / (std::string(kTempPrefix) + randomSuffix());
  auto write = [&]() -> Result<void> {
    if (::mkdir(temp.c_str(), 0755) != 0) return ioError("create", temp, errno);
    if (auto r = writeFileSynced(temp / kManifestFile, manifest_json, 0644); !r) return r;
    fs::path module_path = temp / manifest->module;
    std::vector<fs::path> made;  // the module's folders, to fsync once its file is in
    for (fs::path dir = module_path.parent_path(); dir != temp; dir = dir.parent_path()) made.push_back(dir);
    for (auto it = made.rbegin(); it != made.rend(); ++it) {
      if (::mkdir(it->c_str(), 0755) != 0 && errno != EEXIST) return ioError("create", *it, errno);
    }
    if (auto r = writeFileSynced(module_path, module_bytes, 0644); !r) return r;
    for (const auto& dir : made) {
      if (auto r = syncDir(dir); !r) return r;
    }
    nlohmann::json meta = {
        {"created_ms", std::chrono::duration_cast<std::chrono::milliseconds>(clock_.wallNow().time_since_epoch()).count()},
        {"module", manifest->module},
        {"module_bytes", module_bytes.size()},
    };
    if (auto r = writeFileSynced(temp / kVersionFile, meta.dump() + "\n", 0644); !r) return r;
    return syncDir(temp);
  };
  auto written = write();
  if (!written) {
    fs::remove_all(temp, ec);
    return written.error();
  }

  // The next number is one past the highest present; a concurrent deploy that takes it
  // first makes the rename fail with EEXIST, and this one takes the next.
  uint64_t number = 0;
  for (int attempt = 0;; ++attempt) {
    auto numbers = versionNumbers(app_dir);
    if (!numbers) {
      fs::remove_all(temp, ec);
      return numbers.error();
    }
    number = numbers->empty() ? 1 : numbers->back() + 1;
    int err = renameNoReplace(temp, app_dir / versionName(number));
    if (err == 0) break;
    if (err != EEXIST || attempt == 16) {
      fs::remove_all(temp, ec);
      return ioError("move into place", app_dir / versionName(number), err);
    }
  }
  if (auto r = syncDir(app_dir); !r) return r.error();
  if (auto r = prune(name, number); !r) return r.error();
  auto active_number = activeNumber(name);
  return readVersion(name, number, active_number ? *active_number : std::nullopt);
}

Result<void> AppStore::prune(const std::string& app, uint64_t keep_number) {
  const fs::path app_dir = apps_dir_ / app;
  auto numbers = versionNumbers(app_dir);
  if (!numbers) return numbers.error();
  auto active = activeNumber(app);
  const uint64_t active_number = active && *active ? **active : 0;  // versions start at 1
  size_t count = numbers->size();
  for (uint64_t n : *numbers) {  // oldest first
    if (count <= options_.max_versions) break;
    if (n == keep_number || n == active_number) continue;
    if (auto r = removeTree(app_dir / versionName(n), app_dir); !r) return r;
    spdlog::info("app store: {} {} deleted, past the {} versions kept", app, versionName(n), options_.max_versions);
    --count;
  }
  return {};
}

Result<std::optional<uint64_t>> AppStore::activeNumber(const std::string& app) const {
  const fs::path file = apps_dir_ / app / kActiveFile;
  auto text = readSmallFile(file, 64);
  if (!text) {
    if (text.error().kind == ErrorKind::kNotFound) return std::optional<uint64_t>{};
    return text.error();
  }
  std::string_view name = *text;
  if (!name.empty() && name.back() == '\n') name.remove_suffix(1);
  auto number = versionNumber(name);
  if (!number) {
    return makeError(ErrorKind::kIo, file.string() + " holds " + quote(name) +
                                         ", not a version; activate a version of " + app + " to rewrite it");
  }
  return std::optional<uint64_t>(*number);
}

Result<VersionInfo> AppStore::readVersion(const std::string& app, uint64_t number,
                                          std::optional<uint64_t> active) const {
  VersionInfo info;
  info.app = app;
  info.number = number;
  info.version = versionName(number);
  info.dir = apps_dir_ / app / info.version;
  info.active = active == number;
  auto text = readSmallFile(info.dir / kVersionFile, kMaxVersionFileBytes);
  if (!text) {
    if (text.error().kind == ErrorKind::kNotFound) {
      std::error_code ec;
      if (!fs::exists(info.dir, ec)) {
        return makeError(ErrorKind::kNotFound, "app " + app + " has no version " + info.version);
      }
      return makeError(ErrorKind::kIo, (info.dir / kVersionFile).string() +
                                           " is missing: the version was not written by gust; remove it");
    }
    return text.error();
  }
  auto meta = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  auto corrupt = [&] {
    return makeError(ErrorKind::kIo, (info.dir / kVersionFile).string() +
                                         " is corrupt; deploy the app again and remove this version");
  };
  if (!meta.is_object()) return corrupt();
  auto created = meta.find("created_ms");
  auto module = meta.find("module");
  auto bytes = meta.find("module_bytes");
  if (created == meta.end() || !created->is_number_integer() || module == meta.end() || !module->is_string() ||
      bytes == meta.end() || !bytes->is_number_unsigned()) {
    return corrupt();
  }
  if (!validateModulePath(module->get<std::string>())) return corrupt();
  info.created = std::chrono::system_clock::time_point(std::chrono::milliseconds(created->get<int64_t>()));
  info.module_path = info.dir / module->get<std::string>();
  info.module_bytes = bytes->get<uint64_t>();
  return info;
}

Result<VersionInfo> AppStore::activate(std::string_view app, std::string_view version) {
  if (auto r = validateAppName(app); !r) return r.error();
  if (auto r = validateVersionName(version); !r) return r.error();
  const std::string name(app);
  const fs::path app_dir = apps_dir_ / name;
  uint64_t number = *versionNumber(version);
  auto current = activeNumber(name);
  // A corrupt pointer is what activating repairs, so only a readable one can short-cut.
  if (current && *current == number) return readVersion(name, number, number);
  auto info = readVersion(name, number, number);
  if (!info) {
    if (info.error().kind != ErrorKind::kNotFound) return info.error();
    std::error_code ec;
    if (!fs::exists(app_dir, ec)) return makeError(ErrorKind::kNotFound, "no app named " + name + "; deploy it first");
    auto numbers = versionNumbers(app_dir);
    return makeError(ErrorKind::kNotFound, "app " + name + " has no version " + std::string(version) +
                                               (numbers && !numbers->empty() ? "; its versions are " + listOf(*numbers)
                                                                             : ""));
  }
  const fs::path temp = app_dir / (std::string(kTempPrefix) + "active-" + randomSuffix());
  if (auto r = writeFileSynced(temp, info->version + "\n", 0644); !r) {
    std::error_code ec;
    fs::remove(temp, ec);
    return r.error();
  }
  if (::rename(temp.c_str(), (app_dir / kActiveFile).c_str()) != 0) {
    int err = errno;
    std::error_code ec;
    fs::remove(temp, ec);
    return ioError("replace", app_dir / kActiveFile, err);
  }
  if (auto r = syncDir(app_dir); !r) return r.error();
  return info;
}

Result<VersionInfo> AppStore::active(std::string_view app) const {
  if (auto r = validateAppName(app); !r) return r.error();
  const std::string name(app);
  std::error_code ec;
  if (!fs::is_directory(apps_dir_ / name, ec)) {
    return makeError(ErrorKind::kNotFound, "no app named " + name + "; deploy it first");
  }
  auto number = activeNumber(name);
  if (!number) return number.error();
  if (!*number) {
    return makeError(ErrorKind::kNotFound, "app " + name + " has no active version; activate one of its versions");
  }
  auto info = readVersion(name, **number, *number);
  if (!info && info.error().kind == ErrorKind::kNotFound) {
    return makeError(ErrorKind::kIo, "app " + name + " points at " + versionName(**number) +
                                         " as active, but that version is gone; activate another version");
  }
  return info;
}

Result<VersionInfo> AppStore::version(std::string_view app, std::string_view version) const {
  if (auto r = validateAppName(app); !r) return r.error();
  if (auto r = validateVersionName(version); !r) return r.error();
  const std::string name(app);
  auto active = activeNumber(name);
  return readVersion(name, *versionNumber(version), active ? *active : std::nullopt);
}

Result<std::vector<VersionInfo>> AppStore::versions(std::string_view app) const {
  if (auto r = validateAppName(app); !r) return r.error();
  const std::string name(app);
  const fs::path app_dir = apps_dir_ / name;
  std::error_code ec;
  if (!fs::is_directory(app_dir, ec)) return makeError(ErrorKind::kNotFound, "no app named " + name + "; deploy it first");
  auto numbers = versionNumbers(app_dir);
  if (!numbers) return numbers.error();
  if (numbers->empty()) return makeError(ErrorKind::kNotFound, "app " + name + " has no versions; deploy it");
  auto active = activeNumber(name);
  std::optional<uint64_t> active_number = active ? *active : std::nullopt;
  std::vector<VersionInfo> out;
  for (uint64_t n : *numbers) {
    auto info = readVersion(name, n, active_number);
    if (!info) return info.error();
    out.push_back(std::move(*info));
  }
  return out;
}

Result<std::vector<std::string>> AppStore::list() const {
  std::vector<std::string> apps;
  std::error_code ec;
  for (auto it = fs::directory_iterator(apps_dir_, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!validateAppName(name) || !it->is_directory(ec)) continue;
    auto numbers = versionNumbers(it->path());
    if (numbers && !numbers->empty()) apps.push_back(name);
  }
  if (ec) return ioError("list", apps_dir_, ec);
  std::sort(apps.begin(), apps.end());
  return apps;
}

Result<void> AppStore::remove(std::string_view app) {
  if (auto r = validateAppName(app); !r) return r.error();
  const fs::path app_dir = apps_dir_ / std::string(app);
  std::error_code ec;
  if (!fs::is_directory(app_dir, ec)) {
    return makeError(ErrorKind::kNotFound, "no app named " + std::string(app) + " to remove");
  }
  // Renamed to a name no app can have, so it vanishes from list() in one step.
  fs::path doomed = apps_dir_ / (std::string(kRemovedPrefix) + std::string(app) + "-" + randomSuffix());
  if (::rename(app_dir.c_str(), doomed.c_str()) != 0) return ioError("move aside", app_dir, errno);
  if (auto r = syncDir(apps_dir_); !r) return r;
  fs::remove_all(doomed, ec);
  if (ec) spdlog::warn("app store: cannot delete {}: {} (deleted on the next start)", doomed.string(), ec.message());
  return {};
}

Result<VersionInfo> AppStore::rollback(std::string_view app, std::optional<std::string_view> version) {
  if (version) return activate(app, *version);
  auto current = active(app);
  if (!current) {
    if (current.error().kind == ErrorKind::kNotFound) {
      return makeError(ErrorKind::kBadInput, current.error().message + "; nothing to roll back from");
    }
    return current.error();
  }
  auto numbers = versionNumbers(apps_dir_ / current->app);
  if (!numbers) return numbers.error();
  auto older = std::lower_bound(numbers->begin(), numbers->end(), current->number);
  if (older == numbers->begin()) {
    return makeError(ErrorKind::kBadInput, "app " + current->app + ": the active version " + current->version +
                                               " is the oldest kept; there is nothing older to roll back to");
  }
  return activate(app, versionName(*std::prev(older)));
}

ActiveApps AppStore::activeApps() const {
  ActiveApps out;
  auto apps = list();
  if (!apps) {
    out.problems.push_back(apps.error().message);
    return out;
  }
  for (const auto& app : *apps) {
    auto info = active(app);
    if (info) out.versions.push_back(std::move(*info));
    else out.problems.push_back(info.error().message);
  }
  return out;
}

}  // namespace gust
