#pragma once
// An app's own environment variables and secrets, set with `gust env` and given only to
// that app's workers (see runtime/exec/worker_environment.h). One file per app:
//
//   <data_dir>/env/            mode 0700
//   <data_dir>/env/<app>.json  mode 0600, {"KEY": "value", ...}, replaced atomically
//
// An app may have variables before its first deploy, and they stay when it is removed
// (`gust env rm` deletes them). Values never leave the host through the admin API; only
// names and sizes do. On a Redis backend every host's copy follows the cluster's
// (runtime/apps/cluster_apps.h).
//
// Threads: no state but the folder's path; calls on one app must not run concurrently.

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "functions/manifest.h"
#include "runtime/base/result.h"

namespace gust {

constexpr size_t kMaxEnvKeyBytes = 128;
constexpr size_t kMaxEnvValueBytes = 32 * 1024;
constexpr size_t kMaxEnvVars = 256;
constexpr size_t kMaxEnvBytes = 256 * 1024;  // keys and values of one app together

using AppEnv = std::map<std::string, std::string, std::less<>>;

// A name an app may set: [A-Za-z_][A-Za-z0-9_]*, at most kMaxEnvKeyBytes, not PATH or
// HOME (the host sets those) and not starting with GUST_ (the host's own) or LD_ (the
// dynamic linker would act on it before the worker contains itself).
Result<void> validateEnvKey(std::string_view key);
// UTF-8 without NUL, at most kMaxEnvValueBytes.
Result<void> validateEnvValue(std::string_view key, std::string_view value);
// Every key and value, and the app's totals (kMaxEnvVars, kMaxEnvBytes).
Result<void> validateEnv(const AppEnv& env);

// Fails naming every variable `manifest` requires that `env` lacks, and how to set them.
Result<void> checkRequiredEnv(const Manifest& manifest, const AppEnv& env);

class AppEnvStore {
 public:
  // `dir` is <data_dir>/env; it is created (0700) on the first write.
  explicit AppEnvStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // The app's variables; none when it has no file.
  Result<AppEnv> load(std::string_view app) const;
  // What `app`'s variables would be without those named in `unset` (kNotFound naming one
  // that is not set) and with `set` merged in, checked against the limits. Nothing is
  // written (see store()).
  Result<AppEnv> changed(std::string_view app, const AppEnv& set, const std::vector<std::string>& unset) const;
  // Replaces the app's variables with `env` (an empty one deletes its file).
  Result<void> store(std::string_view app, const AppEnv& env);

 private:
  std::filesystem::path fileOf(std::string_view app) const;

  std::filesystem::path dir_;
};

}  // namespace gust
