#pragma once
// `gust console`'s way to a host that has no TCP admin listener: a browser cannot reach a
// Unix socket, so the CLI listens on 127.0.0.1 and forwards each request, as it came, to the
// admin socket, until it is stopped (as `kubectl proxy` does). It adds no credential: the
// browser's session cookie and token are what the host checks (docs/console.md). It refuses
// requests whose Host or Origin is not its own address, as the host's TCP listener does, so
// a web page cannot reach it through DNS rebinding.
//
// Blocking and threaded (cpp-httplib's server); for the CLI only.

#include <functional>
#include <string>

#include "runtime/base/result.h"
#include "runtime/cli/admin_client.h"

namespace gust::cli {

// Listens on 127.0.0.1:`port` (0: a free one), calls `ready` with the bound port, then
// serves until the process is stopped. Fails only when it cannot listen.
Result<void> runConsoleProxy(const AdminTarget& target, int port, const std::function<void(int port)>& ready);

}  // namespace gust::cli
