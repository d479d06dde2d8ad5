#pragma once
// The environment a worker runs with, and nothing more: PATH, LANG and TZ passed through
// from the host when set (PATH defaulting to /usr/local/bin:/usr/bin:/bin), HOME=/tmp (the
// worker's private scratch folder), and its own app's variables (functions/app_env.h). No
// GUST_* setting, no admin token, no other app's secret reaches user code. Both start
// paths use it: uv_spawn's env for a spawned worker, the fork request for a forked one
// (whose fork server itself runs with the allowlist alone).

#include <functional>
#include <string>
#include <vector>

#include "functions/app_env.h"

namespace gust {

// Reads one of the host's variables; null when unset.
using HostEnvLookup = std::function<const char*(const char*)>;

// "KEY=VALUE" strings, sorted by name. An app's LANG or TZ overrides the host's.
std::vector<std::string> workerEnvironment(const AppEnv& app_env, const HostEnvLookup& host = ::getenv);

}  // namespace gust
