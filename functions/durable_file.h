#pragma once
// Files that survive a crash whole: written, fsynced, and only then given their name. The
// app store and the app environment store both keep their state this way.

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

#include "runtime/base/result.h"

namespace gust {

// "cannot <what> <path>: <strerror(err)>", as an I/O error.
Error ioError(const std::string& what, const std::filesystem::path& path, int err);
Error ioError(const std::string& what, const std::filesystem::path& path, const std::error_code& ec);

// 16 random hex digits, for temp names that no two writers share.
std::string randomSuffix();

// Writes a new file (never over an existing one) and fsyncs it before closing.
Result<void> writeFileSynced(const std::filesystem::path& path, std::string_view data, mode_t mode);

// A rename or a new entry is durable only once its directory is fsynced.
Result<void> syncDir(const std::filesystem::path& dir);

// Replaces `path` with `data` atomically: a temp file beside it, fsynced, renamed over it,
// then the folder fsynced. A reader sees the old file or the new one, never a mix.
Result<void> replaceFileSynced(const std::filesystem::path& path, std::string_view data, mode_t mode);

}  // namespace gust
