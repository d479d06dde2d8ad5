// loadModule on real modules: the misbehave fixture, a module of another ABI version, a
// shared library that is not a Gust module and a file that is no library at all. The
// messages are the ones a user sees from either isolation.
#include "functions/worker/module_loader.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <cstdlib>

#include "tests/support/files.h"
#include "tests/support/temp_dir.h"

namespace gust {
namespace {

std::string fixture(const char* variable) {
  const char* path = std::getenv(variable);
  REQUIRE_MESSAGE(path != nullptr, variable << " is not set (run the test through meson)");
  return path;
}

std::string errorOf(const Result<LoadedModule>& loaded) {
  REQUIRE_FALSE(loaded);
  CHECK(loaded.error().kind == ErrorKind::kUnavailable);
  return loaded.error().message;
}

bool stillLoaded(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle != nullptr) dlclose(handle);
  return handle != nullptr;
}

TEST_CASE("a module's functions come back in the order asked for, whatever their order in the module") {
  std::string path = fixture("GUST_FIXTURE_MISBEHAVE");
  auto loaded = loadModule(path, {"throws", "echo", "say"});
  REQUIRE_MESSAGE(loaded, loaded.error().message);
  REQUIRE(loaded->functions.size() == 3);
  CHECK(reinterpret_cast<void*>(loaded->functions[0]) == dlsym(loaded->handle, "gust_fn_throws"));
  CHECK(reinterpret_cast<void*>(loaded->functions[1]) == dlsym(loaded->handle, "gust_fn_echo"));
  CHECK(reinterpret_cast<void*>(loaded->functions[2]) == dlsym(loaded->handle, "gust_fn_say"));
  CHECK(reinterpret_cast<void*>(loaded->functions[0]) != nullptr);  // and none of them is missing
  dlclose(loaded->handle);
}

TEST_CASE("every function the manifest names but the module lacks is named, in one message") {
  std::string path = fixture("GUST_FIXTURE_MISBEHAVE");
  CHECK(errorOf(loadModule(path, {"echo", "resize", "thumbnail"})) ==
        path + " does not export the function(s) resize, thumbnail named in gust.json (add GUST_FUNCTION(name) after "
               "each one)");
}

TEST_CASE("a module of another ABI version is refused naming both versions, and unloaded") {
  std::string path = fixture("GUST_FIXTURE_ABI_MISMATCH");
  CHECK(errorOf(loadModule(path, {"echo"})) ==
        path + " was built against Gust ABI version " + std::to_string(GUST_ABI_VERSION + 41) +
            ", but this host supports ABI version " + std::to_string(GUST_ABI_VERSION) +
            "; rebuild it against this SDK with `gust build`");
  CHECK_FALSE(stillLoaded(path));
}

TEST_CASE("a shared library without the Gust entry symbol is not a Gust module") {
  // libm comes with the C library: no Gust module, and on every machine.
  CHECK(errorOf(loadModule("libm.so.6", {"echo"})) ==
        "libm.so.6 is not a Gust module: it does not export gust_abi_version (include <gust/gust.hpp> and export "
        "functions with GUST_FUNCTION)");
}

TEST_CASE("a file that is no library cannot be loaded, with dlopen's reason") {
  test::TempDir dir;
  std::string path = (dir.path() / "hello.so").string();
  test::writeFile(path, "not an ELF file\n");
  std::string prefix = "cannot load module " + path + ": ", suffix = " (run `gust build` for the app)";
  std::string message = errorOf(loadModule(path, {"hello"}));
  CHECK(message.starts_with(prefix));
  CHECK(message.ends_with(suffix));
  CHECK(message.size() > prefix.size() + suffix.size());  // dlerror's reason between them
}

TEST_CASE("a module opened by file descriptor is named by its path in every message") {
  std::string path = fixture("GUST_FIXTURE_ABI_MISMATCH");
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string by_fd = "/proc/self/fd/" + std::to_string(fd);
  std::string message = errorOf(loadModule("/srv/app/build/app.so", {"echo"}, by_fd));
  CHECK(message.starts_with("/srv/app/build/app.so was built against Gust ABI version"));
  CHECK(message.find("/proc/self/fd") == std::string::npos);

  auto loaded = loadModule("/srv/app/build/app.so", {"echo"}, "/proc/self/fd/999999");
  CHECK(errorOf(loaded).starts_with("cannot load module /srv/app/build/app.so: "));
  ::close(fd);
}

}  // namespace
}  // namespace gust
