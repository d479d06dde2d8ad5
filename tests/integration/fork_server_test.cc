// The fork server end to end: workers of a real host are forked from it, the host survives
// its death, the server itself (the real binary in fork-server mode) refuses malformed
// requests and forks, reaps and reports a real worker, and the host's side of it restarts
// a dead server and gives up on a stuck one when an injected clock says so.
#include <doctest/doctest.h>
#include <httplib.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <memory>
#include <set>
#include <utility>

#include "runtime/exec/fork_client.h"
#include "runtime/protocol/fork_protocol.h"
#include "runtime/protocol/frame.h"
#include "tests/integration/harness.h"
#include "tests/support/manual_clock.h"
#include "tests/support/run_loop.h"

using namespace gust::test;

namespace {

const char* kManifest = R"({
  "name": "forked",
  "functions": {
    "echo": { "routes": ["/echo/{id}"] },
    "segv": { "routes": ["/segv"] }
  }
})";

std::string commandLine(pid_t pid) {
  std::string cmdline = readFile("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
  return cmdline;
}

// The host's children that are fork servers.
std::vector<pid_t> forkServersOf(pid_t host) {
  std::vector<pid_t> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t pid = std::stoi(name);
    if (parentOf(pid) == host && commandLine(pid).find(" fork-server ") != std::string::npos) found.push_back(pid);
  }
  return found;
}

// The processes from `pid` up to (not including) pid 1.
std::vector<pid_t> ancestry(pid_t pid) {
  std::vector<pid_t> chain;
  while (pid > 1 && chain.size() < 64) {
    chain.push_back(pid);
    pid = parentOf(pid);
  }
  return chain;
}

pid_t workerPid(int port, const std::string& id) {
  auto r = localClient(port).Get("/echo/" + id);
  REQUIRE(r);
  REQUIRE(r->status == 200);
  return std::stoi(r->get_header_value("X-Pid"));
}

// `chain` goes worker ... -> server -> host, and the host did not start any of the worker's
// processes itself.
void checkForkedBy(const std::vector<pid_t>& chain, pid_t server, pid_t host) {
  auto at = std::find(chain.begin(), chain.end(), server);
  REQUIRE(at != chain.end());
  REQUIRE(at + 1 != chain.end());
  CHECK(*(at + 1) == host);
  // The worker itself is named for what it is, though it never exec'd.
  CHECK(readFile("/proc/" + std::to_string(chain.front()) + "/comm") == "gust-worker\n");
}

}  // namespace

TEST_CASE("workers are forked from the host's fork server, not exec'd by the host") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "forked", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  pid_t worker = workerPid(host.port(), "1");
  auto servers = forkServersOf(host.process().pid());
  REQUIRE(servers.size() == 1);
  checkForkedBy(ancestry(worker), servers[0], host.process().pid());
  // A replacement after a crash comes from the same server.
  CHECK(localClient(host.port()).Get("/segv")->status == 502);
  pid_t next = workerPid(host.port(), "2");
  CHECK(next != worker);
  checkForkedBy(ancestry(next), servers[0], host.process().pid());
}

TEST_CASE("a killed fork server takes its workers with it, and the host starts another and keeps serving") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "forked", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path());
  pid_t host_pid = host.process().pid();
  pid_t worker = workerPid(host.port(), "1");
  auto servers = forkServersOf(host_pid);
  REQUIRE(servers.size() == 1);
  pid_t first_server = servers[0];

  REQUIRE(::kill(first_server, SIGKILL) == 0);
  waitFor("the worker to die with its fork server", [&] { return !processAlive(worker); }, std::chrono::seconds(3),
          host);
  waitFor(
      "the host to start another fork server",
      [&] {
        auto now = forkServersOf(host_pid);
        return now.size() == 1 && now[0] != first_server;
      },
      std::chrono::seconds(3), host);
  pid_t second_server = forkServersOf(host_pid).at(0);

  pid_t replacement = workerPid(host.port(), "2");
  CHECK(replacement != worker);
  checkForkedBy(ancestry(replacement), second_server, host_pid);
  CHECK(host.process().running());
  CHECK(host.process().stderrText().find("fork server") != std::string::npos);
}

namespace {

// The real binary in fork-server mode, with this test as its host.
class ForkServer {
 public:
  ForkServer() : ForkServer(::getpid()) {}
  explicit ForkServer(pid_t host_pid) {
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    fd_ = sv[0];
    // As the host does: room for a request past the limit (see fork_protocol.h).
    REQUIRE(setsockopt(fd_, SOL_SOCKET, SO_SNDBUF, &gust::kForkSocketBuffer, sizeof gust::kForkSocketBuffer) == 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, sv[1], gust::kForkServerFd);
    std::string bin = env("GUST_BIN"), pid = std::to_string(host_pid);
    std::vector<char*> argv = {bin.data(), const_cast<char*>("fork-server"), const_cast<char*>("--host-pid"),
                               pid.data(), nullptr};
    REQUIRE(posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
    close(sv[1]);
  }
  ~ForkServer() {
    if (fd_ >= 0) close(fd_);
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void send(const std::string& message, const std::vector<int>& fds) {
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 8)] = {};
    iovec iov{const_cast<char*>(message.data()), message.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    REQUIRE(sendmsg(fd_, &msg, MSG_NOSIGNAL) == static_cast<ssize_t>(message.size()));
  }

  gust::ForkReply reply() {
    pollfd p{fd_, POLLIN, 0};
    REQUIRE_MESSAGE(poll(&p, 1, 10'000) == 1, timedOut("a reply of the fork server", std::chrono::seconds(10)));
    gust::ForkReply r{};
    REQUIRE(recv(fd_, &r, sizeof r, 0) == static_cast<ssize_t>(sizeof r));
    return r;
  }

  // Closes the host's end, as a host that goes away does; returns the server's exit.
  Exited hangUp() {
    close(fd_);
    fd_ = -1;
    int status = 0;
    waitFor("the fork server to exit after its host hung up", [&] { return waitpid(pid_, &status, WNOHANG) == pid_; },
            std::chrono::seconds(10));
    pid_ = 0;
    return Exited{true, WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status)};
  }

  pid_t pid() const { return pid_; }

 private:
  int fd_ = -1;
  pid_t pid_ = 0;
};

std::string spawnRequest(uint32_t id, const std::vector<std::string>& strings) {
  gust::ForkRequestHeader header{gust::kForkRequestSpawn, id, static_cast<uint32_t>(strings.size()), 0};
  std::string message(reinterpret_cast<const char*>(&header), sizeof header);
  for (const auto& s : strings) message.append(s).push_back('\0');
  return message;
}

struct Channels {
  int host[3], worker[3];  // stdout, stderr, ipc
  Channels() {
    for (int i = 0; i < 3; ++i) {
      int sv[2];
      REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
      host[i] = sv[0];
      worker[i] = sv[1];
      // A read of the host's end fails after 10 s (EAGAIN) rather than hang the test.
      timeval tv{10, 0};
      setsockopt(host[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
  }
  ~Channels() {
    for (int i = 0; i < 3; ++i) {
      if (host[i] >= 0) close(host[i]);
      if (worker[i] >= 0) close(worker[i]);
    }
  }
  std::vector<int> workerEnds() const { return {worker[0], worker[1], worker[2]}; }
  void closeWorkerEnds() {
    for (int& fd : worker) close(std::exchange(fd, -1));
  }
};

}  // namespace

TEST_CASE("the fork server refuses malformed requests, closes what they carried, and keeps serving") {
  ForkServer server;
  Channels channels;

  SUBCASE("too short to hold a header, and without descriptors") {
    server.send("junk", {});
  }
  SUBCASE("descriptors missing") {
    server.send(spawnRequest(7, {"/tmp", "--module", "x.so", "--function", "f"}), {channels.worker[0]});
  }
  SUBCASE("a string without its terminating NUL") {
    std::string message = spawnRequest(7, {"/tmp", "--module"});
    message.pop_back();
    server.send(message, channels.workerEnds());
  }
  SUBCASE("a string count that does not match") {
    server.send(spawnRequest(7, {"/tmp", "--module"}) + std::string("extra", 6), channels.workerEnds());
  }
  SUBCASE("larger than the limit") {
    server.send(spawnRequest(7, {"/tmp", std::string(gust::kMaxForkRequest, 'a')}), channels.workerEnds());
  }
  gust::ForkReply r = server.reply();
  CHECK(r.type == gust::kForkReplySpawnFailed);
  CHECK(r.value == EINVAL);
  // It kept no copy of what it was sent: once ours are closed, the peers see EOF.
  channels.closeWorkerEnds();
  char byte;
  CHECK_MESSAGE(recv(channels.host[2], &byte, 1, 0) == 0, "no EOF on the worker's channel within 10 s");
  // And it is still there to hear the next one, after which it leaves quietly.
  CHECK(server.hangUp().status == 0);
}

TEST_CASE("the fork server forks a worker that loads its module, then reaps it and reports its exit") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "forked", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  ForkServer server;
  Channels channels;
  server.send(spawnRequest(42, {app.string(), "--app", "forked", "--module", (app / "build" / "forked.so").string(),
                                "--pid-namespace", "0", "--function", "echo", "--function", "segv"}),
              channels.workerEnds());
  gust::ForkReply spawned = server.reply();
  REQUIRE(spawned.type == gust::kForkReplySpawned);
  CHECK(spawned.request_id == 42);
  CHECK(parentOf(spawned.pid) == server.pid());
  channels.closeWorkerEnds();

  // The worker speaks the usual protocol on what it was given.
  gust::FrameDecoder decoder;
  gust::FrameType type{};
  std::string_view payload;
  while (decoder.next(type, payload) != gust::FrameDecoder::Status::kFrame) {
    char buf[256];
    ssize_t n = recv(channels.host[2], buf, sizeof buf, 0);
    REQUIRE_MESSAGE(n > 0, "the worker's channel ended or stayed silent for 10 s before READY");
    decoder.feed(buf, static_cast<size_t>(n));
  }
  CHECK(type == gust::FrameType::kReady);

  // A worker whose host closes its channel stops; its parent reports how.
  close(std::exchange(channels.host[2], -1));
  gust::ForkReply exited = server.reply();
  CHECK(exited.type == gust::kForkReplyExited);
  CHECK(exited.pid == spawned.pid);
  CHECK(WIFEXITED(exited.value));
  CHECK(WEXITSTATUS(exited.value) == 0);
  CHECK(server.hangUp().status == 0);
}

TEST_CASE("the fork server refuses to run under any parent but the host it was started for") {
  ForkServer server(1);
  CHECK(server.hangUp().status == 1);
}

namespace {

// A clock that moves on by `step` each time it is read, so that a wait which polls it is
// over after a reading or two, whatever the real time.
class SteppingClock final : public gust::Clock {
 public:
  explicit SteppingClock(std::chrono::milliseconds step) : step_(step) {}
  std::chrono::steady_clock::time_point now() const override {
    return std::chrono::steady_clock::time_point(std::chrono::steady_clock::duration(now_ += step_.count()));
  }
  std::chrono::system_clock::time_point wallNow() const override { return {}; }

 private:
  std::chrono::steady_clock::duration step_;
  mutable std::atomic<std::chrono::steady_clock::duration::rep> now_{0};
};

// The host's side of the fork server on the test's own loop, with this test as the host.
class ClientFixture {
 public:
  explicit ClientFixture(const gust::Clock& clock) {
    uv_loop_init(&loop);
    client = std::make_unique<gust::ForkClient>(&loop, clock, env("GUST_BIN"));
    auto started = client->start();
    REQUIRE_MESSAGE(started.ok(), (started.ok() ? "" : started.error().message));
  }
  ~ClientFixture() {
    bool closed = false;
    client->close([&closed] { closed = true; });
    runLoopUntil(&loop, "the fork client to close", [&closed] { return closed; });
    client.reset();
    runLoopToEnd(&loop, "the fork client's handles to close");
    CHECK(uv_loop_close(&loop) == 0);
  }

  uv_loop_t loop{};
  std::unique_ptr<gust::ForkClient> client;
};

}  // namespace

TEST_CASE("a fork server that died young is restarted once the restart delay has passed by the clock") {
  ManualClock clock;
  ClientFixture f(clock);
  pid_t first = f.client->pid();
  REQUIRE(::kill(first, SIGKILL) == 0);
  REQUIRE(runLoopUntil(&f.loop, "the fork client to see the server's exit", [&] { return f.client->restarts() == 1; }));
  CHECK_FALSE(f.client->running());
  // Short of the delay it stays down, however often the client looks.
  clock.advance(std::chrono::milliseconds(999));
  f.client->tick();
  CHECK_FALSE(f.client->running());
  clock.advance(std::chrono::milliseconds(1));
  f.client->tick();
  REQUIRE(f.client->running());
  pid_t second = f.client->pid();
  CHECK(second != first);

  // One that served longer than the delay is started again at once.
  clock.advance(std::chrono::milliseconds(1000));
  REQUIRE(::kill(second, SIGKILL) == 0);
  REQUIRE(runLoopUntil(&f.loop, "the fork client to see the server's exit", [&] { return f.client->restarts() == 2; }));
  CHECK(f.client->running());
  CHECK(f.client->pid() != second);
}

TEST_CASE("a fork server that does not answer within the answer timeout by the clock is killed, and fork() fails") {
  SteppingClock clock(std::chrono::milliseconds(1000));  // each reading a whole answer timeout later
  ClientFixture f(clock);
  pid_t stuck = f.client->pid();
  REQUIRE(::kill(stuck, SIGSTOP) == 0);
  Channels channels;
  bool exit_reported = false;
  auto forked = f.client->fork("/", {"--app", "stuck"}, {}, {channels.worker[0], channels.worker[1], channels.worker[2]},
                               [&exit_reported](int64_t, int) { exit_reported = true; });
  REQUIRE_FALSE(forked.ok());
  CHECK(forked.error().kind == gust::ErrorKind::kUnavailable);
  CHECK(forked.error().message == "the fork server did not answer");
  CHECK_FALSE(f.client->running());
  // Killed for it (a stopped process dies of SIGKILL too), and replaced.
  REQUIRE(runLoopUntil(&f.loop, "the fork client to see the server's exit", [&] { return f.client->restarts() == 1; }));
  CHECK_FALSE(processAlive(stuck));
  CHECK(f.client->running());
  CHECK(f.client->pid() != stuck);
  CHECK_FALSE(exit_reported);  // nothing was forked, so no exit is owed
}
