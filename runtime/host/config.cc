#include "runtime/host/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

#include "runtime/base/duration.h"
#include "runtime/base/suggest.h"
#include "runtime/base/text.h"
#include "runtime/exec/app_uids.h"

extern char** environ;

namespace gust {
namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

constexpr size_t kMaxConfigBytes = 1 << 20;

// A parser turns one setting's text into the options, or says what is wrong with it and
// what is allowed (without the source, which the caller adds).
using Apply = std::function<Result<void>(HostOptions&, std::string_view)>;

struct Setting {
  SettingDoc doc;
  Apply apply;  // empty for a setting documented here but read elsewhere
  bool in_file = true;  // may the config file set it?
  bool default_applies = true;  // is doc.default_text the value used when nothing is set?
};

Error bad(const std::string& message) { return makeError(ErrorKind::kBadInput, message); }

Result<uint64_t> wholeNumber(std::string_view text, uint64_t min, uint64_t max) {
  uint64_t n = 0;
  bool ok = !text.empty() && text.size() <= 20;
  for (char c : text) {
    if (c < '0' || c > '9' || n > (UINT64_MAX - static_cast<uint64_t>(c - '0')) / 10) {
      ok = false;
      break;
    }
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  if (!ok || n < min || n > max) {
    return bad(quote(text) + " is not a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

Result<milliseconds> durationIn(std::string_view text, milliseconds min, milliseconds max) {
  auto d = parseDuration(text);
  if (!d) return d.error();
  if (*d < min || *d > max) {
    return bad(quote(text) + " is out of range; use a duration from " + formatDuration(min) + " to " +
               formatDuration(max));
  }
  return *d;
}

Result<bool> boolean(std::string_view text) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  return bad(quote(text) + " is not a yes/no value; use true or false");
}

Result<void> address(std::string_view text) {
  bool ok = !text.empty() && text.size() <= 253;
  for (char c : text) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == ':' ||
          c == '-' || c == '%' || c == '_')) {
      ok = false;
    }
  }
  if (!ok) return bad(quote(text) + " is not an address; use an IP address such as 127.0.0.1 or 0.0.0.0, or a host name");
  return {};
}

bool isLoopback(const std::string& host) {
  if (host == "localhost" || host == "::1") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

// "HOST:PORT", or "[IPv6]:PORT".
Result<HostOptions::ListenAddress> listenAddress(std::string_view text) {
  auto wrong = [&] {
    return bad(quote(text) + " is not HOST:PORT; use e.g. 127.0.0.1:8081 or [::1]:8081 (port 0 picks a free one)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return wrong();
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string_view::npos) return wrong();  // IPv6 needs its brackets
  auto port = wholeNumber(text.substr(colon + 1), 0, 65535);
  if (host.empty() || !port) return wrong();
  if (auto r = address(host); !r) return r.error();
  return HostOptions::ListenAddress{std::string(host), static_cast<int>(*port)};
}

// Builders for the common kinds of setting.
Apply addressOf(std::string HostOptions::*field) {
  return [field](HostOptions& o, std::string_view text) -> Result<void> {
    if (auto r = address(text); !r) return r;
    o.*field = std::string(text);
    return {};
  };
}

Apply pathOf(std::filesystem::path HostOptions::*field, std::string if_empty) {
  return [field, if_empty](HostOptions& o, std::string_view text) -> Result<void> {
    if (text.empty()) return bad(if_empty);
    o.*field = std::string(text);
    return {};
  };
}

Apply portOf(int HostOptions::*field) {
  return [field](HostOptions& o, std::string_view text) -> Result<void> {
    auto n = wholeNumber(text, 0, 65535);
    if (!n) return bad("invalid port " + quote(text) + ": use a number from 0 to 65535 (0 picks a free port)");
    o.*field = static_cast<int>(*n);
    return {};
  };
}

template <typename T, typename Field>
Apply numberOf(Field field, uint64_t min, uint64_t max) {
  return [field, min, max](HostOptions& o, std::string_view text) -> Result<void> {
    auto n = wholeNumber(text, min, max);
    if (!n) return n.error();
    field(o) = static_cast<T>(*n);
    return {};
  };
}

template <typename Field>
Apply durationOf(Field field, milliseconds min, milliseconds max) {
  return [field, min, max](HostOptions& o, std::string_view text) -> Result<void> {
    auto d = durationIn(text, min, max);
    if (!d) return d.error();
    field(o) = *d;
    return {};
  };
}

template <typename T>
Apply choiceOf(T HostOptions::*field, std::vector<std::pair<std::string, T>> choices) {
  return [field, choices](HostOptions& o, std::string_view text) -> Result<void> {
    std::string names;
    for (const auto& [name, value] : choices) {
      if (text == name) {
        o.*field = value;
        return {};
      }
      names += (names.empty() ? "" : ", ") + name;
    }
    return bad(quote(text) + " is not one of " + names);
  };
}

constexpr milliseconds kHour{3'600'000};
constexpr milliseconds kDay = 24 * kHour;

const std::vector<Setting>& table() {
  static const std::vector<Setting> settings = [] {
    std::vector<Setting> s;
    auto add = [&s](SettingDoc doc, Apply apply, bool in_file = true, bool default_applies = true) {
      s.push_back(Setting{std::move(doc), std::move(apply), in_file, default_applies});
    };
    add({"config", "--config", "", "GUST_CONFIG", "FILE", "`DATA_DIR/config.json` if it exists",
         "a JSON file of settings, keyed by setting name: `{\"port\": 9000}`"},
        nullptr, false, false);
    add({"data_dir", "--data-dir", "", "GUST_DATA", "DIR", "`./.gust`",
         "where the host keeps its state (mode 0700): deployed apps, timer state, the admin token and socket"},
        pathOf(&HostOptions::data_dir, "the data dir is empty; give a folder"), false, false);
    add({"host", "--host", "", "GUST_HOST", "ADDR", "`127.0.0.1`", "address of the HTTP listener"},
        addressOf(&HostOptions::http_host));
    add({"port", "--port", "-p", "GUST_PORT", "N", "`8080`", "port of the HTTP listener (0 picks a free port)"},
        portOf(&HostOptions::http_port));
    add({"admin_socket", "--admin-socket", "", "GUST_ADMIN_SOCKET", "PATH", "`DATA_DIR/admin.sock`",
         "the admin API's Unix socket, created mode 0600 so that only the host's user (and root) can use it"},
        pathOf(&HostOptions::admin_socket, "the admin socket path is empty; give a file path"), true, false);
    add({"admin_listen", "--admin-listen", "", "GUST_ADMIN_LISTEN", "HOST:PORT", "none (no TCP)",
         "also serve the admin API on TCP, e.g. `127.0.0.1:8081` (port 0 picks a free one); an address that is not "
         "loopback also needs `admin_allow_remote`"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          auto listen = listenAddress(text);
          if (!listen) return listen.error();
          o.admin_listen = *listen;
          return {};
        },
        true, false);
    add({"admin_allow_remote", "--admin-allow-remote", "", "GUST_ADMIN_ALLOW_REMOTE", "", "`false`",
         "let the admin API, which deploys code, listen on a non-loopback TCP address"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          auto b = boolean(text);
          if (!b) return b.error();
          o.admin_allow_remote = *b;
          return {};
        });
    add({"expose_errors", "--expose-errors", "", "GUST_EXPOSE_ERRORS", "", "`false`",
         "show a failed invocation's full detail (signal, exception text, start error) to HTTP callers, not only "
         "its kind; `gust dev` turns it on"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          auto b = boolean(text);
          if (!b) return b.error();
          o.expose_errors = *b;
          return {};
        });
    add({"callback_allow", "--callback-allow", "", "GUST_CALLBACK_ALLOW", "CIDR[,CIDR]", "none",
         "address ranges async callbacks may reach although they are loopback, private, link-local, CGNAT or "
         "multicast, e.g. `10.1.2.0/24` for a receiver on your own network (docs/security.md); `gust dev` allows "
         "loopback"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          auto ranges = parseIpRanges(text);
          if (!ranges) return ranges.error();
          o.callback_allow = std::move(*ranges);
          return {};
        },
        true, false);
    add({"", "", "", "GUST_ADMIN_TOKEN", "", "created in the data dir", "the admin API's bearer token"}, nullptr, false,
        false);
    add({"max_body", "--max-body", "", "GUST_MAX_BODY", "BYTES", "`4194304`", "the largest HTTP request body accepted"},
        numberOf<size_t>([](HostOptions& o) -> size_t& { return o.http_limits.max_body; }, 1, 1ull << 30));
    add({"max_connections", "--max-connections", "", "GUST_MAX_CONNECTIONS", "N",
         "the descriptor limit less a reserve of max(64, limit/4)",
         "the most HTTP connections open at once; at the limit a newcomer closes the connection idle longest, or "
         "gets 503 when none is idle. The host raises its descriptor limit to the hard limit at start, and refuses "
         "to start when N leaves less than 64 for workers, the admin API and files"},
        numberOf<uint64_t>([](HostOptions& o) -> uint64_t& { return o.max_connections; }, 1, 100'000'000), true,
        false);
    add({"websocket_max_message", "--websocket-max-message", "", "GUST_WEBSOCKET_MAX_MESSAGE", "BYTES",
         "`1048576`", "the largest WebSocket message accepted; a larger one closes the connection with 1009"},
        numberOf<size_t>([](HostOptions& o) -> size_t& { return o.websocket_max_message; }, 1, 1ull << 30));
    add({"websocket_idle_timeout", "--websocket-idle-timeout", "", "GUST_WEBSOCKET_IDLE_TIMEOUT", "D", "`5m`",
         "how long a WebSocket may receive nothing (the host pings it every 30s) before it is closed with 1001"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.websocket_idle_timeout; }, milliseconds(1000),
                   kDay));
    add({"max_websockets", "--max-websockets", "", "GUST_MAX_WEBSOCKETS", "N", "`10000`",
         "the most WebSockets and event streams open at once; past it a new one gets 503"},
        numberOf<uint64_t>([](HostOptions& o) -> uint64_t& { return o.max_websockets; }, 1, 100'000'000));
    add({"drain_timeout", "--drain-timeout", "", "GUST_DRAIN_TIMEOUT", "D", "`10s`",
         "how long SIGTERM or SIGINT waits for in-flight requests"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.drain_timeout; }, milliseconds(0), kHour));
    add({"log_level", "--log-level", "", "GUST_LOG_LEVEL", "LEVEL", "`info`", "`debug`, `info`, `warn` or `error`"},
        choiceOf<LogLevel>(&HostOptions::log_level, {{"debug", LogLevel::kDebug},
                                                     {"info", LogLevel::kInfo},
                                                     {"warn", LogLevel::kWarn},
                                                     {"error", LogLevel::kError}}));
    add({"log_format", "--log-format", "", "GUST_LOG_FORMAT", "FORMAT", "`text`",
         "`text`, or `json` for one JSON object per line"},
        choiceOf<LogFormat>(&HostOptions::log_format, {{"text", LogFormat::kText}, {"json", LogFormat::kJson}}));
    add({"otlp_endpoint", "--otlp-endpoint", "", "GUST_OTLP_ENDPOINT", "URL", "none (no export)",
         "an OpenTelemetry collector (`http://host:4318`) that gets one span per invocation as OTLP/HTTP JSON"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          if (!text.empty() && text.substr(0, 7) != "http://" && text.substr(0, 8) != "https://") {
            return bad(quote(text) + " is not an http:// or https:// URL");
          }
          o.otlp_endpoint = std::string(text);
          return {};
        },
        true, false);
    add({"worker_uids", "--worker-uids", "", "GUST_WORKER_UIDS", "FIRST-LAST", "`200000-265535`",
         "the uids workers run as when the host runs as root: each app gets its own"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          auto range = parseUidRange(text);
          if (!range) return range.error();
          o.containment.uids = *range;
          return {};
        });
    add({"worker_tmp_mb", "--worker-tmp-mb", "", "GUST_WORKER_TMP_MB", "MB", "`64`",
         "the size of each worker's private /tmp (memory-backed)"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.containment.tmp_mb; }, 1, 1 << 20));
    add({"max_module_bytes", "--max-module-bytes", "", "GUST_MAX_MODULE_BYTES", "BYTES", "`67108864`",
         "the largest module a deploy accepts"},
        numberOf<uint64_t>([](HostOptions& o) -> uint64_t& { return o.max_module_bytes; }, 4096, 1ull << 32));
    add({"versions_kept", "--versions-kept", "", "GUST_VERSIONS_KEPT", "N", "`10`",
         "versions kept per app, the active one included; older ones are deleted"},
        numberOf<size_t>([](HostOptions& o) -> size_t& { return o.versions_kept; }, 2, 1000));
    // Pool defaults: the same names and ranges as in gust.json, which overrides them per app.
    add({"default_min_instances", "--default-min-instances", "", "GUST_DEFAULT_MIN_INSTANCES", "N", "`0`",
         "instances an app keeps warm, unless its gust.json says otherwise"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.pool_defaults.min_instances; }, 0, 1024));
    add({"default_max_instances", "--default-max-instances", "", "GUST_DEFAULT_MAX_INSTANCES", "N", "`4`",
         "most instances of an app"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.pool_defaults.max_instances; }, 1, 1024));
    add({"default_concurrency", "--default-concurrency", "", "GUST_DEFAULT_CONCURRENCY", "N", "`1`",
         "invocations one instance runs at once"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.pool_defaults.concurrency; }, 1, 1024));
    add({"default_idle_timeout", "--default-idle-timeout", "", "GUST_DEFAULT_IDLE_TIMEOUT", "D", "`1m`",
         "how long an idle instance lives"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.pool_defaults.idle_timeout; }, milliseconds(10),
                   kDay));
    add({"default_max_pending", "--default-max-pending", "", "GUST_DEFAULT_MAX_PENDING", "N", "`256`",
         "invocations waiting for an instance before 503"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.pool_defaults.max_pending; }, 1, 1'000'000));
    add({"default_pending_timeout", "--default-pending-timeout", "", "GUST_DEFAULT_PENDING_TIMEOUT", "D", "`10s`",
         "how long an invocation waits for an instance before 503"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.pool_defaults.pending_timeout; }, milliseconds(1),
                   kHour));
    add({"default_timeout", "--default-timeout", "", "GUST_DEFAULT_TIMEOUT", "D", "`30s`",
         "how long an invocation may run before 504"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.pool_defaults.timeout; }, milliseconds(1), kDay));
    add({"default_memory_mb", "--default-memory-mb", "", "GUST_DEFAULT_MEMORY_MB", "N", "`512`",
         "a worker's memory (`memory_mb`) for apps whose manifest sets none, in MiB"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.pool_defaults.memory_mb; }, 16, 1'048'576));
    add({"backend", "--backend", "", "GUST_BACKEND", "URL", "none (embedded)",
         "the Redis (`redis[s]://[[user]:password@]host[:port][/db]`; `rediss` for TLS) of this host's cluster: "
         "every host on it "
         "serves the same deployed apps, queues, topics and app state, and fires each timer point once; without "
         "it everything stays in the data dir (docs/scale-out.md)"},
        [](HostOptions& o, std::string_view text) -> Result<void> {
          if (text.empty()) {
            o.backend.reset();
            return {};
          }
          auto endpoint = parseBackendUrl(text);
          if (!endpoint) return endpoint.error();
          o.backend = std::move(*endpoint);
          return {};
        },
        true, false);
    auto tlsFile = [](std::string RedisTlsFiles::*field) -> Apply {
      return [field](HostOptions& o, std::string_view text) -> Result<void> {
        o.backend_tls.*field = std::string(text);
        return {};
      };
    };
    add({"backend_tls_ca", "--backend-tls-ca", "", "GUST_BACKEND_TLS_CA", "FILE", "the system's CAs",
         "for a `rediss://` backend: the PEM certificates of the CAs that sign Redis's certificate"},
        tlsFile(&RedisTlsFiles::ca_file), true, false);
    add({"backend_tls_cert", "--backend-tls-cert", "", "GUST_BACKEND_TLS_CERT", "FILE", "none",
         "for a `rediss://` backend that asks for a client certificate (`tls-auth-clients`): this host's, in PEM"},
        tlsFile(&RedisTlsFiles::cert_file), true, false);
    add({"backend_tls_key", "--backend-tls-key", "", "GUST_BACKEND_TLS_KEY", "FILE", "none",
         "the PEM private key of `backend_tls_cert`"},
        tlsFile(&RedisTlsFiles::key_file), true, false);
    add({"queue_synchronous", "--queue-synchronous", "", "GUST_QUEUE_SYNCHRONOUS", "MODE", "`FULL`",
         "SQLite sync for queue commits: `FULL` (an ack is on disk) or `NORMAL` (faster; a power loss may lose the "
         "last acks)"},
        choiceOf<QueueSync>(&HostOptions::queue_synchronous, {{"FULL", QueueSync::kFull}, {"NORMAL", QueueSync::kNormal}}));
    add({"queue_dedupe_window", "--queue-dedupe-window", "", "GUST_QUEUE_DEDUPE_WINDOW", "D", "`10m`",
         "how long a message id is remembered to drop duplicates"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.queue_dedupe_window; }, milliseconds(0), 30 * kDay));
    // Storage bounds: the same names as in gust.json, which overrides them per app.
    add({"max_pending_async", "--max-pending-async", "", "GUST_MAX_PENDING_ASYNC", "N", "`10000`",
         "async invocations of one app queued or running before 429"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.max_pending_async; }, 1, 10'000'000));
    add({"max_queue_bytes", "--max-queue-bytes", "", "GUST_MAX_QUEUE_BYTES", "BYTES", "`268435456`",
         "bytes one queue may hold (bodies and headers) before sends and publishes are refused with 429"},
        numberOf<uint64_t>([](HostOptions& o) -> uint64_t& { return o.max_queue_bytes; }, 1024, 1ull << 40));
    add({"queue_retention", "--queue-retention", "", "GUST_QUEUE_RETENTION", "D", "`168h`",
         "how long an unconsumed queue message is kept"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.queue_retention; }, std::chrono::minutes(1),
                   365 * kDay));
    add({"dead_letter_retention", "--dead-letter-retention", "", "GUST_DEAD_LETTER_RETENTION", "D", "`336h`",
         "how long a dead letter is kept"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.dead_letter_retention; }, std::chrono::minutes(1),
                   365 * kDay));
    add({"record_retention", "--record-retention", "", "GUST_RECORD_RETENTION", "D", "`24h`",
         "how long invocation records are kept"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.record_retention; }, std::chrono::minutes(1),
                   365 * kDay));
    add({"records_per_second", "--records-per-second", "", "GUST_RECORDS_PER_SECOND", "N", "`100`",
         "plain successes recorded per second per function; failures, cold starts and retries always are"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.records_per_second; }, 0, 1'000'000));
    add({"webhook_attempts", "--webhook-attempts", "", "GUST_WEBHOOK_ATTEMPTS", "N", "`8`",
         "POSTs of one event to a webhook before it goes to the subscription's dead-letter queue"},
        numberOf<uint32_t>([](HostOptions& o) -> uint32_t& { return o.webhook_attempts; }, 1, 100));
    add({"webhook_backoff", "--webhook-backoff", "", "GUST_WEBHOOK_BACKOFF", "D", "`5s`",
         "delay before a webhook's first retry; doubled each retry up to 10m, with jitter"},
        durationOf([](HostOptions& o) -> milliseconds& { return o.webhook_backoff; }, milliseconds(10), kHour));
    return s;
  }();
  return settings;
}

// The default as a value: the documented text without its Markdown quotes.
std::string defaultValue(const SettingDoc& doc) {
  std::string v = doc.default_text;
  if (v.size() >= 2 && v.front() == '`' && v.back() == '`') v = v.substr(1, v.size() - 2);
  return v;
}

const Setting* byKey(std::string_view key) {
  for (const auto& s : table()) {
    if (!s.doc.key.empty() && s.doc.key == key) return &s;
  }
  return nullptr;
}

struct Value {
  std::string text;
  std::string source;  // "flag --port", "environment GUST_PORT", "FILE: port", "default"
};

Result<std::string> readConfigFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return bad(file.string() + ": cannot read the config file; check the path given with --config or GUST_CONFIG");
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) {
      return bad(file.string() + ": larger than " + std::to_string(kMaxConfigBytes) + " bytes; is it the right file?");
    }
  }
  return text;
}

// Reads the file's settings into `values`, each with its source.
Result<void> readFileSettings(const std::filesystem::path& file, std::map<std::string, Value>& values) {
  auto text = readConfigFile(file);
  if (!text) return text.error();
  json doc;
  try {
    doc = json::parse(*text);
  } catch (const json::parse_error& e) {
    std::string what = e.what();
    if (auto at = what.find("] "); at != std::string::npos) what = what.substr(at + 2);
    return bad(file.string() + ": not valid JSON: " + what);
  }
  if (!doc.is_object()) return bad(file.string() + ": must be a JSON object such as {\"port\": 8080}");
  std::vector<std::string> known;
  for (const auto& s : table()) {
    if (s.in_file && !s.doc.key.empty()) known.push_back(s.doc.key);
  }
  for (const auto& [key, value] : doc.items()) {
    std::string where = file.string() + ": " + key;
    const Setting* s = byKey(key);
    if (s == nullptr) {
      if (auto advice = removedSettingAdvice(key)) return bad(where + ": " + *advice);
      std::string message = where + ": unknown setting";
      if (auto close = closestMatch(key, known)) message += " (did you mean \"" + *close + "\"?)";
      else message += "; the settings are listed by `gust serve --help`";
      return bad(message);
    }
    if (!s->in_file) {
      return bad(where + ": cannot be set in the config file, which is found through it; use " + s->doc.flag +
                 " or " + s->doc.env);
    }
    std::string v;
    if (value.is_string()) v = value.get<std::string>();
    else if (value.is_boolean()) v = value.get<bool>() ? "true" : "false";
    else if (value.is_number_unsigned()) v = std::to_string(value.get<uint64_t>());
    else if (value.is_number()) v = value.dump();  // negative or fractional: the parser says why
    else return bad(where + ": must be a string, a number or true/false, not " + std::string(value.type_name()));
    values[key] = Value{v, where};
  }
  return {};
}

}  // namespace

const std::vector<SettingDoc>& hostSettings() {
  static const std::vector<SettingDoc> docs = [] {
    std::vector<SettingDoc> d;
    for (const auto& s : table()) d.push_back(s.doc);
    return d;
  }();
  return docs;
}

std::map<std::string, std::string> gustEnvironment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    if (entry.rfind("GUST_", 0) != 0) continue;
    auto eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  return env;
}

Result<HostOptions> resolveHostOptions(const ConfigSources& sources) {
  // Layered lowest first, so each later source replaces what came before.
  std::map<std::string, Value> values;
  for (const auto& s : table()) {
    if (s.apply && s.default_applies) values[s.doc.key] = Value{defaultValue(s.doc), "default"};
  }
  auto fromEnvOrFlag = [&](const Setting& s) -> std::optional<Value> {
    std::optional<Value> v;
    if (auto e = sources.env.find(s.doc.env); e != sources.env.end() && !e->second.empty()) {
      v = Value{e->second, "environment " + s.doc.env};
    }
    if (auto f = sources.flags.find(s.doc.flag); !s.doc.flag.empty() && f != sources.flags.end()) {
      v = Value{f->second, "flag " + s.doc.flag};
    }
    return v;
  };

  for (const auto& [name, value] : sources.env) {
    auto advice = removedSettingAdvice(name);
    if (advice && !value.empty()) return bad("environment " + name + ": " + *advice);
  }
  // The data dir and the config file come first: the file is found through them.
  HostOptions options;
  if (auto dir = fromEnvOrFlag(*byKey("data_dir"))) {
    if (auto r = byKey("data_dir")->apply(options, dir->text); !r) return bad(dir->source + ": " + r.error().message);
  }
  std::filesystem::path config_file;
  if (auto config = fromEnvOrFlag(*byKey("config"))) {
    if (config->text.empty()) return bad(config->source + ": the config file path is empty");
    config_file = config->text;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config_file, ec)) {
      return bad(config->source + ": " + config->text + " does not exist or is not a file; give the path of a JSON "
                                                         "config file");
    }
  } else {
    std::error_code ec;
    std::filesystem::path implicit = options.data_dir / "config.json";
    if (std::filesystem::exists(implicit, ec)) config_file = implicit;
  }
  if (!config_file.empty()) {
    if (auto r = readFileSettings(config_file, values); !r) return r.error();
    options.config_file = config_file;
  }
  for (const auto& s : table()) {
    if (!s.apply || !s.in_file) continue;
    if (auto v = fromEnvOrFlag(s)) values[s.doc.key] = *v;
  }

  for (const auto& s : table()) {
    auto v = values.find(s.doc.key);
    if (!s.apply || v == values.end()) continue;
    if (auto r = s.apply(options, v->second.text); !r) {
      std::string how = s.doc.flag.empty() ? s.doc.env : s.doc.flag + " or " + s.doc.env;
      return bad(v->second.source + ": " + r.error().message + " (see " + how + " in `gust serve --help`)");
    }
  }

  auto sourceOf = [&](const char* key) {
    auto v = values.find(key);
    return v == values.end() ? std::string("default") : v->second.source;
  };
  if (options.admin_listen && !isLoopback(options.admin_listen->host) && !options.admin_allow_remote) {
    return bad(sourceOf("admin_listen") + ": the admin API would listen on " + options.admin_listen->host +
               ", which is not a loopback address, and it can deploy code; add --admin-allow-remote (or "
               "GUST_ADMIN_ALLOW_REMOTE=true) to mean it, and keep the admin token secret");
  }
  if (options.admin_socket.empty()) options.admin_socket = options.data_dir / "admin.sock";
  const RedisTlsFiles& tls = options.backend_tls;
  if (!tls.ca_file.empty() || !tls.cert_file.empty() || !tls.key_file.empty()) {
    if (!options.backend || !options.backend->tls) {
      return bad("backend_tls_ca, backend_tls_cert and backend_tls_key are for a rediss:// backend (Redis over "
                 "TLS); give --backend rediss://HOST:PORT, or drop them");
    }
    options.backend->tls_files = tls;
  }
  if (options.pool_defaults.min_instances > options.pool_defaults.max_instances) {
    return bad(sourceOf("default_min_instances") + ": default_min_instances is " +
               std::to_string(options.pool_defaults.min_instances) + ", more than default_max_instances (" +
               std::to_string(options.pool_defaults.max_instances) + ", from " + sourceOf("default_max_instances") +
               ")");
  }
  return options;
}

std::optional<std::string> removedSettingAdvice(std::string_view name) {
  for (std::string_view removed : {"admin_host", "admin_port", "--admin-host", "--admin-port", "GUST_ADMIN_HOST",
                                   "GUST_ADMIN_PORT"}) {
    if (name == removed) {
      return "no longer a setting: the admin API listens on a Unix socket (--admin-socket, default "
             "DATA_DIR/admin.sock); for TCP as well use --admin-listen HOST:PORT (admin_listen, GUST_ADMIN_LISTEN)";
    }
  }
  return std::nullopt;
}

std::string settingsHelp() {
  constexpr size_t kIndent = 32;
  constexpr size_t kWidth = 96;
  // Wraps `text` at word boundaries into lines that start at column kIndent.
  auto wrapped = [&](const std::string& text) {
    std::string out;
    size_t column = kIndent;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find(' ', start);
      if (end == std::string::npos) end = text.size();
      std::string word = text.substr(start, end - start);
      if (column > kIndent && column + 1 + word.size() > kWidth) {
        out += "\n" + std::string(kIndent, ' ');
        column = kIndent;
      } else if (column > kIndent) {
        out += ' ';
        ++column;
      }
      out += word;
      column += word.size();
      start = end + 1;
    }
    return out;
  };
  auto plain = [](std::string text) {
    text.erase(std::remove(text.begin(), text.end(), '`'), text.end());
    return text;
  };
  std::string out;
  for (const auto& s : table()) {
    if (s.doc.flag.empty()) continue;
    std::string value = s.doc.value_name.empty() ? "" : " " + s.doc.value_name;
    std::string left = "  " + s.doc.flag + value;
    if (!s.doc.short_flag.empty()) left += ", " + s.doc.short_flag + value;
    out += left;
    out += left.size() < kIndent ? std::string(kIndent - left.size(), ' ') : "\n" + std::string(kIndent, ' ');
    out += wrapped(plain(s.doc.help) + " (default " + plain(s.doc.default_text) + "; $" + s.doc.env + ")") + "\n";
  }
  return out;
}

std::string settingsMarkdownTable() {
  std::string out = "| setting | flag | environment | default | meaning |\n|---|---|---|---|---|\n";
  for (const auto& s : table()) {
    auto code = [](const std::string& text) { return text.empty() ? std::string() : "`" + text + "`"; };
    std::string flag = code(s.doc.flag);
    if (!s.doc.short_flag.empty()) flag += ", " + code(s.doc.short_flag);
    std::string key = s.doc.key.empty() ? "" : code(s.doc.key) + (s.in_file ? "" : " (not in the file)");
    out += "| " + key + " | " + flag + " | " + code(s.doc.env) + " | " + s.doc.default_text + " | " + s.doc.help +
           " |\n";
  }
  return out;
}

}  // namespace gust
