// Bounded connections (docs/security.md, "Connections"): a host whose descriptor limit is 256
// holds hundreds of idle keep-alive connections and still cold-starts an app, takes a deploy
// and answers its health check, closing the connections idle longest to make room; a cap that
// would leave the host too few descriptors of its own is refused at start. Real hosts under
// prlimit, real sockets on 127.0.0.1.
#include <doctest/doctest.h>
#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

// The host's default split of 256 descriptors: 64 (a quarter, and at least 64) kept for
// itself, the rest for public connections (runtime/host/descriptors.h).
constexpr int kLimit = 256;
constexpr int kPublicCap = 192;
constexpr int kAdminCap = 16;  // a quarter of the reserve, per admin listener
const std::vector<std::string> kUnderLimit = {"/usr/bin/prlimit",
                                              "--nofile=" + std::to_string(kLimit) + ":" + std::to_string(kLimit), "--"};

std::string manifest(const std::string& app) {
  return R"({"name": ")" + app + R"(", "functions": {"echo": {"routes": [{"path": "/)" + app +
         R"(", "methods": ["GET"]}]}}})";
}

// One keep-alive connection to the public port (or the admin socket), asked over plain POSIX
// sockets so that it stays open and idle between requests.
class KeepAlive {
 public:
  explicit KeepAlive(int port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connectTo(reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  explicit KeepAlive(const fs::path& unix_socket) : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", unix_socket.c_str());
    connectTo(reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  ~KeepAlive() { ::close(fd_); }
  KeepAlive(const KeepAlive&) = delete;
  KeepAlive& operator=(const KeepAlive&) = delete;

  // Asks GET `path` and reads the whole answer; its status, or 0 when the connection ended.
  int get(const std::string& path) {
    std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) return 0;
    std::string in;
    size_t head_end;
    while ((head_end = in.find("\r\n\r\n")) == std::string::npos) {
      if (!fill(in)) return 0;
    }
    // The host writes its framing fields itself, spelt this way.
    size_t length_at = in.find("\r\nContent-Length: ");
    size_t length = length_at < head_end ? std::stoul(in.substr(length_at + 18)) : 0;
    while (in.size() < head_end + 4 + length) {
      if (!fill(in)) return 0;
    }
    return std::stoi(in.substr(9, 3));
  }

  // True when the host ends the connection (a FIN, or a reset) before the receive timeout.
  bool closedByHost() {
    char byte;
    ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  void connectTo(const sockaddr* addr, socklen_t len) {
    REQUIRE(::connect(fd_, addr, len) == 0);
    timeval tv{10, 0};  // a host that never answers fails the test instead of hanging it
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }

  bool fill(std::string& in) {
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    in.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_;
};

// The value of one sample line of the Prometheus text, or -1 when it is not there.
long sample(const std::string& exposition, const std::string& series) {
  size_t at = exposition.find("\n" + series + " ");
  return at == std::string::npos ? -1 : std::stol(exposition.substr(at + series.size() + 2));
}

}  // namespace

TEST_CASE("with hundreds of idle connections open, a host limited to 256 descriptors still cold-starts, deploys "
          "and answers /healthz") {
  TempDir tmp;
  const std::string module = env("GUST_FIXTURE_MISBEHAVE");
  fs::path warm = makeApp(tmp.path(), "warm", manifest("warm"), module);
  fs::path cold = makeApp(tmp.path(), "cold", manifest("cold"), module);
  Host host({warm, cold}, tmp.path(), {}, kUnderLimit);
  std::string log = host.process().stderrText();
  CHECK_MESSAGE(log.find("descriptors: limit 256") != std::string::npos, log);
  CHECK_MESSAGE(log.find("up to 192 public connections") != std::string::npos, log);

  // A worker does not inherit what the host may open: it gets 1024, or the hard limit below that.
  auto warmed = localClient(host.port(), std::chrono::seconds(30)).Get("/warm");
  REQUIRE(warmed);
  REQUIRE(warmed->status == 200);
  std::string limits = readFile("/proc/" + std::to_string(hostPidOf(warmed->get_header_value("X-Pid"))) + "/limits");
  size_t files = limits.find("Max open files");
  REQUIRE_MESSAGE(files != std::string::npos, limits);
  unsigned long soft = 0, hard = 0;
  CHECK(std::sscanf(limits.c_str() + files + 14, "%lu %lu", &soft, &hard) == 2);
  CHECK(soft == kLimit);
  CHECK(hard == kLimit);

  // Each connection asks once (a 404: no function runs) and then stays open, idle.
  constexpr int kOpened = 300;
  std::vector<std::unique_ptr<KeepAlive>> connections;
  for (int i = 0; i < kOpened; ++i) {
    CAPTURE(i);
    connections.push_back(std::make_unique<KeepAlive>(host.port()));
    REQUIRE(connections.back()->get("/none") == 404);
  }
  // The first ones opened were idle longest: they made room for the last ones, which all work.
  for (int i = 0; i < kOpened - kPublicCap; ++i) {
    CAPTURE(i);
    CHECK(connections[i]->closedByHost());
  }
  for (int i = kOpened - kPublicCap; i < kOpened; ++i) {
    CAPTURE(i);
    CHECK(connections[i]->get("/none") == 404);
  }

  // A cold start of the other app, on a connection of its own.
  auto started = localClient(host.port(), std::chrono::seconds(30)).Get("/cold");
  REQUIRE(started);
  CHECK(started->status == 200);

  // A deploy through the admin socket, whose connections come out of the host's reserve.
  httplib::Client admin = host.adminClient(std::chrono::seconds(30));
  admin.set_bearer_token_auth(host.adminToken());
  httplib::MultipartFormDataItems upload = {
      {"manifest", manifest("fresh"), "gust.json", "application/json"},
      {"module", readFile(module), "fresh.so", "application/octet-stream"},
  };
  auto deployed = admin.Post("/v1/apps/fresh/versions", upload);
  REQUIRE(deployed);
  CHECK_MESSAGE(deployed->status == 201, deployed->body);
  auto fresh = localClient(host.port(), std::chrono::seconds(30)).Get("/fresh");
  REQUIRE(fresh);
  CHECK(fresh->status == 200);

  auto health = host.adminClient().Get("/healthz");
  REQUIRE(health);
  CHECK(health->status == 200);

  // The admin socket has a bound of its own, out of the reserve, kept the same way.
  std::vector<std::unique_ptr<KeepAlive>> admin_connections;
  for (int i = 0; i < kAdminCap + 4; ++i) {
    CAPTURE(i);
    admin_connections.push_back(std::make_unique<KeepAlive>(host.adminSocket()));
    REQUIRE(admin_connections.back()->get("/healthz") == 200);
  }
  for (int i = 0; i < 4; ++i) CHECK(admin_connections[i]->closedByHost());
  for (int i = 4; i < kAdminCap + 4; ++i) CHECK(admin_connections[i]->get("/healthz") == 200);

  // The newest idle connections are still open.
  for (int i = kOpened - 100; i < kOpened; ++i) {
    CAPTURE(i);
    CHECK(connections[i]->get("/none") == 404);
  }
  auto metrics = admin.Get("/metrics");
  REQUIRE(metrics);
  CHECK(sample(metrics->body, "gust_http_connections_closed_total{reason=\"idle_evicted\"}") >= kOpened - kPublicCap);
  CHECK(sample(metrics->body, "gust_http_connections_closed_total{reason=\"refused\"}") == 0);
}

TEST_CASE("a connection cap that leaves the host less than 64 descriptors is refused at start, naming the most "
          "that fits") {
  TempDir tmp;
  std::vector<std::string> argv = kUnderLimit;
  argv.insert(argv.end(), {env("GUST_BIN"), "serve", "--port", "0", "--data-dir", (tmp.path() / "data").string(),
                           "--max-connections", "250"});
  CommandResult r = Process(argv, tmp.path() / "serve.stderr").finish(std::chrono::seconds(30));
  CHECK(r.status == 1);
  CHECK_MESSAGE(r.err.find("--max-connections 250 leaves less than 64") != std::string::npos, r.err);
  CHECK_MESSAGE(r.err.find("use at most 192") != std::string::npos, r.err);
}
