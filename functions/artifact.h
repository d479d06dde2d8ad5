#pragma once
// Checks an uploaded module before it is stored or run, by reading its ELF structures as
// bytes: the host never dlopens user code (that would run its constructors in the host).
// The bytes are hostile input: every offset, size and count is checked against the file's
// size with overflow-safe arithmetic, and each way a file can be wrong has its own error.
// Pure functions; any thread.
//
// A module passes when it is a 64-bit ELF shared object (ET_DYN) for the host's byte order
// and machine, its section headers lie inside the file, and its dynamic symbol table
// (.dynsym with its linked string table) exports the ABI entry symbol (gust_abi_version)
// and gust_fn_<name> for every function the manifest names, as defined functions with
// default or protected visibility.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "functions/manifest.h"
#include "runtime/base/result.h"

namespace gust {

constexpr uint64_t kDefaultMaxArtifactBytes = 64ull << 20;

struct ArtifactLimits {
  uint64_t max_bytes = kDefaultMaxArtifactBytes;
};

struct ArtifactInfo {
  uint64_t size = 0;
  // Every gust_fn_<name> the module exports, as <name>, in symbol-table order; a module
  // may export more functions than its manifest names.
  std::vector<std::string> exported_functions;
};

// The ELF machine (EM_*) this host was built for; a module for another one cannot load.
uint16_t hostElfMachine();

// Checks `bytes` against the functions in `function_names`. `source` names the module in
// errors (its file name or "the uploaded module").
Result<ArtifactInfo> checkArtifactFunctions(std::string_view bytes, const std::vector<std::string>& function_names,
                                            const ArtifactLimits& limits = {}, std::string_view source = "module");

// The same for every function of `manifest`.
Result<ArtifactInfo> checkArtifact(std::string_view bytes, const Manifest& manifest, const ArtifactLimits& limits = {},
                                   std::string_view source = "module");

// Reads `file` (refusing one larger than limits.max_bytes before reading it) and checks it.
Result<ArtifactInfo> checkArtifactFile(const std::filesystem::path& file, const Manifest& manifest,
                                       const ArtifactLimits& limits = {});

}  // namespace gust
