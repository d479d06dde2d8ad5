// The CLI finds a running host from any folder through the record the host writes in the
// user's records folder (runtime/host/host_record.h): real hosts, the real binary, and
// XDG_RUNTIME_DIR pointed at a temp dir so that the records are this test's own.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

constexpr const char* kManifest = R"({"name": "shop", "functions": {"echo": {"routes": ["/echo"]}}})";

// XDG_RUNTIME_DIR for this process, so for the hosts and commands it starts, for one test.
class RecordsIn {
 public:
  explicit RecordsIn(const fs::path& runtime_dir) : dir_(runtime_dir / "gust") {
    if (const char* before = std::getenv("XDG_RUNTIME_DIR")) before_ = before;
    fs::create_directories(runtime_dir);
    ::setenv("XDG_RUNTIME_DIR", runtime_dir.c_str(), 1);
  }
  ~RecordsIn() {
    if (before_) ::setenv("XDG_RUNTIME_DIR", before_->c_str(), 1);
    else ::unsetenv("XDG_RUNTIME_DIR");
  }
  const fs::path& dir() const { return dir_; }

  std::vector<fs::path> files() const {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir_, ec)) out.push_back(e.path());
    return out;
  }

 private:
  fs::path dir_;
  std::optional<std::string> before_;
};

// A host whose data dir is ROOT/NAME/data, serving a placeholder app under /fx.
struct NamedHost {
  NamedHost(const fs::path& root, const std::string& name, std::vector<std::string> extra = {})
      : placeholder(makeApp(root / name, "fixtures", R"({"name": "fixtures", "functions": {"echo": {"routes": ["/fx"]}}})",
                            env("GUST_FIXTURE_MISBEHAVE"))),
        host({placeholder}, root / name, std::move(extra)) {}
  fs::path placeholder;
  Host host;
};

// `gust ARGS...` run in `dir` (runGust runs it in the test's own folder).
CommandResult gustIn(const fs::path& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", dir.string(), env("GUST_BIN")};
  argv.insert(argv.end(), args.begin(), args.end());
  return Process(argv, dir / "cmd.stderr").finish(std::chrono::seconds(120));
}

// An app folder `gust deploy` takes as built: a source, and the fixture module newer than it.
fs::path builtApp(const fs::path& root) {
  writeFile(root / "shop" / "shop.cc", "// built already: build/shop.so is newer\n");
  fs::path dir = makeApp(root, "shop", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  fs::last_write_time(dir / "build" / "shop.so", fs::file_time_type::clock::now() + std::chrono::hours(1));
  return dir;
}

}  // namespace

TEST_CASE("a host records where its admin API is, 0600 in a 0700 folder, with no token, and removes it on exit") {
  TempDir tmp;
  RecordsIn records(tmp.path() / "xdg");
  {
    NamedHost a(tmp.path(), "a", {"--admin-listen", "127.0.0.1:0"});
    auto files = records.files();
    REQUIRE(files.size() == 1);
    struct stat st {};
    REQUIRE(::stat(records.dir().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(files[0].c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    auto record = nlohmann::json::parse(readFile(files[0]));
    CHECK(record["pid"] == a.host.process().pid());
    CHECK(record["admin_socket"] == a.host.adminSocket().string());
    CHECK(record["data_dir"] == fs::absolute(a.host.dataDir()).string());
    CHECK(record["admin_url"] == "http://127.0.0.1:" + std::to_string(a.host.adminTcpPort()));
    CHECK(readFile(files[0]).find(a.host.adminToken()) == std::string::npos);
    a.host.process().signal(SIGTERM);
    CHECK(a.host.process().wait().status == 0);
  }
  CHECK(records.files().empty());
}

TEST_CASE("ls, deploy and logs find the only host from another folder without flags; --admin still wins") {
  TempDir tmp, elsewhere;
  RecordsIn records(tmp.path() / "xdg");
  NamedHost a(tmp.path(), "a");
  builtApp(elsewhere.path());

  auto deployed = gustIn(elsewhere.path() / "shop", {"deploy"});
  REQUIRE_MESSAGE(deployed.status == 0, deployed.err);
  CHECK(deployed.out.find("deployed shop") != std::string::npos);
  auto ls = gustIn(elsewhere.path(), {"--verbose", "ls"});
  REQUIRE_MESSAGE(ls.status == 0, ls.err);
  CHECK(ls.out.find("shop") != std::string::npos);
  CHECK_MESSAGE(ls.err.find("talking to the host at unix:" + a.host.adminSocket().string()) != std::string::npos, ls.err);
  CHECK_MESSAGE(ls.err.find("the only live host recorded in " + records.dir().string()) != std::string::npos, ls.err);
  auto answer = localClient(a.host.port()).Get("/echo");
  REQUIRE(answer);
  auto logs = gustIn(elsewhere.path(), {"logs", "shop"});
  CHECK_MESSAGE(logs.status == 0, logs.err);

  // A flag names the host, whatever is recorded: this one answers nowhere.
  auto named = gustIn(elsewhere.path(), {"-v", "ls", "--admin", "http://127.0.0.1:1", "--data-dir",
                                         a.host.dataDir().string()});
  CHECK(named.status == 1);
  CHECK_MESSAGE(named.err.find("because it was named by --admin and --data-dir") != std::string::npos, named.err);
  CHECK_MESSAGE(named.err.find("cannot reach the admin API at http://127.0.0.1:1") != std::string::npos, named.err);
}

TEST_CASE("a stale record (its pid gone, or its socket refusing) is ignored and removed") {
  TempDir tmp, elsewhere;
  RecordsIn records(tmp.path() / "xdg");
  NamedHost a(tmp.path(), "a");
  // A host that died without its clean exit: its pid is gone (an exited child of ours, reaped).
  Process dead({"/bin/true"}, tmp.path() / "true.stderr");
  dead.wait();
  writeFile(records.dir() / ("host-" + std::to_string(dead.pid()) + ".json"),
            nlohmann::json{{"pid", dead.pid()}, {"admin_socket", a.host.adminSocket().string()},
                           {"data_dir", a.host.dataDir().string()}}.dump());
  // A live pid (this test's) whose socket nobody listens on.
  writeFile(records.dir() / ("host-" + std::to_string(::getpid()) + ".json"),
            nlohmann::json{{"pid", ::getpid()}, {"admin_socket", (tmp.path() / "gone.sock").string()},
                           {"data_dir", (tmp.path() / "gone").string()}}.dump());
  REQUIRE(records.files().size() == 3);
  auto ls = gustIn(elsewhere.path(), {"-v", "ls"});
  CHECK_MESSAGE(ls.status == 0, ls.err);
  CHECK_MESSAGE(ls.err.find("the only live host recorded") != std::string::npos, ls.err);
  CHECK(records.files().size() == 1);
}

TEST_CASE("with two hosts, the one nearest the folder is used, and where neither is nearer the CLI asks which") {
  TempDir tmp;
  RecordsIn records(tmp.path() / "xdg");
  NamedHost a(tmp.path(), "a");
  NamedHost b(tmp.path(), "b");
  fs::create_directories(tmp.path() / "b" / "src");
  auto inside = gustIn(tmp.path() / "b" / "src", {"-v", "ls"});
  CHECK_MESSAGE(inside.status == 0, inside.err);
  CHECK_MESSAGE(inside.err.find("unix:" + b.host.adminSocket().string()) != std::string::npos, inside.err);
  CHECK_MESSAGE(inside.err.find("its data dir is the nearest to this folder") != std::string::npos, inside.err);

  fs::create_directories(tmp.path() / "elsewhere");
  auto between = gustIn(tmp.path() / "elsewhere", {"ls"});
  CHECK(between.status == 1);
  CHECK_MESSAGE(between.err.find("2 hosts are running and none is nearer to this folder than the others") !=
                    std::string::npos,
                between.err);
  CHECK(between.err.find("data dir " + fs::absolute(a.host.dataDir()).string()) != std::string::npos);
  CHECK(between.err.find("data dir " + fs::absolute(b.host.dataDir()).string()) != std::string::npos);
  CHECK(between.err.find("choose one with --data-dir DIR or --admin URL") != std::string::npos);
  auto chosen = gustIn(tmp.path() / "elsewhere", {"ls", "--data-dir", a.host.dataDir().string()});
  CHECK_MESSAGE(chosen.status == 0, chosen.err);
}

TEST_CASE("a records folder that others may write to is refused, so a planted record sends the CLI nowhere") {
  TempDir tmp, elsewhere;
  RecordsIn records(tmp.path() / "xdg");
  NamedHost a(tmp.path(), "a");
  fs::permissions(records.dir(), fs::perms::others_write, fs::perm_options::add);
  auto ls = gustIn(elsewhere.path(), {"ls"});
  CHECK(ls.status == 1);
  CHECK_MESSAGE(ls.err.find("ignoring the host records: the host records' folder " + records.dir().string() +
                            " may be written by other users") != std::string::npos,
                ls.err);
  CHECK(ls.err.find("no host is serving .gust") != std::string::npos);
}
