#pragma once
// An app's manifest, gust.json: its name, its functions, and how each is triggered.
// Value type (STYLE 12). Parsing never throws; every error names the field and the problem,
// and an unknown field is an error, so a typo never passes silently.

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/base/event_filter.h"
#include "runtime/base/names.h"  // the name rules the manifest applies
#include "runtime/base/result.h"
#include "runtime/base/webhook_signature.h"
#include "runtime/graphql/schema.h"
#include "runtime/graphql/topic_binding.h"

namespace gust {

struct RouteSpec {
  std::string path;                  // "/hello/{name}"
  std::vector<std::string> methods;  // upper case; never empty after parsing
};

struct TimerTriggerSpec {
  std::string schedule;  // cron, @macro or @every
  std::string time_zone;  // IANA name; empty means UTC
  bool run_on_startup = false;
};

struct QueueTriggerSpec {
  std::string queue;
  uint32_t batch_size = 1;
  uint32_t max_attempts = 5;  // counted when a message is leased; past it, <queue>.dead
  std::chrono::milliseconds backoff_base{1000};
  std::chrono::milliseconds backoff_cap{300'000};
  std::chrono::milliseconds visibility_timeout{0};  // 0 until parsed: twice the function's timeout
  std::chrono::milliseconds max_age{7 * 24 * 3'600'000LL};
};

// A subscription of a function to a topic: its own queue (delivery.queue is
// subscriptionQueue(topic, "<app>:<function>")), consumed with the same options as a queue
// trigger, taking the events that pass `filter`.
struct TopicTriggerSpec {
  std::string topic;
  QueueTriggerSpec delivery;
  EventFilter filter;
};

// Who may call an app's HTTP routes: anyone (kPublic, the default, for local development), or
// only a caller holding one of the app's function keys (kKey; see runtime/store/key_store.h).
enum class Auth { kPublic, kKey };
const char* authName(Auth auth);

// The signature every caller of a function's routes must send (`"verify"`; see
// triggers/http/webhook_verify.h): the host checks it before the function runs.
struct VerifySpec {
  WebhookScheme scheme = WebhookScheme::kStandardWebhooks;
  std::string secret_env;  // the app variable holding the secret ("secret": "env:NAME")
  std::chrono::seconds tolerance = kDefaultWebhookTolerance;  // for the schemes with a timestamp
};

// A topic served to clients as a stream of its events (manifest "streams"): SSE, or a
// WebSocket, on GET `path`. The topic is retained (runtime/store/queue_backend.h) so that a
// client resumes after the last event it saw.
struct StreamSpec {
  std::string path;   // a literal path: "/orders/events"
  std::string topic;
  std::optional<Auth> auth;  // absent: the app's
  // The event attributes a client may filter on with a query parameter of that name
  // ("subject", "type"): an event passes when its attribute equals the value.
  std::vector<std::string> filter;
  std::chrono::milliseconds retain{std::chrono::hours(1)};
};

// The app's GraphQL endpoint (manifest "graphql"): its schema's Subscription fields, each bound
// to a topic with @topic, served over graphql-transport-ws WebSockets on GET `path`
// (docs/architecture.md "GraphQL endpoint"). The SDL travels inside the manifest: `gust
// deploy` embeds the schema file's text as "sdl", so a stored version needs no other file.
struct GraphqlSpec {
  std::string path = "/graphql";
  std::string schema_file;  // relative to the app folder, as the manifest names it
  std::string sdl;
  std::optional<Auth> auth;  // absent: the app's
  std::shared_ptr<const graphql::Schema> schema;  // built from `sdl`, its bindings checked
  std::map<std::string, graphql::TopicBinding> bindings;  // Subscription field -> topic
  std::chrono::milliseconds retain{std::chrono::hours(1)};  // how long the bound topics keep events
};

// Builds spec.schema and spec.bindings from spec.sdl; the error says what in the SDL is wrong.
Result<void> buildGraphqlSchema(GraphqlSpec& spec);

struct FunctionSpec {
  std::string name;  // a C identifier: the module exports gust_fn_<name>
  std::vector<RouteSpec> routes;
  std::optional<TimerTriggerSpec> timer;
  std::optional<QueueTriggerSpec> queue;
  std::optional<TopicTriggerSpec> topic;
  std::chrono::milliseconds timeout{0};  // 0: the app's timeout
  std::optional<Auth> auth;              // absent: the app's auth
  std::optional<VerifySpec> verify;      // absent: callers send no signature
  // `"websocket": true`: every route of the function is a WebSocket endpoint (GET upgrade
  // requests only); the function is invoked for CONNECT, each MESSAGE and DISCONNECT
  // (docs/architecture.md "WebSocket functions").
  bool websocket = false;
};

// kProcess: each instance is a sandboxed worker process (the default). kThread: handlers
// run on host threads, for trusted code that wants the lowest latency.
enum class Isolation { kProcess, kThread };

struct PoolSettings {
  uint32_t min_instances = 0;
  uint32_t max_instances = 4;
  uint32_t concurrency = 1;
  // With concurrency 1: invocations queued inside a busy instance when the pool is at
  // max_instances, so one wake-up serves several (fewer context switches under load).
  uint32_t pipeline = 8;
  std::chrono::milliseconds idle_timeout{60'000};
  uint32_t max_pending = 256;
  std::chrono::milliseconds pending_timeout{10'000};
  std::chrono::milliseconds timeout{30'000};
  uint32_t memory_mb = 512;
  // Tasks (processes and threads) of all the app's workers together, where cgroups are in
  // force (see runtime/exec/app_cgroups.h).
  uint32_t max_processes = 512;
};

// How much an app may keep in the host's store (docs/security.md "Bounds"). Unset: the
// host's default (its max_pending_async, max_queue_bytes, queue_retention and
// dead_letter_retention settings).
struct StorageBounds {
  std::optional<uint32_t> max_pending_async;  // async invocations queued or running
  std::optional<uint64_t> max_queue_bytes;    // per queue the app consumes
  std::optional<std::chrono::milliseconds> queue_retention;        // unconsumed messages
  std::optional<std::chrono::milliseconds> dead_letter_retention;  // dead letters
};

struct Manifest {
  std::string name;
  std::string module;  // path of the built .so, relative to the app dir
  Isolation isolation = Isolation::kProcess;
  Auth auth = Auth::kPublic;  // of every function that sets none
  PoolSettings pool;
  std::vector<FunctionSpec> functions;
  // Variables the app cannot run without (`gust env set`); a deploy lacking one is refused.
  std::vector<std::string> required_env;
  StorageBounds storage;
  // Queues the app's functions may publish to besides the ones its functions consume.
  std::vector<std::string> publishes;
  // Topics the app publishes to ("topics"): each is a topic from the deploy on, whether or
  // not anything subscribes yet.
  std::vector<std::string> topics;
  std::vector<StreamSpec> streams;
  std::optional<GraphqlSpec> graphql;

  std::chrono::milliseconds timeoutOf(const FunctionSpec& f) const {
    return f.timeout.count() > 0 ? f.timeout : pool.timeout;
  }
  // Whether a function of this app may publish to `name`: it is in `publishes` or
  // `topics`, or one of the app's functions consumes it or subscribes to it.
  bool mayPublishTo(std::string_view name) const;
  Auth authOf(const FunctionSpec& f) const { return f.auth.value_or(auth); }
  // Every variable the app cannot run without: required_env, then each function's verify
  // secret, once each.
  std::vector<std::string> requiredEnv() const;
};

constexpr size_t kMaxManifestBytes = 1u << 20;

// `source` names the text in error messages (usually the file's path). `pool_defaults` are
// the host's settings (default_* in runtime/host/config.h) for what the manifest leaves out;
// they apply when the manifest is read, not when it is deployed, so a host setting
// changes every app that does not set its own.
Result<Manifest> parseManifest(std::string_view text, std::string_view source = "gust.json",
                               const PoolSettings& pool_defaults = {});

// Reads APP_DIR/gust.json and, when it names a GraphQL schema file without its text, that
// file (relative to APP_DIR), built as parseManifest builds an embedded one.
Result<Manifest> loadManifest(const std::filesystem::path& app_dir, const PoolSettings& pool_defaults = {});

}  // namespace gust
