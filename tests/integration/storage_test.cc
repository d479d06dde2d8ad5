// Bounded storage end to end (docs/security.md "Bounds"): a real host whose data dir is a
// 16 MiB tmpfs filled to the last page, the per-app bound on pending async invocations,
// the per-queue byte bound, and the manifest's "publishes" list, over real sockets.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <httplib.h>
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "tests/integration/harness.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

const char* kManifest = R"({
  "name": "fixtures",
  "timeout": "30s",
  "max_pending_async": 2,
  "functions": {
    "echo":   { "routes": [{ "path": "/echo/{id}", "methods": ["GET", "POST"] }] },
    "sleepy": { "routes": [{ "path": "/sleep/{ms}", "methods": ["POST"] }] },
    "relay":  { "routes": [{ "path": "/relay", "methods": ["POST"] }] }
  }
})";

std::string header(const httplib::Result& r, const char* name) { return r->get_header_value(name); }

// A tmpfs of `size` mounted on `dir` for the test's life. Needs root (CAP_SYS_ADMIN).
class SmallDisk {
 public:
  SmallDisk(const fs::path& dir, const std::string& size) : dir_(dir) {
    fs::create_directories(dir);
    std::string options = "size=" + size + ",mode=0700";
    mounted_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~SmallDisk() {
    if (mounted_ && ::umount2(dir_.c_str(), MNT_DETACH) != 0) {
      MESSAGE("cannot unmount " << dir_ << ": " << std::strerror(errno));
    }
  }
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

  // Writes `file` until the filesystem has no page left; answers the bytes written.
  static size_t fill(const fs::path& file) {
    int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    REQUIRE(fd >= 0);
    std::string chunk(64 * 1024, 'f');
    size_t written = 0;
    for (size_t size : {chunk.size(), size_t{4096}, size_t{1}}) {
      while (true) {
        ssize_t n = ::write(fd, chunk.data(), size);
        if (n <= 0) break;
        written += static_cast<size_t>(n);
      }
    }
    ::close(fd);
    return written;
  }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

httplib::Headers adminAuth(const Host& host) { return {{"Authorization", "Bearer " + host.adminToken()}}; }

}  // namespace

TEST_CASE("a full disk: 507 with Retry-After, reads go on, and writes succeed again once space is freed") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "fixtures", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  SmallDisk disk(tmp.path() / "data", "16m");
  if (!disk.mounted()) {
    // Only root may mount; CI and the developers' machines run as root.
    FAIL("cannot mount a 16 MiB tmpfs for the data dir (" << disk.error() << "); run the test as root");
  }
  Host host({app}, tmp.path());
  auto client = localClient(host.port());
  auto admin = host.adminClient();

  auto first = client.Post("/echo/one", {{"Prefer", "respond-async"}}, "before", "text/plain");
  REQUIRE(first);
  REQUIRE(first->status == 202);
  const std::string location = first->get_header_value("Location");

  const fs::path filler = host.dataDir() / "filler";
  CHECK(SmallDisk::fill(filler) > 0);
  // Past what the WAL already holds: the write needs pages the disk no longer has.
  const std::string big(1 << 20, 'b');
  auto refused = client.Post("/echo/two", {{"Prefer", "respond-async"}}, big, "text/plain");
  REQUIRE(refused);
  CHECK(refused->status == 507);
  CHECK(header(refused, "Retry-After") == "1");
  CHECK(refused->body.find("storage is full") != std::string::npos);
  // The folder is the operator's business, not a stranger's.
  CHECK(refused->body.find(host.dataDir().string()) == std::string::npos);

  // The admin API says what to do, and where.
  auto sent = admin.Post("/v1/queues/jobs/messages", adminAuth(host), big, "application/octet-stream");
  REQUIRE(sent);
  CHECK(sent->status == 507);
  CHECK(sent->get_header_value("Retry-After") == "1");
  CHECK(sent->body.find("disk is full; free space on " + host.dataDir().string()) != std::string::npos);

  // Reads keep working.
  auto status = client.Get(location);
  REQUIRE(status);
  CHECK(status->status == 200);
  auto queues = admin.Get("/v1/queues", adminAuth(host));
  REQUIRE(queues);
  CHECK(queues->status == 200);

  // Space freed: the same host takes writes again, without a restart.
  fs::remove(filler);
  auto accepted = client.Post("/echo/three", {{"Prefer", "respond-async"}}, big, "text/plain");
  REQUIRE(accepted);
  CHECK(accepted->status == 202);
  auto resent = admin.Post("/v1/queues/jobs/messages", adminAuth(host), big, "application/octet-stream");
  REQUIRE(resent);
  CHECK(resent->status == 201);
  CHECK(host.process().running());
  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
}

TEST_CASE("an app at its max_pending_async gets 429 with Retry-After; what it accepted runs, and room comes back") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "fixtures", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  auto client = localClient(host.port());
  std::vector<std::string> locations;
  for (int i = 0; i < 2; ++i) {
    auto r = client.Post("/sleep/3000", {{"Prefer", "respond-async"}}, "", "text/plain");
    REQUIRE(r);
    REQUIRE(r->status == 202);
    locations.push_back(r->get_header_value("Location"));
  }
  auto refused = client.Post("/sleep/1", {{"Prefer", "respond-async"}}, "", "text/plain");
  REQUIRE(refused);
  CHECK(refused->status == 429);
  CHECK(header(refused, "Retry-After") == "1");
  CHECK(refused->get_header_value("Content-Type") == "application/problem+json");
  CHECK(refused->body.find("max_pending_async 2") != std::string::npos);
  // Synchronous calls are not bounded by it.
  auto sync = client.Post("/echo/now", "x", "text/plain");
  REQUIRE(sync);
  CHECK(sync->status == 200);

  for (const auto& location : locations) {
    waitFor(
        "the invocation at " + location + " to finish",
        [&] {
          auto r = client.Get(location);
          return r && r->status == 200 && json::parse(r->body)["status"] == "succeeded";
        },
        30s, host);
  }
  auto again = client.Post("/sleep/1", {{"Prefer", "respond-async"}}, "", "text/plain");
  REQUIRE(again);
  CHECK(again->status == 202);
}

TEST_CASE("a queue at its max_queue_bytes refuses sends with 429 and keeps every message it accepted") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "fixtures", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--max-queue-bytes", "4096"});
  auto admin = host.adminClient();
  const std::string body(1000, 'q');
  std::vector<std::string> accepted;
  std::optional<httplib::Result> refused;
  for (int i = 0; i < 10 && !refused; ++i) {
    std::string id = "m" + std::to_string(i);
    httplib::Headers headers = adminAuth(host);
    headers.emplace("Gust-Message-Id", id);
    auto r = admin.Post("/v1/queues/parked/messages", headers, body, "application/octet-stream");
    REQUIRE(r);
    if (r->status == 201) {
      accepted.push_back(id);
    } else {
      refused.emplace(std::move(r));
    }
  }
  REQUIRE(refused);
  CHECK((*refused)->status == 429);
  CHECK((*refused)->get_header_value("Retry-After") == "1");
  CHECK((*refused)->body.find("max_queue_bytes") != std::string::npos);
  CHECK(accepted.size() == 4);  // 4 x (1000 bytes + 4 of empty headers) fit in 4096

  auto peeked = admin.Get("/v1/queues/parked/messages", adminAuth(host));
  REQUIRE(peeked);
  REQUIRE(peeked->status == 200);
  std::vector<std::string> held;
  const json listed = json::parse(peeked->body);
  for (const auto& m : listed["messages"]) held.push_back(m["id"]);
  CHECK(held == accepted);

  auto purged = admin.Delete("/v1/queues/parked/messages", adminAuth(host));
  REQUIRE(purged);
  CHECK(purged->status == 200);
  auto room = admin.Post("/v1/queues/parked/messages", adminAuth(host), body, "application/octet-stream");
  REQUIRE(room);
  CHECK(room->status == 201);
}

TEST_CASE("a function may publish only to queues its app declares or consumes; anything else fails its invocation") {
  TempDir tmp;
  // The fixture's relay publishes to "relayed", which this app neither lists nor consumes.
  fs::path app = makeApp(tmp.path(), "fixtures", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--expose-errors"});
  auto client = localClient(host.port());
  auto r = client.Post("/relay", "payload", "text/plain");
  REQUIRE(r);
  CHECK(r->status == 500);
  CHECK(r->body.find("published to \\\"relayed\\\"") != std::string::npos);
  CHECK(r->body.find("publishes") != std::string::npos);
  auto admin = host.adminClient();
  auto peeked = admin.Get("/v1/queues/relayed/messages", adminAuth(host));
  REQUIRE(peeked);
  REQUIRE(peeked->status == 200);
  CHECK(json::parse(peeked->body)["messages"].empty());
}
