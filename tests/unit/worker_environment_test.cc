// The environment a worker gets: the host's PATH, LANG and TZ, HOME=/tmp and its app's
// variables, and nothing else the host has.
#include <doctest/doctest.h>

#include <map>

#include "runtime/exec/worker_environment.h"

using namespace gust;

namespace {

HostEnvLookup hostWith(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
}

}  // namespace

TEST_CASE("only the allowlist passes from the host, with HOME=/tmp; the app's variables are added") {
  auto host = hostWith({{"PATH", "/opt/bin:/usr/bin"},
                        {"LANG", "C.UTF-8"},
                        {"GUST_ADMIN_TOKEN", "t0ken"},
                        {"AWS_SECRET_ACCESS_KEY", "host-secret"},
                        {"HOME", "/root"},
                        {"LD_PRELOAD", "/evil.so"}});
  auto env = workerEnvironment({{"API_KEY", "k"}, {"TZ", "Europe/Paris"}}, host);
  CHECK(env == std::vector<std::string>{"API_KEY=k", "HOME=/tmp", "LANG=C.UTF-8", "PATH=/opt/bin:/usr/bin",
                                        "TZ=Europe/Paris"});
}

TEST_CASE("without a PATH the worker gets the usual one; unset LANG and TZ stay unset") {
  auto env = workerEnvironment({}, hostWith({}));
  CHECK(env == std::vector<std::string>{"HOME=/tmp", "PATH=/usr/local/bin:/usr/bin:/bin"});
}
