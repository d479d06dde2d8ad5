#include "functions/worker/module_loader.h"

#include <dlfcn.h>

namespace gust {

Result<LoadedModule> loadModule(const std::string& path, const std::vector<std::string>& functions,
                                const std::string& open_as) {
  void* handle = dlopen(open_as.empty() ? path.c_str() : open_as.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return makeError(ErrorKind::kUnavailable, "cannot load module " + path + ": " + (why ? why : "unknown error") +
                                                  " (run `gust build` for the app)");
  }
  auto fail = [handle](std::string why) -> Result<LoadedModule> {
    dlclose(handle);
    return makeError(ErrorKind::kUnavailable, std::move(why));
  };
  auto abi_version = reinterpret_cast<gust_abi_version_fn>(dlsym(handle, GUST_ENTRY_SYMBOL));
  if (abi_version == nullptr) {
    return fail(path + " is not a Gust module: it does not export " GUST_ENTRY_SYMBOL
                       " (include <gust/gust.hpp> and export functions with GUST_FUNCTION)");
  }
  uint32_t module_abi = abi_version();
  if (module_abi != GUST_ABI_VERSION) {
    return fail(path + " was built against Gust ABI version " + std::to_string(module_abi) +
                ", but this host supports ABI version " + std::to_string(GUST_ABI_VERSION) +
                "; rebuild it against this SDK with `gust build`");
  }
  LoadedModule loaded{handle, {}};
  std::string missing;
  for (const auto& name : functions) {
    std::string symbol = GUST_FUNCTION_SYMBOL_PREFIX + name;
    auto fn = reinterpret_cast<gust_function_fn>(dlsym(handle, symbol.c_str()));
    if (fn == nullptr) missing += (missing.empty() ? "" : ", ") + name;
    loaded.functions.push_back(fn);
  }
  if (!missing.empty()) {
    return fail(path + " does not export the function(s) " + missing +
                " named in gust.json (add GUST_FUNCTION(name) after each one)");
  }
  return loaded;
}

}  // namespace gust
