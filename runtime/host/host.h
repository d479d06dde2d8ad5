#pragma once
// The composition root (STYLE 7): builds the loop, clock, dispatcher, pools and triggers
// for `gust serve`, runs until SIGTERM or SIGINT, then drains and closes everything.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "functions/manifest.h"
#include "runtime/observe/logging.h"
#include "runtime/exec/worker_process.h"
#include "runtime/store/backend_url.h"
#include "triggers/http/callback_address.h"
#include "triggers/http/request_parser.h"
#include "triggers/http/websocket.h"

namespace gust {

// SQLite's synchronous mode for queue commits: FULL fsyncs each commit (an ack means the
// message is on disk); NORMAL may lose the last commits on power loss, never corrupt.
enum class QueueSync { kFull, kNormal };

// Every setting of `gust serve`. runtime/host/config.h fills it from flags, environment and a
// config file, and lists each setting with its flag, variable and default; the defaults
// here are the same (config_test checks).
struct HostOptions {
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  // The admin API's Unix socket; config.h resolves an unset one to DATA_DIR/admin.sock.
  std::filesystem::path admin_socket;
  // Its TCP listener, only when asked for (--admin-listen HOST:PORT; port 0 picks one).
  struct ListenAddress {
    std::string host;
    int port = 0;
  };
  std::optional<ListenAddress> admin_listen;
  // The admin API deploys code: a TCP listener on a non-loopback address needs this as well.
  bool admin_allow_remote = false;
  // Public 5xx bodies carry the failure's full detail (signal, exception text, start
  // error) instead of only its kind; for development (`gust dev` sets it).
  bool expose_errors = false;
  // Addresses async callbacks may reach although they are loopback, private, link-local...
  // (triggers/http/callback_address.h); empty: none.
  std::vector<IpRange> callback_allow;
  std::vector<std::filesystem::path> app_dirs;
  std::filesystem::path data_dir = ".gust";
  std::filesystem::path config_file;  // the config file that was read; empty when none
  std::string executable;  // the gust binary; workers are started from it
  HttpLimits http_limits;
  // The most public connections open at once; 0: the descriptor limit less its reserve
  // (runtime/host/descriptors.h).
  uint64_t max_connections = 0;
  // WebSockets (and event streams): the largest message, the idle timeout, and how many may
  // be open at once. Whoever accepts a WebSocket runs it under webSocketLimits().
  size_t websocket_max_message = 1 << 20;
  std::chrono::milliseconds websocket_idle_timeout{300'000};
  uint64_t max_websockets = 10'000;
  WebSocketLimits webSocketLimits() const {
    WebSocketLimits limits;
    limits.max_message_bytes = websocket_max_message;
    limits.max_frame_bytes = websocket_max_message;  // one frame may carry a whole message
    limits.idle_timeout_ms = static_cast<uint64_t>(websocket_idle_timeout.count());
    return limits;
  }
  WorkerContainment containment;  // whether the host is root is filled in by the CLI
  std::chrono::milliseconds drain_timeout{10'000};
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kText;
  // Base URL of an OTLP/HTTP collector for invocation spans; empty: no export.
  std::string otlp_endpoint;
  // Pool settings for a manifest that does not set them.
  PoolSettings pool_defaults;
  // The app store (functions/app_store.h).
  uint64_t max_module_bytes = 64ull << 20;
  size_t versions_kept = 10;
  // The cluster's Redis (docs/scale-out.md): queues, topics and app state live there, shared with every
  // host on it; none: everything stays in the data dir.
  std::optional<RedisEndpoint> backend;
  RedisTlsFiles backend_tls;  // copied into `backend` (rediss://) by resolveHostOptions
  // Queues and invocation records.
  QueueSync queue_synchronous = QueueSync::kFull;
  std::chrono::milliseconds queue_dedupe_window{10 * 60'000};
  // Storage bounds (docs/security.md "Bounds"), for an app whose gust.json sets none.
  uint32_t max_pending_async = 10000;
  uint64_t max_queue_bytes = 256ull << 20;
  std::chrono::milliseconds queue_retention{168 * 3'600'000LL};
  std::chrono::milliseconds dead_letter_retention{336 * 3'600'000LL};
  std::chrono::milliseconds record_retention{24 * 3'600'000};
  uint32_t records_per_second = 100;
  // Outbound webhooks (triggers/webhooks): attempts per event, and the first retry's delay
  // (doubled each time, up to 10 minutes, with jitter).
  uint32_t webhook_attempts = 8;
  std::chrono::milliseconds webhook_backoff{5000};
};

// Serves until a signal; returns the process exit status. Prints the address it listens on
// and every route to stdout; errors go to stderr as one line that says what to do.
int runHost(const HostOptions& options);

}  // namespace gust
