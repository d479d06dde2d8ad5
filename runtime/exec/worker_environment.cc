#include "runtime/exec/worker_environment.h"

#include <cstdlib>

namespace gust {

std::vector<std::string> workerEnvironment(const AppEnv& app_env, const HostEnvLookup& host) {
  AppEnv env;
  const char* path = host("PATH");
  env["PATH"] = path != nullptr && *path != '\0' ? path : "/usr/local/bin:/usr/bin:/bin";
  env["HOME"] = "/tmp";
  const char* passed[] = {"LANG", "TZ",
#if defined(__SANITIZE_ADDRESS__)
                          // Only in the sanitized build, whose workers must keep the
                          // tests' sanitizer settings.
                          "ASAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS",
#endif
  };
  for (const char* name : passed) {
    if (const char* value = host(name)) env[name] = value;
  }
  // validateEnvKey refuses PATH and HOME, so an app's own variables never replace them.
  for (const auto& [key, value] : app_env) env[key] = value;
  std::vector<std::string> out;
  out.reserve(env.size());
  for (const auto& [key, value] : env) out.push_back(key + "=" + value);
  return out;
}

}  // namespace gust
