#include "functions/manifest.h"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <sstream>

#include "functions/app_env.h"
#include "runtime/base/duration.h"
#include "runtime/base/suggest.h"
#include "runtime/base/cron.h"
#include "runtime/base/text.h"

namespace gust {
namespace {

using json = nlohmann::json;

// Walks one JSON document and remembers the first error with its field path.
class Checker {
 public:
  explicit Checker(std::string_view source) : source_(source) {}

  bool failed() const { return !error_.empty(); }
  Error error() const { return makeError(ErrorKind::kBadInput, error_); }

  void fail(const std::string& path, const std::string& problem) {
    if (error_.empty()) error_ = std::string(source_) + ": " + path + ": " + problem;
  }

  // Fails on any key of `obj` not in `known`, suggesting the closest known one.
  void onlyKnown(const json& obj, const std::string& path, std::initializer_list<std::string_view> known) {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(known.begin(), known.end(), key) != known.end()) continue;
      std::vector<std::string> names(known.begin(), known.end());
      auto best = closestMatch(key, names);
      std::string message = "unknown field \"" + key + "\"";
      if (best) message += " (did you mean \"" + *best + "\"?)";
      else {
        message += " (known fields:";
        for (auto k : known) message += " " + std::string(k);
        message += ")";
      }
      fail(path.empty() ? key : path, message);
      return;
    }
  }

  std::optional<std::string> string(const json& obj, const std::string& path, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_string()) {
      fail(join(path, key), "must be a string");
      return std::nullopt;
    }
    return it->get<std::string>();
  }

  std::optional<uint32_t> count(const json& obj, const std::string& path, const char* key, uint32_t min,
                                uint32_t max) {
    auto n = wholeNumber(obj, path, key, min, max, "a whole number");
    if (!n) return std::nullopt;
    return static_cast<uint32_t>(*n);
  }

  std::optional<uint64_t> bytes(const json& obj, const std::string& path, const char* key, uint64_t min,
                                uint64_t max) {
    return wholeNumber(obj, path, key, min, max, "a number of bytes");
  }

  std::optional<uint64_t> wholeNumber(const json& obj, const std::string& path, const char* key, uint64_t min,
                                      uint64_t max, std::string_view what) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_number_unsigned() || it->get<uint64_t>() < min || it->get<uint64_t>() > max) {
      fail(join(path, key), "must be " + std::string(what) + " from " + std::to_string(min) + " to " +
                                std::to_string(max));
      return std::nullopt;
    }
    return it->get<uint64_t>();
  }

  std::optional<std::chrono::milliseconds> duration(const json& obj, const std::string& path, const char* key,
                                                    std::chrono::milliseconds min) {
    auto text = string(obj, path, key);
    if (!text) return std::nullopt;
    auto d = parseDuration(*text);
    if (!d) {
      fail(join(path, key), d.error().message);
      return std::nullopt;
    }
    if (*d < min) {
      fail(join(path, key), "must be at least " + formatDuration(min));
      return std::nullopt;
    }
    return *d;
  }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

 private:
  std::string_view source_;
  std::string error_;
};

constexpr std::string_view kMethods[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};

// "websocket": true makes every route of the function a WebSocket endpoint: upgrade
// requests are GETs, and the function's invocations are its connections' events, so it
// has no other trigger.
void parseWebSocket(Checker& c, const json& w, const std::string& path, FunctionSpec& f) {
  const std::string where = path + ".websocket";
  if (!w.is_boolean()) {
    c.fail(where, "must be true (every route of the function takes WebSocket connections) or false");
    return;
  }
  f.websocket = w.get<bool>();
  if (!f.websocket) return;
  if (f.routes.empty()) {
    c.fail(where, "needs the function's \"routes\": the paths clients connect to");
  } else if (f.timer || f.queue || f.topic) {
    c.fail(where, "a WebSocket function is invoked for its connections' events only; give the timer, queue or "
                  "topic its own function");
  } else if (f.verify) {
    c.fail(where, "a WebSocket upgrade request has no body to sign; remove \"verify\" or use \"auth\": \"key\"");
  }
  for (const auto& route : f.routes) {
    if (route.methods != std::vector<std::string>{"GET"}) {
      c.fail(where, "route " + route.path + " must accept GET only: a WebSocket connection starts with a GET "
                    "upgrade request");
      return;
    }
  }
}

void parseRoute(Checker& c, const json& r, const std::string& path, RouteSpec& route) {
  if (r.is_string()) {
    route.path = r.get<std::string>();
    route.methods = {"GET"};
  } else if (r.is_object()) {
    c.onlyKnown(r, path, {"path", "methods"});
    auto p = c.string(r, path, "path");
    if (!p && !c.failed()) c.fail(path, "a route needs a \"path\", e.g. {\"path\": \"/hello/{name}\"}");
    if (p) route.path = *p;
    auto m = r.find("methods");
    if (m != r.end()) {
      if (!m->is_array() || m->empty()) {
        c.fail(path + ".methods", "must be a non-empty list such as [\"GET\", \"POST\"]");
        return;
      }
      for (size_t i = 0; i < m->size(); ++i) {
        const json& v = (*m)[i];
        std::string where = path + ".methods[" + std::to_string(i) + "]";
        if (!v.is_string()) {
          c.fail(where, "must be a string");
          return;
        }
        std::string method = v.get<std::string>();
        std::transform(method.begin(), method.end(), method.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::toupper(ch)); });
        if (std::find(std::begin(kMethods), std::end(kMethods), method) == std::end(kMethods)) {
          c.fail(where, "\"" + v.get<std::string>() +
                            "\" is not a supported HTTP method (use GET, HEAD, POST, PUT, PATCH, DELETE or OPTIONS)");
          return;
        }
        if (std::find(route.methods.begin(), route.methods.end(), method) != route.methods.end()) {
          c.fail(where, "\"" + method + "\" is listed twice");
          return;
        }
        route.methods.push_back(method);
      }
    } else {
      route.methods = {"GET"};
    }
  } else {
    c.fail(path, "must be a path string or an object {\"path\": ..., \"methods\": [...]}");
    return;
  }
  if (route.path.empty() || route.path[0] != '/') {
    c.fail(path + ".path", "must start with '/'");
  } else if (route.path.size() > 1024) {
    c.fail(path + ".path", "is longer than 1024 characters");
  }
}

void parseTimer(Checker& c, const json& t, const std::string& path, TimerTriggerSpec& timer) {
  if (t.is_string()) {
    timer.schedule = t.get<std::string>();
    return;
  }
  if (!t.is_object()) {
    c.fail(path, "must be a schedule string or an object {\"schedule\": ..., \"time_zone\": ...}");
    return;
  }
  c.onlyKnown(t, path, {"schedule", "time_zone", "run_on_startup"});
  auto s = c.string(t, path, "schedule");
  if (!s && !c.failed()) c.fail(path, "a timer needs a \"schedule\", e.g. \"*/10 * * * * *\"");
  if (s) timer.schedule = *s;
  if (auto tz = c.string(t, path, "time_zone")) timer.time_zone = *tz;
  auto r = t.find("run_on_startup");
  if (r != t.end()) {
    if (!r->is_boolean()) c.fail(path + ".run_on_startup", "must be true or false");
    else timer.run_on_startup = r->get<bool>();
  }
}

// A schedule is checked when the manifest loads, never first when it would fire.
void checkSchedule(Checker& c, const TimerTriggerSpec& timer, const std::string& path) {
  if (c.failed()) return;
  auto parsed = CronSchedule::parse(timer.schedule, timer.time_zone);
  if (!parsed) {
    c.fail(path, parsed.error().message);
  } else if (!parsed->isInterval() && !parsed->next(std::chrono::system_clock::now())) {
    c.fail(path, "schedule \"" + timer.schedule + "\" never fires in the next 5 years (a day that does not exist, such "
                                                   "as February 30?)");
  }
}

// "filter": {"type": "order.placed" | ["a", "b"], "headers": {"ce-subject": "x"}}.
void parseFilter(Checker& c, const json& q, const std::string& path, EventFilter& filter) {
  auto f = q.find("filter");
  if (f == q.end()) return;
  const std::string at = path + ".filter";
  if (!f->is_object()) {
    c.fail(at, "must be an object such as {\"type\": \"order.placed\", \"headers\": {\"region\": \"eu\"}}");
    return;
  }
  c.onlyKnown(*f, at, {"type", "headers"});
  if (auto t = f->find("type"); t != f->end()) {
    std::vector<json> types = t->is_array() ? t->get<std::vector<json>>() : std::vector<json>{*t};
    if (types.empty() || types.size() > 64) c.fail(at + ".type", "must name 1 to 64 event types");
    for (const auto& type : types) {
      if (c.failed()) return;
      if (!type.is_string() || type.get<std::string>().empty() || type.get<std::string>().size() > 256) {
        c.fail(at + ".type", "must be an event type (1 to 256 characters) or a list of them");
        return;
      }
      filter.types.push_back(type.get<std::string>());
    }
  }
  if (auto h = f->find("headers"); h != f->end()) {
    if (!h->is_object() || h->size() > 64) {
      c.fail(at + ".headers", "must be an object of at most 64 header names and the values they must have");
      return;
    }
    for (const auto& [name, value] : h->items()) {
      if (name.empty() || name.size() > 256 || !value.is_string() || value.get<std::string>().size() > 4096) {
        c.fail(at + ".headers." + printable(name), "must be a string value (at most 4096 bytes) for a header name");
        return;
      }
      filter.headers.emplace_back(name, value.get<std::string>());
    }
  }
}

// A queue trigger, or (with `filter` set) a topic subscription, which takes the same options
// and a "filter".
void parseQueue(Checker& c, const json& q, const std::string& path, QueueTriggerSpec& queue,
                EventFilter* filter = nullptr) {
  const char* kind = filter != nullptr ? "topic" : "queue";
  if (q.is_string()) {
    queue.queue = q.get<std::string>();
  } else if (q.is_object()) {
    if (filter != nullptr) {
      c.onlyKnown(q, path, {"name", "batch_size", "max_attempts", "backoff", "visibility_timeout", "max_age", "filter"});
      parseFilter(c, q, path, *filter);
    } else {
      c.onlyKnown(q, path, {"name", "batch_size", "max_attempts", "backoff", "visibility_timeout", "max_age"});
    }
    auto name = c.string(q, path, "name");
    if (!name && !c.failed()) {
      c.fail(path, std::string("a ") + kind + " trigger needs a \"name\", e.g. {\"name\": \"" +
                       (filter != nullptr ? "order.placed" : "orders") + "\"}");
    }
    if (name) queue.queue = *name;
    if (auto v = c.count(q, path, "batch_size", 1, 1000)) queue.batch_size = *v;
    if (auto v = c.count(q, path, "max_attempts", 1, 1000)) queue.max_attempts = *v;
    if (auto v = c.duration(q, path, "visibility_timeout", std::chrono::milliseconds(100))) queue.visibility_timeout = *v;
    if (auto v = c.duration(q, path, "max_age", std::chrono::milliseconds(1000))) queue.max_age = *v;
    auto b = q.find("backoff");
    if (b != q.end()) {
      if (!b->is_object()) {
        c.fail(path + ".backoff", "must be an object such as {\"base\": \"1s\", \"cap\": \"5m\"}");
      } else {
        c.onlyKnown(*b, path + ".backoff", {"base", "cap"});
        if (auto v = c.duration(*b, path + ".backoff", "base", std::chrono::milliseconds(1))) queue.backoff_base = *v;
        if (auto v = c.duration(*b, path + ".backoff", "cap", std::chrono::milliseconds(1))) queue.backoff_cap = *v;
        if (!c.failed() && queue.backoff_cap < queue.backoff_base) {
          c.fail(path + ".backoff.cap", "is shorter than backoff.base (" + formatDuration(queue.backoff_base) + ")");
        }
      }
    }
  } else {
    c.fail(path, std::string("must be a ") + kind + " name or an object {\"name\": ..., \"batch_size\": ...}");
    return;
  }
  if (c.failed()) return;
  auto valid = filter != nullptr ? validateTopicName(queue.queue) : validateQueueName(queue.queue);
  if (!valid) c.fail(path + ".name", valid.error().message);
}

// A lease that ends while the function still runs would hand the message to a second
// consumer: the visibility timeout is twice the function's timeout unless set longer.
void checkVisibility(Checker& c, QueueTriggerSpec& q, std::chrono::milliseconds timeout, const std::string& path) {
  if (q.visibility_timeout.count() == 0) {
    q.visibility_timeout = timeout * 2;
  } else if (!c.failed() && q.visibility_timeout <= timeout) {
    c.fail(path + ".visibility_timeout",
           "is " + formatDuration(q.visibility_timeout) + ", not longer than the function's timeout (" +
               formatDuration(timeout) + "); make it longer, e.g. " + formatDuration(timeout * 2));
  }
}

void parsePool(Checker& c, const json& doc, PoolSettings& pool) {
  if (auto v = c.count(doc, "", "min_instances", 0, 1024)) pool.min_instances = *v;
  if (auto v = c.count(doc, "", "max_instances", 1, 1024)) pool.max_instances = *v;
  if (auto v = c.count(doc, "", "concurrency", 1, 1024)) pool.concurrency = *v;
  if (auto v = c.count(doc, "", "pipeline", 1, 64)) pool.pipeline = *v;
  if (auto v = c.count(doc, "", "max_pending", 1, 1'000'000)) pool.max_pending = *v;
  if (auto v = c.count(doc, "", "memory_mb", 16, 1'048'576)) pool.memory_mb = *v;
  if (auto v = c.duration(doc, "", "idle_timeout", std::chrono::milliseconds(10))) pool.idle_timeout = *v;
  if (auto v = c.duration(doc, "", "pending_timeout", std::chrono::milliseconds(1))) pool.pending_timeout = *v;
  if (auto v = c.duration(doc, "", "timeout", std::chrono::milliseconds(1))) pool.timeout = *v;
  if (!c.failed() && pool.min_instances > pool.max_instances) {
    c.fail("min_instances", "is " + std::to_string(pool.min_instances) + ", more than max_instances (" +
                                std::to_string(pool.max_instances) + ")");
  }
  // Each worker is itself up to three processes (see functions/worker/sandbox.h) and one
  // thread per concurrent invocation; an app limit below that would stop its own workers.
  uint32_t workers_need = pool.max_instances * (pool.concurrency + 3);
  if (auto v = c.count(doc, "", "max_processes", 8, 1'000'000)) {
    pool.max_processes = *v;
    if (!c.failed() && *v < workers_need) {
      c.fail("max_processes", "is " + std::to_string(*v) + ", fewer than the app's workers need themselves (" +
                                  std::to_string(workers_need) + ": max_instances × (concurrency + 3))");
    }
  } else if (!c.failed()) {
    pool.max_processes = std::max(pool.max_processes, workers_need);
  }
}

// A top-level list of distinct names, each checked by `validate`; `what` names one item
// ("variable name") and `example` shows one ("API_KEY").
void parseNameList(Checker& c, const json& doc, const char* field, size_t max, std::string_view what,
                   std::string_view example, Result<void> (*validate)(std::string_view),
                   std::vector<std::string>& out) {
  auto it = doc.find(field);
  if (it == doc.end()) return;
  const std::string ex = "\"" + std::string(example) + "\"";
  if (!it->is_array() || it->size() > max) {
    c.fail(field, "must be a list of at most " + std::to_string(max) + " " + std::string(what) + "s, such as [" + ex +
                      "]");
    return;
  }
  for (size_t i = 0; i < it->size() && !c.failed(); ++i) {
    const json& item = (*it)[i];
    std::string path = std::string(field) + "[" + std::to_string(i) + "]";
    if (!item.is_string()) {
      c.fail(path, "must be a string, a " + std::string(what) + " such as " + ex);
    } else if (auto valid = validate(item.get<std::string>()); !valid) {
      c.fail(path, valid.error().message);
    } else if (std::find(out.begin(), out.end(), item.get<std::string>()) != out.end()) {
      c.fail(path, quote(item.get<std::string>()) + " is listed twice");
    } else {
      out.push_back(item.get<std::string>());
    }
  }
}

void parseStorage(Checker& c, const json& doc, StorageBounds& storage) {
  using std::chrono::milliseconds;
  if (auto v = c.count(doc, "", "max_pending_async", 1, 10'000'000)) storage.max_pending_async = *v;
  if (auto v = c.bytes(doc, "", "max_queue_bytes", 1024, 1ull << 40)) storage.max_queue_bytes = *v;
  if (auto v = c.duration(doc, "", "queue_retention", milliseconds(60'000))) storage.queue_retention = *v;
  if (auto v = c.duration(doc, "", "dead_letter_retention", milliseconds(60'000))) storage.dead_letter_retention = *v;
}

// "auth": "public" | "key", on the app or on one function (which then overrides the app's).
std::optional<Auth> parseAuth(Checker& c, const json& obj, const std::string& path) {
  auto auth = c.string(obj, path, "auth");
  if (!auth) return std::nullopt;
  if (*auth == authName(Auth::kPublic)) return Auth::kPublic;
  if (*auth == authName(Auth::kKey)) return Auth::kKey;
  c.fail(Checker::join(path, "auth"), "must be \"public\" (anyone may call; the default) or \"key\" (callers need a "
                                      "function key from `gust keys create`), not \"" + printable(*auth) + "\"");
  return std::nullopt;
}

// "verify": {"scheme": ..., "secret": "env:NAME", "tolerance": "5m"}.
void parseVerify(Checker& c, const json& v, const std::string& path, VerifySpec& verify) {
  if (!v.is_object()) {
    c.fail(path, "must be an object such as {\"scheme\": \"standard-webhooks\", \"secret\": \"env:WEBHOOK_SECRET\"}");
    return;
  }
  c.onlyKnown(v, path, {"scheme", "secret", "tolerance"});
  auto scheme = c.string(v, path, "scheme");
  if (!scheme && !c.failed()) c.fail(path, "needs a \"scheme\": \"standard-webhooks\", \"github\" or \"stripe\"");
  if (c.failed()) return;
  if (auto known = webhookSchemeNamed(*scheme)) {
    verify.scheme = *known;
  } else {
    c.fail(path + ".scheme", quote(*scheme) + " is not a signature scheme; use \"standard-webhooks\", \"github\" or "
                                              "\"stripe\"");
    return;
  }
  constexpr std::string_view kEnvPrefix = "env:";
  auto secret = c.string(v, path, "secret");
  if (!secret && !c.failed()) c.fail(path, "needs a \"secret\": \"env:NAME\", naming the app variable that holds it");
  if (c.failed()) return;
  if (!secret->starts_with(kEnvPrefix)) {
    // Not even a hint of the value: it may be the secret itself.
    c.fail(path + ".secret", "must be \"env:NAME\", naming an app variable set with `gust env set APP NAME=...`; a "
                             "secret is never written in gust.json");
    return;
  }
  verify.secret_env = secret->substr(kEnvPrefix.size());
  if (auto valid = validateEnvKey(verify.secret_env); !valid) {
    c.fail(path + ".secret", valid.error().message);
    return;
  }
  if (v.contains("tolerance") && !webhookSchemeHasTimestamp(verify.scheme)) {
    c.fail(path + ".tolerance", "a " + std::string(webhookSchemeName(verify.scheme)) +
                                    " signature carries no timestamp, so no tolerance applies; remove it");
    return;
  }
  if (auto t = c.duration(v, path, "tolerance", std::chrono::seconds(1))) {
    if (t->count() % 1000 != 0 || *t > kMaxWebhookTolerance) {
      c.fail(path + ".tolerance", "must be whole seconds (a signature's timestamp is in seconds), at most " +
                                      formatDuration(kMaxWebhookTolerance) + ", such as \"5m\"");
      return;
    }
    verify.tolerance = std::chrono::duration_cast<std::chrono::seconds>(*t);
  }
}

constexpr std::string_view kStreamFilters[] = {"subject", "type", "source"};

// "streams": [{"path": "/orders/events", "topic": "order.progress", "auth": "key",
//              "filter": ["subject"], "retain": "1h"}].
void parseStreams(Checker& c, const json& doc, std::vector<StreamSpec>& streams) {
  auto it = doc.find("streams");
  if (it == doc.end()) return;
  if (!it->is_array()) {
    c.fail("streams", "must be a list such as [{\"path\": \"/orders/events\", \"topic\": \"order.progress\"}]");
    return;
  }
  if (it->size() > 256) {
    c.fail("streams", "has more than 256 streams");
    return;
  }
  for (size_t i = 0; i < it->size() && !c.failed(); ++i) {
    const json& s = (*it)[i];
    const std::string path = "streams[" + std::to_string(i) + "]";
    if (!s.is_object()) {
      c.fail(path, "must be an object such as {\"path\": \"/orders/events\", \"topic\": \"order.progress\"}");
      return;
    }
    c.onlyKnown(s, path, {"path", "topic", "auth", "filter", "retain"});
    StreamSpec stream;
    auto p = c.string(s, path, "path");
    if (!p && !c.failed()) c.fail(path, "needs a \"path\" such as \"/orders/events\"");
    auto topic = c.string(s, path, "topic");
    if (!topic && !c.failed()) c.fail(path, "needs the \"topic\" whose events it streams");
    if (c.failed()) return;
    if (p->empty() || (*p)[0] != '/' || p->size() > 1024 || p->find_first_of("{}?#%") != std::string::npos) {
      c.fail(path + ".path", "must be a literal path starting with '/' (no parameters), such as \"/orders/events\"");
      return;
    }
    if (auto valid = validateTopicName(*topic); !valid) {
      c.fail(path + ".topic", valid.error().message);
      return;
    }
    stream.path = *p;
    stream.topic = *topic;
    stream.auth = parseAuth(c, s, path);
    if (auto f = s.find("filter"); f != s.end()) {
      if (!f->is_array()) {
        c.fail(path + ".filter", "must be a list of event attributes: \"subject\", \"type\" or \"source\"");
        return;
      }
      for (const json& name : *f) {
        if (!name.is_string() ||
            std::find(std::begin(kStreamFilters), std::end(kStreamFilters), name.get<std::string>()) ==
                std::end(kStreamFilters)) {
          c.fail(path + ".filter", "names event attributes a client may filter on: \"subject\", \"type\" or "
                                   "\"source\", not " + (name.is_string() ? quote(name.get<std::string>()) : printable(name.dump())));
          return;
        }
        stream.filter.push_back(name.get<std::string>());
      }
    }
    if (auto r = c.duration(s, path, "retain", std::chrono::seconds(1))) {
      if (*r > std::chrono::hours(24 * 7)) {
        c.fail(path + ".retain", "must be at most 168h (7 days): the events are kept in the host's store");
        return;
      }
      stream.retain = *r;
    }
    for (const auto& other : streams) {
      if (other.path == stream.path) {
        c.fail(path + ".path", quote(stream.path) + " is the path of another stream");
        return;
      }
    }
    streams.push_back(std::move(stream));
  }
}

// "graphql": {"path": "/graphql", "schema": "schema.graphql", "auth": "key", "retain": "1h"},
// plus "sdl" (the schema's text) once `gust deploy` has embedded the file.
void parseGraphql(Checker& c, const json& doc, const std::vector<StreamSpec>& streams,
                  std::optional<GraphqlSpec>& graphql) {
  auto it = doc.find("graphql");
  if (it == doc.end()) return;
  if (!it->is_object()) {
    c.fail("graphql", "must be an object such as {\"path\": \"/graphql\", \"schema\": \"schema.graphql\"}");
    return;
  }
  c.onlyKnown(*it, "graphql", {"path", "schema", "sdl", "auth", "retain"});
  GraphqlSpec spec;
  if (auto p = c.string(*it, "graphql", "path")) {
    if (p->empty() || (*p)[0] != '/' || p->size() > 1024 || p->find_first_of("{}?#%") != std::string::npos) {
      c.fail("graphql.path", "must be a literal path starting with '/' (no parameters), such as \"/graphql\"");
      return;
    }
    spec.path = *p;
  }
  if (auto file = c.string(*it, "graphql", "schema")) {
    if (file->empty() || file->front() == '/' || file->find("..") != std::string::npos) {
      c.fail("graphql.schema", "must be a relative path inside the app folder, such as \"schema.graphql\"");
      return;
    }
    spec.schema_file = *file;
  }
  if (auto sdl = c.string(*it, "graphql", "sdl")) spec.sdl = *sdl;
  if (c.failed()) return;
  if (spec.schema_file.empty() && spec.sdl.empty()) {
    c.fail("graphql", "needs the \"schema\" file holding the SDL, such as \"schema.graphql\"");
    return;
  }
  spec.auth = parseAuth(c, *it, "graphql");
  if (auto r = c.duration(*it, "graphql", "retain", std::chrono::seconds(1))) {
    if (*r > std::chrono::hours(24 * 7)) {
      c.fail("graphql.retain", "must be at most 168h (7 days): the events are kept in the host's store");
      return;
    }
    spec.retain = *r;
  }
  for (const auto& stream : streams) {
    if (stream.path == spec.path) {
      c.fail("graphql.path", quote(spec.path) + " is the path of a stream; give the GraphQL endpoint its own");
      return;
    }
  }
  if (!spec.sdl.empty()) {
    auto built = buildGraphqlSchema(spec);
    if (!built) {
      c.fail("graphql", (spec.schema_file.empty() ? "sdl" : spec.schema_file) + ": " + built.error().message);
      return;
    }
  }
  graphql = std::move(spec);
}

}  // namespace

Result<void> buildGraphqlSchema(GraphqlSpec& spec) {
  auto schema = graphql::Schema::fromSdl(spec.sdl);
  if (!schema) return schema.error();
  auto shared = std::make_shared<const graphql::Schema>(std::move(*schema));
  auto bindings = graphql::topicBindings(*shared);
  if (!bindings) return bindings.error();
  spec.schema = std::move(shared);
  spec.bindings = std::move(*bindings);
  return {};
}

std::vector<std::string> Manifest::requiredEnv() const {
  std::vector<std::string> names = required_env;
  for (const auto& f : functions) {
    if (f.verify && std::find(names.begin(), names.end(), f.verify->secret_env) == names.end()) {
      names.push_back(f.verify->secret_env);
    }
  }
  return names;
}

bool Manifest::mayPublishTo(std::string_view name) const {
  if (std::find(publishes.begin(), publishes.end(), name) != publishes.end()) return true;
  if (std::find(topics.begin(), topics.end(), name) != topics.end()) return true;
  return std::any_of(functions.begin(), functions.end(), [name](const FunctionSpec& f) {
    return (f.queue && f.queue->queue == name) || (f.topic && f.topic->topic == name);
  });
}

const char* authName(Auth auth) { return auth == Auth::kKey ? "key" : "public"; }

Result<Manifest> parseManifest(std::string_view text, std::string_view source, const PoolSettings& pool_defaults) {
  if (text.size() > kMaxManifestBytes) {
    return makeError(ErrorKind::kBadInput, std::string(source) + ": larger than " +
                                               std::to_string(kMaxManifestBytes) + " bytes");
  }
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Re-parse with a SAX handler only to learn where the syntax error is.
    struct Where : nlohmann::json_sax<json> {
      size_t position = 0;
      std::string message;
      bool null() override { return true; }
      bool boolean(bool) override { return true; }
      bool number_integer(number_integer_t) override { return true; }
      bool number_unsigned(number_unsigned_t) override { return true; }
      bool number_float(number_float_t, const string_t&) override { return true; }
      bool string(string_t&) override { return true; }
      bool binary(binary_t&) override { return true; }
      bool start_object(std::size_t) override { return true; }
      bool key(string_t&) override { return true; }
      bool end_object() override { return true; }
      bool start_array(std::size_t) override { return true; }
      bool end_array() override { return true; }
      bool parse_error(std::size_t pos, const std::string&, const nlohmann::detail::exception& ex) override {
        position = pos;
        message = ex.what();
        return false;
      }
    } where;
    json::sax_parse(text, &where, nlohmann::detail::input_format_t::json, /*strict=*/true, /*ignore_comments=*/false);
    size_t line = 1, column = 1;
    for (size_t i = 0; i + 1 < where.position && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return makeError(ErrorKind::kBadInput, std::string(source) + ":" + std::to_string(line) + ":" +
                                               std::to_string(column) + ": not valid JSON");
  }
  Checker c(source);
  if (!doc.is_object()) return makeError(ErrorKind::kBadInput, std::string(source) + ": must be a JSON object");

  Manifest m;
  m.pool = pool_defaults;
  c.onlyKnown(doc, "",
              {"name", "module", "isolation", "functions", "min_instances", "max_instances", "concurrency", "pipeline",
               "idle_timeout", "max_pending", "pending_timeout", "timeout", "memory_mb", "required_env", "max_processes",
               "max_pending_async", "max_queue_bytes", "queue_retention", "dead_letter_retention", "publishes", "topics",
               "auth", "streams", "graphql"});
  if (auto name = c.string(doc, "", "name")) {
    if (auto valid = validateAppName(*name); !valid) c.fail("name", valid.error().message);
    m.name = *name;
  } else if (!c.failed()) {
    c.fail("name", "is missing; give the app a name such as \"hello\"");
  }
  if (auto module = c.string(doc, "", "module")) {
    if (module->empty() || module->front() == '/' || module->find("..") != std::string::npos) {
      c.fail("module", "must be a relative path inside the app folder, such as \"build/hello.so\"");
    }
    m.module = *module;
  } else {
    m.module = "build/" + m.name + ".so";
  }
  if (auto iso = c.string(doc, "", "isolation")) {
    if (*iso == "process") m.isolation = Isolation::kProcess;
    else if (*iso == "thread") m.isolation = Isolation::kThread;
    else c.fail("isolation", "must be \"process\" (the default) or \"thread\", not \"" + *iso + "\"");
  }
  if (auto auth = parseAuth(c, doc, "")) m.auth = *auth;
  parsePool(c, doc, m.pool);
  // "required_env": names an app may set (see validateEnvKey); "publishes": queues.
  parseNameList(c, doc, "required_env", kMaxEnvVars, "variable name", "API_KEY", validateEnvKey, m.required_env);
  parseStorage(c, doc, m.storage);
  parseNameList(c, doc, "publishes", 1024, "queue name", "orders", validateQueueName, m.publishes);
  parseNameList(c, doc, "topics", 1024, "topic name", "order.placed", validateTopicName, m.topics);
  parseStreams(c, doc, m.streams);
  parseGraphql(c, doc, m.streams, m.graphql);

  auto fns = doc.find("functions");
  if (fns == doc.end()) {
    c.fail("functions", "is missing; list the app's functions, e.g. {\"hello\": {\"routes\": [\"/hello\"]}}");
  } else if (!fns->is_object() || fns->empty()) {
    c.fail("functions", "must be a non-empty object mapping each function's name to its triggers");
  } else if (fns->size() > 1024) {
    c.fail("functions", "has more than 1024 functions");
  } else {
    for (const auto& [fname, fdef] : fns->items()) {
      std::string path = "functions." + fname;
      if (auto valid = validateFunctionName(fname); !valid) {
        c.fail("functions." + printable(fname), valid.error().message);
        break;
      }
      if (!fdef.is_object()) {
        c.fail(path, "must be an object such as {\"routes\": [\"/" + fname + "\"]}");
        break;
      }
      c.onlyKnown(fdef, path, {"routes", "timer", "queue", "topic", "timeout", "auth", "verify", "websocket"});
      FunctionSpec f;
      f.name = fname;
      auto routes = fdef.find("routes");
      if (routes != fdef.end()) {
        if (!routes->is_array()) {
          c.fail(path + ".routes", "must be a list of routes");
        } else if (routes->size() > 256) {
          c.fail(path + ".routes", "has more than 256 routes");
        } else {
          for (size_t i = 0; i < routes->size() && !c.failed(); ++i) {
            RouteSpec route;
            parseRoute(c, (*routes)[i], path + ".routes[" + std::to_string(i) + "]", route);
            f.routes.push_back(std::move(route));
          }
        }
      }
      auto timer = fdef.find("timer");
      if (timer != fdef.end()) {
        TimerTriggerSpec t;
        parseTimer(c, *timer, path + ".timer", t);
        checkSchedule(c, t, path + ".timer");
        f.timer = std::move(t);
      }
      if (auto t = c.duration(fdef, path, "timeout", std::chrono::milliseconds(1))) f.timeout = *t;
      f.auth = parseAuth(c, fdef, path);
      auto queue = fdef.find("queue");
      if (queue != fdef.end() && !c.failed()) {
        QueueTriggerSpec q;
        parseQueue(c, *queue, path + ".queue", q);
        checkVisibility(c, q, m.timeoutOf(f), path + ".queue");
        for (const auto& other : m.functions) {
          if (!c.failed() && other.queue && other.queue->queue == q.queue) {
            c.fail(path + ".queue", "queue \"" + q.queue + "\" is already consumed by function " + other.name);
          }
        }
        f.queue = std::move(q);
      }
      auto topic = fdef.find("topic");
      if (topic != fdef.end() && !c.failed()) {
        if (f.queue) {
          c.fail(path + ".topic", "a function consumes one queue or one topic, not both; give the topic its own "
                                  "function");
        }
        TopicTriggerSpec t;
        parseQueue(c, *topic, path + ".topic", t.delivery, &t.filter);
        if (!c.failed()) checkVisibility(c, t.delivery, m.timeoutOf(f), path + ".topic");
        t.topic = t.delivery.queue;
        t.delivery.queue = subscriptionQueue(t.topic, functionSubscriber(m.name, f.name));
        f.topic = std::move(t);
      }
      if (!c.failed() && f.routes.empty() && !f.timer && !f.queue && !f.topic) {
        c.fail(path, "has no trigger; add \"routes\", a \"timer\", a \"queue\" or a \"topic\"");
      }
      if (auto verify = fdef.find("verify"); verify != fdef.end() && !c.failed()) {
        VerifySpec v;
        parseVerify(c, *verify, path + ".verify", v);
        if (!c.failed() && f.routes.empty()) {
          c.fail(path + ".verify", "checks the signature of HTTP requests, and function " + fname +
                                       " has no routes; add its \"routes\" or remove \"verify\"");
        }
        f.verify = std::move(v);
      }
      if (auto websocket = fdef.find("websocket"); websocket != fdef.end() && !c.failed()) {
        parseWebSocket(c, *websocket, path, f);
      }
      if (c.failed()) break;
      m.functions.push_back(std::move(f));
    }
  }
  if (c.failed()) return c.error();
  return m;
}

Result<Manifest> loadManifest(const std::filesystem::path& app_dir, const PoolSettings& pool_defaults) {
  std::filesystem::path file = app_dir / "gust.json";
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return makeError(ErrorKind::kNotFound, file.string() + ": cannot read the manifest (is " + app_dir.string() +
                                               " an app folder with a gust.json?)");
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxManifestBytes) break;
  }
  auto manifest = parseManifest(text, file.string(), pool_defaults);
  if (!manifest || !manifest->graphql || !manifest->graphql->sdl.empty()) return manifest;
  // The schema is a file beside the manifest: read and build it here.
  GraphqlSpec& spec = *manifest->graphql;
  const std::filesystem::path schema_path = app_dir / spec.schema_file;
  std::ifstream schema_in(schema_path, std::ios::binary);
  if (!schema_in) {
    return makeError(ErrorKind::kNotFound, file.string() + ": graphql.schema: cannot read " + schema_path.string() +
                                               "; put the schema's SDL there or correct the path");
  }
  std::ostringstream sdl;
  sdl << schema_in.rdbuf();
  spec.sdl = sdl.str();
  if (spec.sdl.empty()) {
    return makeError(ErrorKind::kBadInput, schema_path.string() + ": is empty; write the schema's SDL there");
  }
  if (auto built = buildGraphqlSchema(spec); !built) {
    return makeError(ErrorKind::kBadInput, schema_path.string() + ": " + built.error().message);
  }
  return manifest;
}

}  // namespace gust
