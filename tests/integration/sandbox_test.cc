// What a worker can see and do from inside its sandbox (functions/worker/sandbox.h): its
// own filesystem view, PID namespace, identity and seccomp filter, with the host running as
// root and as an unprivileged user. The fixture's `peek` function reports it.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

const char* kPeekManifest = R"({"name": "NAME", "functions": {"peek": {"routes": ["/NAME/peek"]}}})";

fs::path makePeekApp(const fs::path& root, const std::string& name) {
  std::string manifest = kPeekManifest;
  for (size_t at; (at = manifest.find("NAME")) != std::string::npos;) manifest.replace(at, 4, name);
  return makeApp(root, name, manifest, env("GUST_FIXTURE_MISBEHAVE"));
}

// The fixture's "key=value" lines.
std::map<std::string, std::string> peek(int port, const std::string& app, const std::string& path) {
  auto r = localClient(port).Get("/" + app + "/peek?path=" + path);
  REQUIRE(r);
  REQUIRE_MESSAGE(r->status == 200, r->body);
  std::map<std::string, std::string> seen;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) seen[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return seen;
}

// What every worker sees, whoever runs the host: only the system, its app and its own
// processes; and what it cannot do.
void checkView(const std::map<std::string, std::string>& seen, uint64_t tmp_bytes) {
  const std::set<std::string> allowed = {"app", "bin", "dev", "etc", "lib", "lib32", "lib64",
                                         "libx32", "proc", "sbin", "tmp", "usr"};
  std::istringstream root(seen.at("root"));
  for (std::string entry; std::getline(root, entry, ',');) CHECK_MESSAGE(allowed.count(entry) == 1, entry);
  CHECK(seen.at("pids") == "1,2");  // its init and itself: no host process has an entry
  CHECK(seen.at("exists") == "no");
  CHECK(seen.at("cwd") == "/app");
  CHECK(seen.at("tmp_tmpfs") == "yes");
  CHECK(seen.at("tmp_bytes") == std::to_string(tmp_bytes));
  CHECK(seen.at("tmp_write") == "ok");
  CHECK(seen.at("app_write") == "EROFS");
  CHECK(seen.at("caps") == "0000000000000000");
  CHECK(seen.at("mount") == "EPERM");
  CHECK(seen.at("unshare") == "EPERM");
  CHECK(seen.at("personality") == "EPERM");
  // A sanitized worker keeps ptrace for LeakSanitizer (see syscall_filter.h).
  if (std::getenv("GUST_SANITIZED") == nullptr) CHECK(seen.at("ptrace") == "EPERM");
  CHECK(seen.at("thread") == "yes");
}

void chownTree(const fs::path& root, uid_t uid, gid_t gid) {
  REQUIRE(::chown(root.c_str(), uid, gid) == 0);
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    REQUIRE(::lchown(entry.path().c_str(), uid, gid) == 0);
  }
}

int portAfter(Process& host, const std::string& what) {
  std::string line = host.waitForLine(what);
  size_t at = line.find("http://");
  REQUIRE(at != std::string::npos);
  return std::stoi(line.substr(line.find(':', at + 7) + 1));
}

}  // namespace

TEST_CASE("on a root host each app's worker sees only its own view, under its own uid") {
  if (geteuid() != 0) return;  // the unprivileged case below covers any other host
  TempDir tmp;
  fs::path one = makePeekApp(tmp.path(), "one");
  fs::path two = makePeekApp(tmp.path(), "two");
  Host host({one, two}, tmp.path(), {"--worker-tmp-mb", "16"});
  auto seen = peek(host.port(), "one", host.dataDir().string());
  checkView(seen, 16ull << 20);
  // Neither the host's data nor the other app is there.
  CHECK(peek(host.port(), "one", two.string()).at("exists") == "no");
  CHECK(peek(host.port(), "one", "/app/gust.json").at("exists") == "yes");
  auto other = peek(host.port(), "two", one.string());
  CHECK(other.at("exists") == "no");
  // Each app has its own uid from the default range.
  uint32_t uid_one = static_cast<uint32_t>(std::stoul(seen.at("uid")));
  uint32_t uid_two = static_cast<uint32_t>(std::stoul(other.at("uid")));
  CHECK(uid_one >= 200000);
  CHECK(uid_one <= 265535);
  CHECK(uid_two >= 200000);
  CHECK(uid_two <= 265535);
  CHECK(uid_one != uid_two);
}

TEST_CASE("on an unprivileged host a worker gets the same view through a user namespace") {
  if (geteuid() != 0) return;  // it needs root to become the unprivileged user
  const uid_t kNobody = 65534;
  TempDir tmp;
  fs::path app = makePeekApp(tmp.path(), "solo");
  // The user cannot read the build folder: it gets its own copy of the binary.
  fs::copy_file(env("GUST_BIN"), tmp.path() / "gust");
  chownTree(tmp.path(), kNobody, kNobody);
  fs::path data = tmp.path() / "data";
  Process host({"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", (tmp.path() / "gust").string(),
                "serve", "--port", "0", "--data-dir", data.string(), app.string()},
               tmp.path() / "host.stderr");
  int port = portAfter(host, "listening on http://");
  auto seen = peek(port, "solo", data.string());
  checkView(seen, 64ull << 20);
  CHECK(seen.at("uid") == "65534");  // the host's own uid, mapped to itself
  CHECK(peek(port, "solo", (tmp.path() / "gust").string()).at("exists") == "no");
}
