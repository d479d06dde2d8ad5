#include "runtime/cli/app_templates.h"

#include <fstream>

#include "functions/manifest.h"
#include "runtime/base/suggest.h"

namespace gust::cli {
namespace fs = std::filesystem;

namespace {

// Each template's text uses {{name}} for the app name and {{queue}} for its queue. Route
// paths start with the app's name, so several apps share one host without clashing.

constexpr const char* kGitignore = "build/\n.gust/\n";

constexpr const char* kHttpManifest = R"TPL({
  "name": "{{name}}",
  "auth": "public",
  "functions": {
    "hello": {
      "routes": [{ "path": "/{{name}}/hello/{who}", "methods": ["GET"] }]
    }
  }
}
)TPL";

constexpr const char* kHttpSource = R"TPL(// {{name}}: an HTTP function. A path parameter comes in, a line of text goes out.
//
//   gust dev                                  build, serve, and reload on every save
//   curl localhost:8080/{{name}}/hello/world
#include <gust/gust.hpp>

gust::Response hello(const gust::Request& req, gust::Context& ctx) {
  std::string who(req.param("who"));
  ctx.log("greeting " + who);
  return gust::Response::text("hello, " + who + "\n");
}
GUST_FUNCTION(hello)
)TPL";

constexpr const char* kTimerManifest = R"TPL({
  "name": "{{name}}",
  "auth": "public",
  "functions": {
    "tick": {
      "timer": { "schedule": "@every 1m", "run_on_startup": true }
    }
  }
}
)TPL";

constexpr const char* kTimerSource = R"TPL(// {{name}}: a timer function. It runs every minute (and once when the host starts); the
// event says when it was scheduled, when it ran, and when it runs next.
//
//   gust cron next "@every 1m"                when it fires
//   gust invoke --timer {{name}}/tick         run it now
//   gust logs {{name}} --follow               watch it run
#include <gust/json.hpp>

gust::Response tick(const gust::Request& req, gust::Context& ctx) {
  nlohmann::json event = req.json();
  if (event.is_discarded()) return gust::Response::text("not a timer event\n", 400);
  ctx.log("tick: scheduled " + event.value("scheduled", "?") + ", next " + event.value("next", "?") +
          (event.value("past_due", false) ? " (past due: the host was down when it should have run)" : ""));
  return gust::Response::empty();
}
GUST_FUNCTION(tick)
)TPL";

constexpr const char* kQueueManifest = R"TPL({
  "name": "{{name}}",
  "auth": "public",
  "functions": {
    "submit": {
      "routes": [{ "path": "/{{name}}/jobs", "methods": ["POST"] }]
    },
    "work": {
      "queue": { "name": "{{queue}}", "batch_size": 10, "max_attempts": 5 }
    }
  }
}
)TPL";

constexpr const char* kQueueSource = R"TPL(// {{name}}: a queue. POST /{{name}}/jobs puts a JSON job on the queue {{queue}} and answers
// at once; `work` takes jobs off it in batches and settles each one on its own.
//
//   curl -X POST localhost:8080/{{name}}/jobs -d '{"task": "resize", "id": 42}'
//   gust queue ls                             depth, in flight, dead letters
//   gust logs {{name}} --follow               watch the jobs run
#include <gust/json.hpp>

gust::Response submit(const gust::Request& req, gust::Context& ctx) {
  nlohmann::json job = req.json();
  if (job.is_discarded() || !job.is_object()) {
    return gust::Response::json({{"error", "send the job as a JSON object"}}, 400);
  }
  // Published only if this invocation succeeds, together with its answer.
  gust::Status sent = ctx.publish("{{queue}}", req.body());
  if (!sent) return gust::Response::json({{"error", sent.message()}}, 503);
  return gust::Response::json({{"queued", true}, {"invocation", ctx.invocationId()}}, 202);
}
GUST_FUNCTION(submit)

void work(const gust::Batch& batch, gust::Context& ctx) {
  for (gust::Message msg : batch) {
    nlohmann::json job = msg.json();
    if (job.is_discarded()) {
      // Retrying cannot fix it: park it in {{queue}}.dead for a human to look at.
      msg.deadLetter("the job is not JSON");
      continue;
    }
    ctx.log("job " + std::string(msg.id()) + " (attempt " + std::to_string(msg.attempt()) + "): " + job.dump());
    // Done with this one; a throw before this line would deliver it again, with backoff.
    msg.ack();
  }
}
GUST_QUEUE_FUNCTION(work)
)TPL";

constexpr const char* kReadmeStart = R"TPL(# {{name}}

A Gust function project, made with `gust init --template {{template}}`.

    gust dev                 build, serve on http://127.0.0.1:8080, reload on every save
    gust build               compile into build/{{name}}.so
    gust deploy              build and deploy to the running host (`gust serve`)
    gust logs {{name}} -f    follow its logs

`gust.json` names the app's functions and what triggers them; `main.cpp` holds their code,
written against the Gust SDK (`#include <gust/gust.hpp>`, or `<gust/json.hpp>` for its JSON
helpers).

`"auth": "public"` lets anyone who reaches the host call its routes. Before putting it on
a network, make it `"auth": "key"` (for the app, or for one function), create a key with
`gust keys create {{name}}`, and send it as `Authorization: Bearer KEY`.
)TPL";

constexpr const char* kReadmeHttp = R"TPL(
Try it: `curl localhost:8080/{{name}}/hello/world`.
)TPL";
constexpr const char* kReadmeTimer = R"TPL(
`tick` runs every minute; run it now with `gust invoke --timer {{name}}/tick`.
)TPL";
constexpr const char* kReadmeQueue = R"TPL(
Queue a job with `curl -X POST localhost:8080/{{name}}/jobs -d '{"id": 1}'`, then watch
`gust queue ls` and `gust logs {{name}}`. Jobs that are not JSON go to `{{queue}}.dead`;
`gust queue redrive {{queue}}.dead` sends them back.
)TPL";

std::string render(std::string_view text, std::string_view name, std::string_view kind) {
  std::string out(text);
  std::string queue = std::string(name) + "-jobs";
  for (auto [key, value] : {std::pair<std::string_view, std::string_view>{"{{name}}", name},
                            {"{{queue}}", queue},
                            {"{{template}}", kind}}) {
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + value.size())) {
      out.replace(at, key.size(), value);
    }
  }
  return out;
}

}  // namespace

const std::vector<std::string>& templateNames() {
  static const std::vector<std::string> names = {"http", "timer", "queue"};
  return names;
}

Result<std::vector<ProjectFile>> renderTemplate(std::string_view kind, std::string_view name) {
  if (auto valid = validateAppName(name); !valid) return valid.error();
  const char* manifest = nullptr;
  const char* source = nullptr;
  const char* readme_end = nullptr;
  if (kind == "http") {
    manifest = kHttpManifest, source = kHttpSource, readme_end = kReadmeHttp;
  } else if (kind == "timer") {
    manifest = kTimerManifest, source = kTimerSource, readme_end = kReadmeTimer;
  } else if (kind == "queue") {
    manifest = kQueueManifest, source = kQueueSource, readme_end = kReadmeQueue;
  } else {
    std::string message = "there is no template \"" + std::string(kind.substr(0, 64)) + "\"";
    if (auto close = closestMatch(kind, templateNames())) message += " (did you mean \"" + *close + "\"?)";
    return makeError(ErrorKind::kBadInput, message + "; the templates are http, timer and queue");
  }
  return std::vector<ProjectFile>{
      {"gust.json", render(manifest, name, kind)},
      {"main.cpp", render(source, name, kind)},
      {".gitignore", kGitignore},
      {"README.md", render(std::string(kReadmeStart) + readme_end, name, kind)},
  };
}

Result<void> writeProject(const fs::path& dir, const std::vector<ProjectFile>& files) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) {
      return makeError(ErrorKind::kBadInput, dir.string() + " exists and is not a folder; choose another with --dir");
    }
    if (!fs::is_empty(dir, ec)) {
      return makeError(ErrorKind::kBadInput, dir.string() + " exists and is not empty; init writes only into a new or "
                                                            "empty folder (choose another with --dir)");
    }
  }
  fs::create_directories(dir, ec);
  if (ec) return makeError(ErrorKind::kIo, "cannot create " + dir.string() + ": " + ec.message());
  for (const auto& f : files) {
    fs::path path = dir / f.path;
    fs::create_directories(path.parent_path(), ec);
    std::ofstream out(path, std::ios::binary);
    out << f.text;
    out.close();
    if (!out) return makeError(ErrorKind::kIo, "cannot write " + path.string());
  }
  return {};
}

}  // namespace gust::cli
