#pragma once
// Deployed apps on disk: immutable versions with an active pointer per app.
//
//   <data_dir>/apps/<app>/v1/gust.json        the manifest, byte for byte as deployed
//   <data_dir>/apps/<app>/v1/<module>         the module at the path the manifest names
//   <data_dir>/apps/<app>/v1/version.json     when it was deployed, how big the module is
//   <data_dir>/apps/<app>/active              "v2\n": the version that serves
//
// A version directory is a complete app folder, so loadManifest(info.dir) and
// info.dir / manifest.module work on it as on any app.
//
// Versions are named v1, v2, ... per app, one more than the highest present, so they sort
// in deploy order and read well in a CLI; the store never reuses a number while the app
// exists (the newest version is never pruned). Removing an app and deploying it again
// starts at v1.
//
// Crash safety: a deploy writes into <app>/.tmp-*, fsyncs every file and directory, and
// renames the directory into place (refusing to replace an existing one), then fsyncs the
// app directory; the active pointer is written to a temp file, fsynced and renamed. So
// after a crash a version is either complete or absent, and the pointer is old or new.
// Leftover temp files and directories, and apps half-removed, are deleted by open().
//
// Threads: no global state; every call does its own disk work, so calls may run on a
// worker thread. One AppStore per data dir per process; calls on one app must not run
// concurrently with each other (two concurrent deploys of one app are safe: each gets its
// own number, but open() must not run while another thread deploys).

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "functions/artifact.h"
#include "functions/manifest.h"
#include "runtime/base/clock.h"
#include "runtime/base/result.h"

namespace gust {

struct AppStoreOptions {
  // Versions kept per app, the active one included; deploys past it delete the oldest
  // versions that are not active. At least 2, so a new version can sit beside the active one.
  size_t max_versions = 10;
  size_t max_apps = 1000;
  ArtifactLimits artifact;
};

struct VersionInfo {
  std::string app;
  std::string version;  // "v3"
  uint64_t number = 0;  // 3
  std::filesystem::path dir;  // <data_dir>/apps/<app>/v3: an app folder
  std::filesystem::path module_path;  // dir / the manifest's module
  std::chrono::system_clock::time_point created;
  uint64_t module_bytes = 0;
  bool active = false;
};

// What open() found for the host to serve: each app's active version, and a line for each
// app that could not be read (the others still load).
struct ActiveApps {
  std::vector<VersionInfo> versions;
  std::vector<std::string> problems;
};

class AppStore {
 public:
  // Creates <data_dir>/apps if needed and cleans what a crash left behind. `clock` stamps
  // deploy times and must outlive the store.
  static Result<std::unique_ptr<AppStore>> open(const std::filesystem::path& data_dir, const AppStoreOptions& options,
                                                const Clock& clock);

  AppStore(const AppStore&) = delete;
  AppStore& operator=(const AppStore&) = delete;

  // Validates the app name, the manifest (whose name must be `app`) and the module against
  // the manifest's functions, then stores them as a new version, not yet active. Prunes old
  // versions past max_versions.
  Result<VersionInfo> deploy(std::string_view app, std::string_view manifest_json, std::string_view module_bytes);

  // Makes `version` the one that serves. Activating the active version is a no-op.
  Result<VersionInfo> activate(std::string_view app, std::string_view version);

  // The active version; kNotFound when the app does not exist or none was activated.
  Result<VersionInfo> active(std::string_view app) const;

  // One version of the app, with its active flag.
  Result<VersionInfo> version(std::string_view app, std::string_view version) const;

  // The app's versions, oldest first; kNotFound when the app has none.
  Result<std::vector<VersionInfo>> versions(std::string_view app) const;

  // Names of the apps with at least one version, sorted.
  Result<std::vector<std::string>> list() const;

  // Deletes the app and all its versions; kNotFound when there is no such app.
  Result<void> remove(std::string_view app);

  // Activates `version`, or when none is given the newest version older than the active one.
  Result<VersionInfo> rollback(std::string_view app, std::optional<std::string_view> version = std::nullopt);

  // Every app's active version, for the host to load at startup.
  ActiveApps activeApps() const;

  const std::filesystem::path& appsDir() const { return apps_dir_; }

 private:
  AppStore(std::filesystem::path apps_dir, const AppStoreOptions& options, const Clock& clock);

  Result<void> cleanUp();
  Result<void> prune(const std::string& app, uint64_t keep_number);
  Result<std::optional<uint64_t>> activeNumber(const std::string& app) const;
  Result<VersionInfo> readVersion(const std::string& app, uint64_t number, std::optional<uint64_t> active) const;

  std::filesystem::path apps_dir_;
  AppStoreOptions options_;
  const Clock& clock_;
};

}  // namespace gust
