#pragma once
// Loads a function module the one way both isolations do: dlopen it, refuse a module that is
// not a Gust module or was built against another ABI version (naming both versions), and
// look up every function the manifest names. The worker process loads its module with it,
// and so does the thread executor, into the host; the messages a user sees are the same in
// both isolations.
//
// Thread: any. The module's constructors run on the calling thread.

#include <string>
#include <vector>

#include "gust/abi.h"
#include "runtime/base/result.h"

namespace gust {

// A loaded module: its dlopen handle and its functions, in the order they were asked for
// (the manifest's order, which an INVOKE's function index follows). A plain value: whoever
// holds it decides when to dlclose the handle, since a function may still be running.
struct LoadedModule {
  void* handle = nullptr;
  std::vector<gust_function_fn> functions;
};

// Loads the module at `path` and finds each of `functions` in it; kUnavailable naming `path`
// and what to do when it cannot. `open_as`, when set, is the path dlopen opens in its
// place: a sandboxed worker opens its module by file descriptor (/proc/self/fd/N), as it
// may no longer read `path` itself. A failed load leaves nothing loaded.
Result<LoadedModule> loadModule(const std::string& path, const std::vector<std::string>& functions,
                                const std::string& open_as = {});

}  // namespace gust
