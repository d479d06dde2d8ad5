// The admin API on its Unix socket (issue 13): no TCP listener unless asked for, a socket
// only the host's user can open, one host per data dir, and a CLI that finds it alone.
#include <doctest/doctest.h>
#include <httplib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <set>
#include <thread>

#include "tests/integration/harness.h"

using namespace gust::test;

namespace {

// The ports on which `pid` itself holds a listening TCP socket, from its fds and
// /proc/net/tcp{,6}.
std::set<int> tcpListeners(pid_t pid) {
  std::set<std::string> inodes;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    std::string target = fs::read_symlink(fd.path(), ec).string();
    if (!ec && target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::set<int> ports;
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::istringstream lines(readFile(table));
    std::string line;
    std::getline(lines, line);  // the header
    while (std::getline(lines, line)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      std::istringstream fields(line);
      std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (state == "0A" && inodes.count(inode)) ports.insert(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
    }
  }
  return ports;
}

httplib::Headers bearer(const Host& host) { return {{"Authorization", "Bearer " + host.adminToken()}}; }

sockaddr_un unixAddress(const fs::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  return addr;
}

// Leaves a socket file at `path` with nobody listening, as a host killed with SIGKILL does.
void leaveStaleSocket(const fs::path& path) {
  fs::create_directories(path.parent_path());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr = unixAddress(path);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  ::close(fd);
  REQUIRE(fs::is_socket(path));
}

// Connects to the Unix socket at `path`, sends `bytes`, and returns what it reads until the
// peer closes, what it read holds `enough` (when given), or `wait` passes without a byte.
std::string rawUnixExchange(const fs::path& path, const std::string& bytes,
                            std::chrono::milliseconds wait = std::chrono::seconds(3), std::string_view enough = {}) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un addr = unixAddress(path);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{static_cast<time_t>(wait.count() / 1000), static_cast<suseconds_t>((wait.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    out.append(buf, static_cast<size_t>(n));
    if (!enough.empty() && out.find(enough) != std::string::npos) break;
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_CASE("by default the admin API is only a 0600 socket in a 0700 data dir, and it still needs the token") {
  TempDir tmp;
  Host host({}, tmp.path());
  CHECK(host.adminSocket() == fs::absolute(host.dataDir() / "admin.sock"));
  // The HTTP trigger is the host's one TCP listener: nothing a worker could reach at 8081.
  CHECK(tcpListeners(host.process().pid()) == std::set<int>{host.port()});
  struct stat st {};
  REQUIRE(::stat(host.adminSocket().c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0600);
  REQUIRE(::stat(host.dataDir().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);

  httplib::Client admin = host.adminClient();
  auto anonymous = admin.Get("/v1/apps");
  REQUIRE(anonymous);
  CHECK(anonymous->status == 401);
  auto wrong = admin.Get("/v1/apps", {{"Authorization", "Bearer wrong"}});
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  auto ok = admin.Get("/v1/apps", bearer(host));
  REQUIRE(ok);
  CHECK(ok->status == 200);
  CHECK(admin.Get("/healthz")->status == 200);

  // A clean exit takes the socket with it.
  host.process().signal(SIGTERM);
  CHECK(host.process().wait().status == 0);
  CHECK_FALSE(fs::exists(host.adminSocket()));
}

TEST_CASE("--admin-listen adds a TCP listener that needs the token too") {
  TempDir tmp;
  Host host({}, tmp.path(), {"--admin-listen", "127.0.0.1:0"});
  REQUIRE(host.adminTcpPort() > 0);
  CHECK(tcpListeners(host.process().pid()) == std::set<int>{host.port(), host.adminTcpPort()});
  httplib::Client tcp = localClient(host.adminTcpPort());
  CHECK(tcp.Get("/v1/apps")->status == 401);
  CHECK(tcp.Get("/v1/apps", bearer(host))->status == 200);
  CHECK(host.adminClient().Get("/v1/apps", bearer(host))->status == 200);  // the socket as well
}

TEST_CASE("the admin token is checked on the head: a wrong one gets 401 without 100 Continue or a read body") {
  TempDir tmp;
  Host host({}, tmp.path());
  auto upload = [&](const std::string& token) {
    return "POST /v1/apps/a HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + token +
           "\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n";
  };
  std::string wrong = rawUnixExchange(host.adminSocket(), upload("wrong"));
  CHECK_MESSAGE(wrong.rfind("HTTP/1.1 401", 0) == 0, wrong);
  CHECK(wrong.find("100 Continue") == std::string::npos);
  CHECK(wrong.find("Connection: close") != std::string::npos);
  // The right token on the same head is invited to send its body. The host then waits for
  // it, so the exchange ends at the end of the interim answer's head.
  std::string right = rawUnixExchange(host.adminSocket(), upload(host.adminToken()), std::chrono::seconds(10), "\r\n\r\n");
  CHECK_MESSAGE(right.rfind("HTTP/1.1 100 Continue", 0) == 0, right);
  // Without Expect, the answer comes before the announced body, none of which is sent.
  std::string no_expect = rawUnixExchange(
      host.adminSocket(), "PUT /v1/apps/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50000000\r\n\r\n");
  CHECK_MESSAGE(no_expect.rfind("HTTP/1.1 401", 0) == 0, no_expect);
}

TEST_CASE("repeated failed admin logins make the caller wait, and a success resets the count") {
  TempDir tmp;
  Host host({}, tmp.path());
  httplib::Client admin = host.adminClient();
  httplib::Headers wrong = {{"Authorization", "Bearer wrong"}};
  for (int i = 0; i < 4; ++i) REQUIRE(admin.Get("/v1/apps", wrong)->status == 401);
  // Each failure past the third doubles the wait (250 ms, 500 ms, 1 s, 2 s); a guess made
  // once the wait is over is looked at, and refused.
  for (int wait_ms : {250, 500, 1000}) {
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms + 50));
    REQUIRE(admin.Get("/v1/apps", wrong)->status == 401);
  }
  // Even the right token waits now: answering it would tell a guesser it had guessed right.
  // (Asked within the 2 s wait, however slow the machine.)
  auto refused = admin.Get("/v1/apps", bearer(host));
  REQUIRE(refused);
  CHECK(refused->status == 429);
  const std::string retry_after = refused->get_header_value("Retry-After");
  CHECK((retry_after == "1" || retry_after == "2"));
  CHECK(refused->body.find("too many failed admin logins") != std::string::npos);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  CHECK(admin.Get("/v1/apps", bearer(host))->status == 200);
  // The success forgot the failures: a wrong token is plainly refused again.
  CHECK(admin.Get("/v1/apps", wrong)->status == 401);
  CHECK(admin.Get("/v1/apps", bearer(host))->status == 200);
}

TEST_CASE("gust serve refuses an admin token shorter than 32 bytes, saying how to make one") {
  TempDir tmp;
  ::setenv("GUST_ADMIN_TOKEN", "only-20-bytes-long!!", 1);
  auto from_env = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "data").string()}, tmp.path());
  ::unsetenv("GUST_ADMIN_TOKEN");
  CHECK(from_env.status == 1);
  CHECK_MESSAGE(from_env.err.find("GUST_ADMIN_TOKEN holds a token of 20 bytes; the admin token must have at least "
                                  "32: make one with 'openssl rand -hex 32'") != std::string::npos,
                from_env.err);
  writeFile(tmp.path() / "data" / "admin.token", "s3cret\n");
  auto r = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "data").string()}, tmp.path());
  CHECK(r.status == 1);
  CHECK_MESSAGE(r.err.find("admin.token holds a token of 6 bytes") != std::string::npos, r.err);
  CHECK(r.err.find("or delete " + (tmp.path() / "data" / "admin.token").string() + " and the host makes one") !=
        std::string::npos);
}

TEST_CASE("a socket left by a host that died is replaced") {
  TempDir tmp;
  leaveStaleSocket(tmp.path() / "data" / "admin.sock");
  Host host({}, tmp.path());
  CHECK(host.adminClient().Get("/v1/apps", bearer(host))->status == 200);
}

TEST_CASE("a second host on a served data dir refuses to start and leaves the first alone") {
  TempDir tmp;
  Host host({}, tmp.path());
  auto second = runGust({"serve", "--port", "0", "--data-dir", host.dataDir().string()}, tmp.path());
  CHECK(second.status == 1);
  CHECK_MESSAGE(second.err.find("another host serves " + host.dataDir().string() + " (it answers on " +
                                host.adminSocket().string() + "); stop it or use another --data-dir") !=
                    std::string::npos,
                second.err);
  CHECK(host.adminClient().Get("/v1/apps", bearer(host))->status == 200);
}

TEST_CASE("a socket path too long for a Unix socket is refused naming --admin-socket") {
  TempDir tmp;
  std::string path = (tmp.path() / std::string(120, 's')).string();
  auto r = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "data").string(), "--admin-socket", path},
                   tmp.path());
  CHECK(r.status == 1);
  CHECK_MESSAGE(r.err.find("longer than the 107 a Unix socket allows; choose a shorter one with --admin-socket") !=
                    std::string::npos,
                r.err);
}

TEST_CASE("gust serve refuses the removed --admin-port and --admin-host, saying what replaced them") {
  TempDir tmp;
  for (const char* flag : {"--admin-port", "--admin-host"}) {
    auto r = runGust({"serve", "--port", "0", "--data-dir", (tmp.path() / "data").string(), flag, "0"}, tmp.path());
    CHECK(r.status == 2);
    CHECK_MESSAGE(r.err.find(std::string(flag) + ": no longer a setting: the admin API listens on a Unix socket") !=
                      std::string::npos,
                  r.err);
    CHECK(r.err.find("--admin-listen HOST:PORT") != std::string::npos);
  }
}

TEST_CASE("the CLI reaches the host through the data dir alone") {
  TempDir tmp;
  Host host({}, tmp.path());
  auto ls = runGust({"ls", "--data-dir", host.dataDir().string()}, tmp.path());
  CHECK_MESSAGE(ls.status == 0, ls.err);
  // And through $GUST_ADMIN_URL's unix: address, with --data-dir only for the token.
  auto named = runGust({"ls", "--admin", host.adminUrl(), "--data-dir", host.dataDir().string()}, tmp.path());
  CHECK_MESSAGE(named.status == 0, named.err);
}

TEST_CASE("the socket refuses a peer that is neither the host's user nor root") {
  if (::geteuid() != 0) return;  // only root can become another user to try
  TempDir tmp;
  Host host({}, tmp.path());
  // Open the way on purpose, as a careless chmod would; the uid check still holds.
  fs::permissions(tmp.path(), fs::perms::all);
  fs::permissions(host.dataDir(), fs::perms::all);
  fs::permissions(host.adminSocket(), fs::perms::all);
  std::string request = "GET /v1/apps HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + host.adminToken() +
                        "\r\nConnection: close\r\n\r\n";
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(fds[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, host.adminSocket().c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) ::_exit(3);
    if (::write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) ::_exit(4);
    char buf[4096];
    ssize_t n;
    while ((n = ::read(fd, buf, sizeof buf)) > 0) {
      if (::write(fds[1], buf, static_cast<size_t>(n)) != n) ::_exit(5);
    }
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string answer;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fds[0], buf, sizeof buf)) > 0) answer.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(child, &status, 0);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK_MESSAGE(answer.rfind("HTTP/1.1 403 ", 0) == 0, answer);
  CHECK(answer.find("only its host's own user and root") != std::string::npos);
}
