#pragma once
// Where a running host's admin API is, written down so that the CLI finds it from any folder
// of the same machine (docs/admin-api.md "How the CLI finds its host").
//
// One file per host, host-PID.json, in a folder only this user may write:
// $XDG_RUNTIME_DIR/gust (a per-user tmpfs the session manager empties at logout), else
// $XDG_STATE_HOME/gust/hosts or ~/.local/state/gust/hosts (in the user's home, so no other
// user can create it first, as one could a /tmp/gust-UID). A folder not owned by this user,
// not a real directory, or writable by group or others is refused: whoever could write there
// could plant a record that sends the CLI, and what it deploys, to a host of their own.
//
// A record holds no secret: the admin token stays in the data dir, with its own mode. It is
// written atomically (a temp file renamed), mode 0600, once the admin API listens, and removed
// on a clean exit; one left by a host that died is stale (its pid gone or its socket
// refusing) and the reader removes it.
//
// Blocking file and socket calls: the host writes and removes its record once each, the CLI
// reads them once per command.

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/result.h"

namespace gust {

struct HostRecord {
  pid_t pid = 0;
  std::filesystem::path admin_socket;  // absolute
  std::string admin_url;               // "http://HOST:PORT" with --admin-listen, else ""
  std::filesystem::path data_dir;      // absolute; holds admin.token
};

// The records' folder for this user and environment; nullopt when neither XDG_RUNTIME_DIR,
// XDG_STATE_HOME nor HOME is set to an absolute path.
std::optional<std::filesystem::path> hostRecordDir();

// Writes `record` into `dir` (created 0700 if missing, refused if unsafe); returns the file.
Result<std::filesystem::path> writeHostRecord(const std::filesystem::path& dir, const HostRecord& record);

// The records in `dir` of hosts that answer on their socket, oldest pid first; stale ones are
// removed. No folder: no records. An unsafe folder: an error that says what is wrong with it.
Result<std::vector<HostRecord>> liveHostRecords(const std::filesystem::path& dir);

}  // namespace gust
