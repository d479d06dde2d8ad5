#include "runtime/host/config.h"

#include <doctest/doctest.h>
#include <stdlib.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/temp_dir.h"

using namespace gust;
namespace fs = std::filesystem;
using std::chrono::milliseconds;
using gust::test::TempDir;

namespace {

void writeFile(const fs::path& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// Sources whose data dir is a fresh temp dir, so no real config.json is picked up.
struct Fixture {
  TempDir dir;
  ConfigSources sources;
  Fixture() { sources.flags["--data-dir"] = dir.path().string(); }

  fs::path configFile(std::string_view json) {
    fs::path file = dir.path() / "config.json";
    writeFile(file, json);
    return file;
  }
  HostOptions resolve() {
    auto r = resolveHostOptions(sources);
    REQUIRE_MESSAGE(r, r.error().message);
    return *r;
  }
  std::string error() {
    auto r = resolveHostOptions(sources);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::kBadInput);
    return r.error().message;
  }
};

#define CHECK_HAS(haystack, needle) CHECK_MESSAGE((haystack).find(needle) != std::string::npos, haystack)

}  // namespace

TEST_CASE("with nothing set, every setting has the default HostOptions declares") {
  Fixture f;
  HostOptions o = f.resolve();
  HostOptions d;
  CHECK(o.http_host == d.http_host);
  CHECK(o.http_port == d.http_port);
  CHECK(o.admin_socket == f.dir.path() / "admin.sock");  // the documented DATA_DIR/admin.sock
  CHECK_FALSE(o.admin_listen.has_value());
  CHECK_FALSE(d.admin_listen.has_value());
  CHECK(o.admin_allow_remote == d.admin_allow_remote);
  CHECK(o.http_limits.max_body == d.http_limits.max_body);
  CHECK(o.drain_timeout == d.drain_timeout);
  CHECK(o.log_level == d.log_level);
  CHECK(o.log_format == d.log_format);
  CHECK(o.containment.uids == d.containment.uids);
  CHECK(o.containment.tmp_mb == d.containment.tmp_mb);
  CHECK(o.max_module_bytes == d.max_module_bytes);
  CHECK(o.versions_kept == d.versions_kept);
  CHECK(o.pool_defaults.min_instances == d.pool_defaults.min_instances);
  CHECK(o.pool_defaults.max_instances == d.pool_defaults.max_instances);
  CHECK(o.pool_defaults.concurrency == d.pool_defaults.concurrency);
  CHECK(o.pool_defaults.idle_timeout == d.pool_defaults.idle_timeout);
  CHECK(o.pool_defaults.max_pending == d.pool_defaults.max_pending);
  CHECK(o.pool_defaults.pending_timeout == d.pool_defaults.pending_timeout);
  CHECK(o.pool_defaults.timeout == d.pool_defaults.timeout);
  CHECK(o.pool_defaults.memory_mb == d.pool_defaults.memory_mb);
  CHECK(o.queue_synchronous == d.queue_synchronous);
  CHECK(o.queue_dedupe_window == d.queue_dedupe_window);
  CHECK(o.record_retention == d.record_retention);
  CHECK(o.max_pending_async == d.max_pending_async);
  CHECK(o.max_queue_bytes == d.max_queue_bytes);
  CHECK(o.queue_retention == d.queue_retention);
  CHECK(o.dead_letter_retention == d.dead_letter_retention);
  CHECK(o.config_file.empty());
  CHECK(o.data_dir == f.dir.path());
  CHECK(resolveHostOptions({}).value().data_dir == d.data_dir);
}

TEST_CASE("a flag beats the environment, which beats the config file, which beats the default") {
  Fixture f;
  f.sources.flags["--config"] = f.configFile(R"({"port": 1111, "default_timeout": "1s", "admin_allow_remote": true,
                                                 "log_format": "json"})").string();
  f.sources.env = {{"GUST_PORT", "2222"}, {"GUST_DEFAULT_TIMEOUT", "2s"}};
  f.sources.flags["--port"] = "3333";
  HostOptions o = f.resolve();
  CHECK(o.http_port == 3333);
  CHECK(o.pool_defaults.timeout == milliseconds(2000));
  CHECK(o.admin_allow_remote);
  CHECK(o.log_format == LogFormat::kJson);
  CHECK(o.config_file == f.dir.path() / "config.json");

  f.sources.flags.erase("--port");
  CHECK(f.resolve().http_port == 2222);
  f.sources.env.clear();
  CHECK(f.resolve().http_port == 1111);
  CHECK(f.resolve().pool_defaults.timeout == milliseconds(1000));
  f.sources.flags.erase("--config");
  fs::remove(f.dir.path() / "config.json");
  CHECK(f.resolve().http_port == 8080);

  // An empty variable counts as unset.
  f.sources.env = {{"GUST_PORT", ""}};
  CHECK(f.resolve().http_port == 8080);
}

TEST_CASE("the config file is --config, else $GUST_CONFIG, else DATA_DIR/config.json when it exists") {
  Fixture f;
  TempDir elsewhere;
  writeFile(elsewhere.path() / "a.json", R"({"port": 1})");
  writeFile(elsewhere.path() / "b.json", R"({"port": 2})");
  f.configFile(R"({"port": 3})");

  f.sources.flags["--config"] = (elsewhere.path() / "a.json").string();
  f.sources.env["GUST_CONFIG"] = (elsewhere.path() / "b.json").string();
  CHECK(f.resolve().http_port == 1);
  f.sources.flags.erase("--config");
  CHECK(f.resolve().http_port == 2);
  CHECK(f.resolve().config_file == elsewhere.path() / "b.json");
  f.sources.env.clear();
  CHECK(f.resolve().http_port == 3);

  // The data dir that locates the implicit file may come from the environment.
  ConfigSources env_only;
  env_only.env["GUST_DATA"] = f.dir.path().string();
  auto o = resolveHostOptions(env_only);
  REQUIRE(o);
  CHECK(o->http_port == 3);

  f.sources.flags["--config"] = (elsewhere.path() / "missing.json").string();
  CHECK(f.error() == "flag --config: " + (elsewhere.path() / "missing.json").string() +
                         " does not exist or is not a file; give the path of a JSON config file");
}

TEST_CASE("an unknown key in the config file is refused with the closest known one") {
  Fixture f;
  fs::path file = f.configFile(R"({"prot": 9000})");
  CHECK(f.error() == file.string() + ": prot: unknown setting (did you mean \"port\"?)");
  f.configFile(R"({"default_timout": "5s"})");
  CHECK(f.error() == file.string() + ": default_timout: unknown setting (did you mean \"default_timeout\"?)");
  f.configFile(R"({"zzzzzzzz": 1})");
  CHECK(f.error() == file.string() + ": zzzzzzzz: unknown setting; the settings are listed by `gust serve --help`");
  f.configFile(R"({"data_dir": "/elsewhere"})");
  CHECK(f.error() == file.string() + ": data_dir: cannot be set in the config file, which is found through it; use "
                                     "--data-dir or GUST_DATA");
}

TEST_CASE("a malformed config file says where") {
  Fixture f;
  fs::path file = f.configFile("{\"port\": 80,\n \"host\" \"x\"}");
  CHECK_HAS(f.error(), file.string() + ": not valid JSON: parse error at line 2, column 11");
  f.configFile("[1, 2]");
  CHECK(f.error() == file.string() + ": must be a JSON object such as {\"port\": 8080}");
  f.configFile(R"({"port": [80]})");
  CHECK(f.error() == file.string() + ": port: must be a string, a number or true/false, not array");
  f.configFile(std::string(2 << 20, ' '));
  CHECK_HAS(f.error(), "larger than 1048576 bytes");
}

TEST_CASE("each bad value names its source, the problem and what is allowed") {
  Fixture f;
  f.sources.flags["--port"] = "http";
  CHECK(f.error() == "flag --port: invalid port \"http\": use a number from 0 to 65535 (0 picks a free port) (see "
                     "--port or GUST_PORT in `gust serve --help`)");
  f.sources.flags.erase("--port");

  f.sources.env["GUST_DRAIN_TIMEOUT"] = "2h";
  CHECK_HAS(f.error(), "environment GUST_DRAIN_TIMEOUT: \"2h\" is out of range; use a duration from 0s to 1h");
  f.sources.env["GUST_DRAIN_TIMEOUT"] = "soon";
  CHECK_HAS(f.error(), "environment GUST_DRAIN_TIMEOUT: ");
  f.sources.env.clear();

  fs::path file = f.configFile(R"({"log_format": "xml"})");
  CHECK(f.error() == file.string() + ": log_format: \"xml\" is not one of text, json (see --log-format or "
                                     "GUST_LOG_FORMAT in `gust serve --help`)");
  f.configFile(R"({"log_level": "verbose"})");
  CHECK_HAS(f.error(), "\"verbose\" is not one of debug, info, warn, error");
  f.configFile(R"({"default_memory_mb": 8})");
  CHECK_HAS(f.error(), ": default_memory_mb: \"8\" is not a whole number from 16 to 1048576");
  f.configFile(R"({"max_body": -1})");
  CHECK_HAS(f.error(), ": max_body: \"-1\" is not a whole number from 1 to 1073741824");
  f.configFile(R"({"versions_kept": 1.5})");
  CHECK_HAS(f.error(), ": versions_kept: \"1.5\" is not a whole number from 2 to 1000");
  f.configFile(R"({"queue_synchronous": "OFF"})");
  CHECK_HAS(f.error(), "\"OFF\" is not one of FULL, NORMAL");
  f.configFile(R"({"admin_allow_remote": "maybe"})");
  CHECK_HAS(f.error(), "\"maybe\" is not a yes/no value; use true or false");
  f.configFile(R"({"host": "0.0.0.0; rm -rf /"})");
  CHECK_HAS(f.error(), "is not an address; use an IP address such as 127.0.0.1 or 0.0.0.0");
  f.configFile(R"({"max_module_bytes": 99999999999999999999999})");
  CHECK_HAS(f.error(), ": max_module_bytes: ");
  f.configFile(R"({"record_retention": "10s"})");
  CHECK_HAS(f.error(), "\"10s\" is out of range; use a duration from 1m to 8760h");
}

TEST_CASE("the admin API leaves loopback only when that is asked for explicitly") {
  Fixture f;
  for (const char* local : {"127.0.0.1:0", "127.0.0.2:8081", "[::1]:8081", "localhost:1"}) {
    f.sources.flags["--admin-listen"] = local;
    CHECK_MESSAGE(resolveHostOptions(f.sources), local);
  }
  f.sources.flags["--admin-listen"] = "0.0.0.0:8081";
  CHECK(f.error() == "flag --admin-listen: the admin API would listen on 0.0.0.0, which is not a loopback address, "
                     "and it can deploy code; add --admin-allow-remote (or GUST_ADMIN_ALLOW_REMOTE=true) to mean it, "
                     "and keep the admin token secret");
  f.sources.flags["--admin-allow-remote"] = "true";
  CHECK(f.resolve().admin_listen->host == "0.0.0.0");
  f.sources.flags.erase("--admin-allow-remote");
  f.sources.env["GUST_ADMIN_ALLOW_REMOTE"] = "1";
  CHECK(f.resolve().admin_allow_remote);
  f.sources.env.clear();
  f.sources.flags.erase("--admin-listen");
  f.configFile(R"({"admin_listen": "10.0.0.5:8081"})");
  CHECK_HAS(f.error(), "config.json: admin_listen: the admin API would listen on 10.0.0.5");
}

TEST_CASE("admin_listen is HOST:PORT, with brackets around an IPv6 address") {
  Fixture f;
  f.sources.env["GUST_ADMIN_LISTEN"] = "127.0.0.1:0";
  HostOptions o = f.resolve();
  REQUIRE(o.admin_listen.has_value());
  CHECK(o.admin_listen->host == "127.0.0.1");
  CHECK(o.admin_listen->port == 0);
  f.sources.env["GUST_ADMIN_LISTEN"] = "[::1]:9001";
  o = f.resolve();
  CHECK(o.admin_listen->host == "::1");
  CHECK(o.admin_listen->port == 9001);
  for (const char* wrong : {"8081", "127.0.0.1", "127.0.0.1:", ":8081", "::1:8081", "127.0.0.1:65536", "a b:1"}) {
    f.sources.env["GUST_ADMIN_LISTEN"] = wrong;
    auto r = resolveHostOptions(f.sources);
    REQUIRE_FALSE_MESSAGE(r, wrong);
    CHECK_HAS(r.error().message, "environment GUST_ADMIN_LISTEN: ");
  }
  f.sources.env["GUST_ADMIN_LISTEN"] = "8081";
  CHECK_HAS(f.error(), "\"8081\" is not HOST:PORT; use e.g. 127.0.0.1:8081 or [::1]:8081 (port 0 picks a free one)");
}

TEST_CASE("callback_allow is a CIDR list from any source, and a bad entry is named") {
  Fixture f;
  CHECK(f.resolve().callback_allow.empty());
  f.sources.flags["--callback-allow"] = "127.0.0.0/8,fd00::/8";
  HostOptions o = f.resolve();
  REQUIRE(o.callback_allow.size() == 2);
  CHECK(o.callback_allow[0].text() == "127.0.0.0/8");
  CHECK(o.callback_allow[1].text() == "fd00::/8");
  f.sources.flags["--callback-allow"] = "10.0.0.0/8,10.0.0.0/40";
  CHECK_HAS(f.error(), "flag --callback-allow: '10.0.0.0/40' has a bad prefix length (want 0 to 32)");
  f.sources.flags.erase("--callback-allow");
  f.sources.env["GUST_CALLBACK_ALLOW"] = "intranet";
  CHECK_HAS(f.error(), "environment GUST_CALLBACK_ALLOW: 'intranet' is not an IPv4 or IPv6 address range");
  f.sources.env.clear();
  f.configFile(R"({"callback_allow": "192.168.0.0/16"})");
  CHECK(f.resolve().callback_allow.at(0).text() == "192.168.0.0/16");
}

TEST_CASE("backend is a redis:// URL from any source; a bad one says what is wrong without its password") {
  Fixture f;
  CHECK_FALSE(f.resolve().backend.has_value());
  f.sources.env["GUST_BACKEND"] = "redis://:s3cret@10.0.0.5:6380/2";
  HostOptions o = f.resolve();
  REQUIRE(o.backend.has_value());
  CHECK(o.backend->host == "10.0.0.5");
  CHECK(o.backend->port == 6380);
  CHECK(o.backend->password == "s3cret");
  CHECK(o.backend->db == 2);
  f.sources.flags["--backend"] = "redis://:s3cret@cache:99999";
  std::string error = f.error();
  CHECK_HAS(error, "flag --backend: the backend URL has a port that is not a number from 1 to 65535");
  CHECK(error.find("s3cret") == std::string::npos);
  // Over TLS, with the files that go with it; the files alone mean nothing.
  f.sources.flags["--backend"] = "rediss://cache:6380";
  f.sources.env["GUST_BACKEND_TLS_CA"] = "/etc/gust/redis-ca.pem";
  HostOptions tls = f.resolve();
  REQUIRE(tls.backend.has_value());
  CHECK(tls.backend->tls);
  CHECK(tls.backend->tls_files.ca_file == "/etc/gust/redis-ca.pem");
  f.sources.flags["--backend"] = "redis://cache:6379";
  CHECK_HAS(f.error(), "are for a rediss:// backend");
  f.sources.flags.erase("--backend");
  f.sources.env.clear();
  f.configFile(R"({"backend": "redis://127.0.0.1"})");
  HostOptions from_file = f.resolve();
  REQUIRE(from_file.backend.has_value());
  CHECK(from_file.backend->port == 6379);
}

TEST_CASE("the admin socket is DATA_DIR/admin.sock unless admin_socket names another") {
  Fixture f;
  f.sources.flags["--data-dir"] = (f.dir.path() / "elsewhere").string();
  CHECK(f.resolve().admin_socket == f.dir.path() / "elsewhere" / "admin.sock");
  f.sources.env["GUST_ADMIN_SOCKET"] = "/run/gust/admin.sock";
  CHECK(f.resolve().admin_socket == "/run/gust/admin.sock");
  f.sources.flags["--admin-socket"] = "/tmp/a.sock";
  CHECK(f.resolve().admin_socket == "/tmp/a.sock");
  f.sources.flags["--admin-socket"] = "";
  CHECK_HAS(f.error(), "flag --admin-socket: the admin socket path is empty");
}

TEST_CASE("the removed admin_host and admin_port are refused with what to use instead") {
  Fixture f;
  constexpr const char* kAdvice = "no longer a setting: the admin API listens on a Unix socket (--admin-socket, "
                                  "default DATA_DIR/admin.sock); for TCP as well use --admin-listen HOST:PORT";
  f.configFile(R"({"admin_port": 8081})");
  CHECK_HAS(f.error(), "config.json: admin_port: " + std::string(kAdvice));
  f.configFile(R"({"admin_host": "127.0.0.1"})");
  CHECK_HAS(f.error(), "config.json: admin_host: " + std::string(kAdvice));
  fs::remove(f.dir.path() / "config.json");
  f.sources.env["GUST_ADMIN_PORT"] = "0";
  CHECK_HAS(f.error(), "environment GUST_ADMIN_PORT: " + std::string(kAdvice));
  for (const char* flag : {"--admin-port", "--admin-host"}) CHECK(removedSettingAdvice(flag).has_value());
  CHECK_FALSE(removedSettingAdvice("--admin-listen").has_value());
}

TEST_CASE("pool defaults that contradict each other are refused with both sources") {
  Fixture f;
  f.sources.env["GUST_DEFAULT_MIN_INSTANCES"] = "8";
  CHECK(f.error() == "environment GUST_DEFAULT_MIN_INSTANCES: default_min_instances is 8, more than "
                     "default_max_instances (4, from default)");
  f.sources.flags["--default-max-instances"] = "8";
  CHECK(f.resolve().pool_defaults.min_instances == 8);
}

TEST_CASE("every setting follows one naming rule for its key, flag and variable") {
  for (const auto& s : hostSettings()) {
    if (s.key.empty()) continue;  // documented here, read elsewhere
    std::string flag = "--" + s.key;
    std::replace(flag.begin(), flag.end(), '_', '-');
    CHECK(s.flag == flag);
    std::string env = "GUST_" + s.key;
    for (auto& c : env) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (s.key != "data_dir") CHECK(s.env == env);  // GUST_DATA predates the rule
  }
}

TEST_CASE("the README's settings table is the one the code generates") {
  const char* root = std::getenv("GUST_SOURCE_ROOT");
  REQUIRE_MESSAGE(root != nullptr, "GUST_SOURCE_ROOT is not set; run the tests with meson test");
  std::ifstream in(fs::path(root) / "README.md");
  REQUIRE(in);
  std::string readme((std::istreambuf_iterator<char>(in)), {});
  std::string expected = settingsMarkdownTable();
  size_t start = readme.find("| setting | flag |");
  REQUIRE_MESSAGE(start != std::string::npos, "README.md has no settings table; paste this:\n" << expected);
  size_t end = readme.find("\n\n", start);
  std::string actual = readme.substr(start, end == std::string::npos ? std::string::npos : end + 1 - start);
  CHECK_MESSAGE(actual == expected, "update README.md's settings table to:\n" << expected);
}

TEST_CASE("gustEnvironment reads only GUST_ variables") {
  ::setenv("GUST_CONFIG_TEST_VALUE", "a=b", 1);
  ::setenv("NOT_GUST_CONFIG_TEST", "x", 1);
  auto env = gustEnvironment();
  CHECK(env["GUST_CONFIG_TEST_VALUE"] == "a=b");
  CHECK(env.count("NOT_GUST_CONFIG_TEST") == 0);
  ::unsetenv("GUST_CONFIG_TEST_VALUE");
  ::unsetenv("NOT_GUST_CONFIG_TEST");
}

TEST_CASE("the WebSocket settings make the limits a WebSocket is accepted with") {
  Fixture f;
  WebSocketLimits defaults = f.resolve().webSocketLimits();
  CHECK(defaults.max_message_bytes == 1048576);
  CHECK(defaults.idle_timeout_ms == 300'000);
  CHECK(f.resolve().max_websockets == 10'000);
  f.sources.flags["--websocket-max-message"] = "4096";
  f.sources.flags["--websocket-idle-timeout"] = "90s";
  f.sources.env = {{"GUST_MAX_WEBSOCKETS", "12"}};
  HostOptions o = f.resolve();
  CHECK(o.webSocketLimits().max_message_bytes == 4096);
  CHECK(o.webSocketLimits().max_frame_bytes == 4096);
  CHECK(o.webSocketLimits().idle_timeout_ms == 90'000);
  CHECK(o.max_websockets == 12);
}
