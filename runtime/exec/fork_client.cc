#include "runtime/exec/fork_client.h"

#include "runtime/exec/worker_environment.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cassert>
#include <cstring>

namespace gust {
namespace {

// A fork takes well under a millisecond; a server that needs a second is stuck. Under
// AddressSanitizer a fork copies the page tables of the sanitizer's shadow memory, which
// (with issue 16's larger binary) passed a second beside other sanitized processes: there a
// stuck server is told from a slow one at five.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::chrono::milliseconds kAnswerTimeout{5000};
#else
constexpr std::chrono::milliseconds kAnswerTimeout{1000};
#endif
// A server that dies sooner than this after starting is restarted only after this long.
constexpr std::chrono::milliseconds kRestartDelay{1000};

std::string describeExit(int64_t exit_status, int term_signal) {
  if (term_signal != 0) {
    const char* name = sigabbrev_np(term_signal);
    return "was killed by signal " + (name ? std::string("SIG") + name : std::to_string(term_signal));
  }
  return "exited with status " + std::to_string(exit_status);
}

}  // namespace

ForkClient::ForkClient(uv_loop_t* loop, const Clock& clock, std::string executable)
    : loop_(loop), clock_(clock), executable_(std::move(executable)) {
  uv_idle_init(loop_, &deliverer_);
  deliverer_.data = this;
  uv_timer_init(loop_, &restart_timer_);
  restart_timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&restart_timer_));
}

ForkClient::~ForkClient() {
  // The owner frees it only from close()'s callback.
  assert(deliverer_.loop == nullptr || uv_is_closing(reinterpret_cast<uv_handle_t*>(&deliverer_)));
}

Result<void> ForkClient::start() {
  assert(!closing_ && server_ == nullptr);
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    return makeError(ErrorKind::kIo, std::string("cannot create the fork server's socket: ") + strerror(errno));
  }
  // Room for the largest request, an app's whole environment included (see fork_protocol.h).
  ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &kForkSocketBuffer, sizeof kForkSocketBuffer);
  auto server = std::make_unique<Server>();
  server->owner = this;
  server->fd = sv[0];
  server->started = clock_.now();

  std::string host_pid = std::to_string(::getpid());
  std::vector<std::string> args = {executable_, "fork-server", "--host-pid", host_pid};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // The server holds no app's variables (each fork request carries its worker's) and none
  // of the host's but the allowlist, so nothing else can leak into a worker through it.
  std::vector<std::string> environment = workerEnvironment({});
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  uv_stdio_container_t stdio[4];
  stdio[0].flags = UV_IGNORE;
  stdio[1].flags = UV_IGNORE;
  // Its own complaints (a crash, say) land where the host's do.
  stdio[2].flags = UV_INHERIT_FD;
  stdio[2].data.fd = STDERR_FILENO;
  stdio[3].flags = UV_INHERIT_FD;
  stdio[3].data.fd = sv[1];
  uv_process_options_t opts{};
  opts.file = executable_.c_str();
  opts.args = argv.data();
  opts.env = envp.data();
  opts.stdio = stdio;
  opts.stdio_count = 4;
  // Its own session, like the workers: a terminal's Ctrl-C reaches only the host, which
  // drains its workers before it closes this server.
  opts.flags = UV_PROCESS_DETACHED;
  opts.exit_cb = [](uv_process_t* p, int64_t status, int sig) {
    auto* s = static_cast<Server*>(p->data);
    s->owner->onServerExit(*s, status, sig);
  };
  server->process.data = server.get();
  int rc = uv_spawn(loop_, &server->process, &opts);
  ::close(sv[1]);
  if (rc != 0) {
    closeServer(std::move(server));
    return makeError(ErrorKind::kIo, "cannot start the fork server (" + executable_ + "): " + uv_strerror(rc));
  }
  uv_poll_init(loop_, &server->poll, server->fd);
  server->poll.data = server.get();
  uv_poll_start(&server->poll, UV_READABLE, [](uv_poll_t* p, int status, int) {
    auto* s = static_cast<Server*>(p->data);
    if (status < 0) s->owner->breakServer(*s, std::string("its socket failed: ") + uv_strerror(status));
    else s->owner->onReadable(*s);
  });
  spdlog::debug("fork server started (pid {})", server->process.pid);
  server_ = std::move(server);
  return {};
}

Result<int> ForkClient::fork(const std::string& dir, const std::vector<std::string>& worker_args,
                             const std::vector<std::string>& environment,
                             const std::array<int, kForkRequestFds>& fds, ExitCallback on_exit) {
  if (!running()) return makeError(ErrorKind::kUnavailable, "the fork server is not running");
  Server& server = *server_;
  uint32_t id = ++next_request_;
  std::string message(sizeof(ForkRequestHeader), '\0');
  ForkRequestHeader header{kForkRequestSpawn, id,
                           static_cast<uint32_t>(1 + worker_args.size() + environment.size()),
                           static_cast<uint32_t>(environment.size())};
  std::memcpy(message.data(), &header, sizeof header);
  message.append(dir).push_back('\0');
  for (const auto& a : worker_args) message.append(a).push_back('\0');
  for (const auto& e : environment) message.append(e).push_back('\0');
  if (message.size() > kMaxForkRequest) {
    return makeError(ErrorKind::kBadInput, "the worker's arguments and environment take " +
                                               std::to_string(message.size()) +
                                               " bytes, more than the fork server takes (" +
                                               std::to_string(kMaxForkRequest) + ")");
  }

  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kForkRequestFds)] = {};
  iovec iov{message.data(), message.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int) * kForkRequestFds);
  std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * kForkRequestFds);
  ssize_t sent;
  while ((sent = ::sendmsg(server.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (sent < 0 && errno == EMSGSIZE) {
    // Larger than this machine lets a datagram be (net.core.wmem_max): the server is fine.
    return makeError(ErrorKind::kBadInput, "the fork request of " + std::to_string(message.size()) +
                                               " bytes does not fit the fork server's socket");
  }
  if (sent != static_cast<ssize_t>(message.size())) {
    // Full (it stopped reading) or gone: either way it cannot fork this worker.
    std::string why = sent < 0 ? strerror(errno) : "short write";
    breakServer(server, "cannot send it a request: " + why);
    return makeError(ErrorKind::kUnavailable, "the fork server did not take the request: " + why);
  }

  // Wait for the answer here: the fork itself is the only work, and exits reported before
  // it are queued for the next loop turn, not delivered into the caller's frame.
  ForkReply answer{};
  auto deadline = clock_.now() + kAnswerTimeout;
  for (;;) {
    ReadStatus status = readReplies(server, id, &answer);
    if (status == ReadStatus::kAnswered) break;
    if (status == ReadStatus::kBroken) return makeError(ErrorKind::kUnavailable, "the fork server failed");
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_.now());
    if (left.count() <= 0) {
      breakServer(server, "it did not answer a request within " + std::to_string(kAnswerTimeout.count()) + " ms");
      return makeError(ErrorKind::kUnavailable, "the fork server did not answer");
    }
    pollfd p{server.fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  if (!exits_.empty() && !delivering_) {
    uv_idle_start(&deliverer_, [](uv_idle_t* idle) {
      uv_idle_stop(idle);
      static_cast<ForkClient*>(idle->data)->deliverExits();
    });
  }
  if (answer.type == kForkReplySpawnFailed) {
    return makeError(ErrorKind::kIo, std::string("the fork server could not fork a worker: ") + strerror(answer.value));
  }
  server.workers[answer.pid] = std::move(on_exit);
  ++forked_;
  return static_cast<int>(answer.pid);
}

ForkClient::ReadStatus ForkClient::readReplies(Server& server, uint32_t request_id, ForkReply* answer) {
  for (;;) {
    // One byte more than a reply: a longer message shows up as a wrong size.
    char buf[sizeof(ForkReply) + 1];
    ssize_t n = ::recv(server.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadStatus::kDrained;
      breakServer(server, std::string("reading its socket failed: ") + strerror(errno));
      return ReadStatus::kBroken;
    }
    if (n == 0) {
      // It is gone; its exit callback follows and reports its workers.
      server.broken = true;
      uv_poll_stop(&server.poll);
      return ReadStatus::kBroken;
    }
    if (n != static_cast<ssize_t>(sizeof(ForkReply))) {
      breakServer(server, "it sent a message of " + std::to_string(n) + " bytes");
      return ReadStatus::kBroken;
    }
    ForkReply reply;
    std::memcpy(&reply, buf, sizeof reply);
    if (reply.type == kForkReplyExited) {
      auto it = server.workers.find(reply.pid);
      if (it == server.workers.end()) continue;  // not one of ours: nothing to tell
      int status = reply.value;
      PendingExit exit{std::move(it->second), WIFEXITED(status) ? WEXITSTATUS(status) : 0,
                       WIFSIGNALED(status) ? WTERMSIG(status) : 0};
      server.workers.erase(it);
      exits_.push_back(std::move(exit));
      continue;
    }
    bool is_answer = reply.type == kForkReplySpawned || reply.type == kForkReplySpawnFailed;
    if (is_answer && answer != nullptr && reply.request_id == request_id) {
      // Stop here: an exit of the worker just forked may follow, and its callback is not
      // registered yet.
      *answer = reply;
      return ReadStatus::kAnswered;
    }
    breakServer(server, is_answer ? "it answered a request it was not asked"
                                  : "it sent a message of unknown type " + std::to_string(reply.type));
    return ReadStatus::kBroken;
  }
}

void ForkClient::onReadable(Server& server) {
  readReplies(server, 0, nullptr);
  deliverExits();
}

void ForkClient::breakServer(Server& server, const std::string& why) {
  if (server.broken) return;
  server.broken = true;
  spdlog::error("fork server (pid {}) misbehaved: {}; killing it", server.process.pid, why);
  uv_poll_stop(&server.poll);
  uv_process_kill(&server.process, SIGKILL);
}

void ForkClient::onServerExit(Server& server, int64_t exit_status, int term_signal) {
  if (&server != server_.get()) return;  // cannot happen: only the current server runs
  std::unique_ptr<Server> dead = std::move(server_);
  // What it reported before it went is still in its socket.
  readReplies(*dead, 0, nullptr);
  if (!closing_) {
    spdlog::error("fork server (pid {}) {}; {} worker(s) died with it; starting it again", dead->process.pid,
                  describeExit(exit_status, term_signal), dead->workers.size());
  }
  for (auto& [pid, on_exit] : dead->workers) {
    // They die with their parent (PDEATHSIG); make sure, with what they started.
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    exits_.push_back(PendingExit{std::move(on_exit), 0, SIGKILL});
  }
  dead->workers.clear();
  bool died_young = clock_.now() - dead->started < kRestartDelay;
  closeServer(std::move(dead));
  if (!closing_) {
    ++restarts_;
    // Start the new one before telling the workers' owners, so that their replacements
    // are already forked from it.
    if (died_young) {
      scheduleRestart();
    } else if (auto started = start(); !started) {
      spdlog::error("{}; workers are spawned instead until it starts", started.error().message);
      scheduleRestart();
    }
  }
  deliverExits();
  maybeFinishClose();
}

void ForkClient::scheduleRestart() {
  restart_at_ = clock_.now() + kRestartDelay;
  armRestartTimer();
}

void ForkClient::armRestartTimer() {
  uv_timer_start(&restart_timer_, [](uv_timer_t* t) { static_cast<ForkClient*>(t->data)->tick(); },
                 millisecondsUntil(clock_, *restart_at_), 0);
}

void ForkClient::tick() {
  if (closing_ || server_ != nullptr || !restart_at_) return;
  if (clock_.now() < *restart_at_) {
    armRestartTimer();
    return;
  }
  restart_at_.reset();
  uv_timer_stop(&restart_timer_);
  if (auto started = start(); !started) {
    spdlog::error("{}; workers are spawned instead until it starts", started.error().message);
    scheduleRestart();
  }
}

void ForkClient::deliverExits() {
  if (delivering_) return;  // the loop below picks up what is queued meanwhile
  delivering_ = true;
  while (!exits_.empty()) {
    PendingExit exit = std::move(exits_.front());
    exits_.pop_front();
    exit.on_exit(exit.exit_status, exit.term_signal);
  }
  delivering_ = false;
}

void ForkClient::closeServer(std::unique_ptr<Server> server) {
  Server* raw = server.get();
  closing_servers_.push_back(std::move(server));
  // The process handle closes only after its exit callback ran (libuv reaps only open
  // handles); the callers close a server after that, or when it never started.
  raw->closer.closeAll({reinterpret_cast<uv_handle_t*>(&raw->poll), reinterpret_cast<uv_handle_t*>(&raw->process)},
                       [this, raw] {
                         ::close(raw->fd);
                         std::erase_if(closing_servers_, [raw](const auto& s) { return s.get() == raw; });
                         maybeFinishClose();
                       });
}

void ForkClient::close(std::function<void()> on_closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(on_closed);
  uv_timer_stop(&restart_timer_);
  // Its workers are gone by now (the host closes this last); its exit callback finishes.
  if (server_ != nullptr) uv_process_kill(&server_->process, SIGKILL);
  maybeFinishClose();
}

void ForkClient::maybeFinishClose() {
  if (!closing_ || server_ != nullptr || !closing_servers_.empty() || finished_) return;
  finished_ = true;
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&deliverer_), reinterpret_cast<uv_handle_t*>(&restart_timer_)},
                   std::move(on_closed_));
}

}  // namespace gust
