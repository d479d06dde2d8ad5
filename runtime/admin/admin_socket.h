#pragma once
// Where the admin API's Unix socket may be created. The socket is how the CLI finds a host
// (DATA_DIR/admin.sock), so one file stands for one live host: a file left by a host that
// died is replaced, and a host that still answers on it makes a second one refuse to start
// rather than take its data dir from under it.
// Blocking (one connect to a local socket); called once at startup, before the loop runs.

#include <filesystem>

#include "runtime/base/result.h"

namespace gust {

// Makes `path` free for bind: nothing there, or a stale socket (connect refused), which is
// removed. Refuses a path too long for a Unix socket, a file that is not a socket, and a
// socket a live host answers on; `data_dir` is named in that last message.
Result<void> claimAdminSocket(const std::filesystem::path& path, const std::filesystem::path& data_dir);

}  // namespace gust
