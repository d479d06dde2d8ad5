#include "runtime/exec/worker_process.h"

#include "runtime/protocol/http_status.h"
#include "runtime/protocol/worker_contract.h"
#include "gust/abi.h"

#include <signal.h>
#include <sys/socket.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace gust {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxLine = 16 * 1024;

// Output that no invocation answers for is read at most this fast. Past the budget the
// host stops reading the worker's pipe rather than reading and dropping: the kernel's
// socket buffer fills and the printing thread blocks, so a flood costs the host no CPU and
// no memory, and an invocation's own output (read with its result, see drainOutputNow)
// still gets through. Killing the worker instead would also end invocations it serves.
constexpr double kIdleOutputBytesPerSecond = 64 * 1024;
constexpr double kIdleOutputBurst = 256 * 1024;
// Each line costs the host a log record whatever its length: short lines pay as this much.
constexpr size_t kMinLineCost = 256;
// Reading resumes once the budget holds this much again.
constexpr double kResumeBudget = 16 * 1024;

void allocBuffer(uv_handle_t*, size_t, uv_buf_t* buf) {
  // libuv reads into a fresh buffer each time; the decoder copies what it keeps.
  buf->base = static_cast<char*>(::malloc(kReadChunk));
  buf->len = buf->base ? kReadChunk : 0;
}

std::string signalName(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* description = sigdescr_np(sig);
  std::string out = abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
  if (description) out += std::string(" (") + description + ")";
  return out;
}

// One settlement per message of a batch of `batch`, in order: what the worker settled, and an
// ack for every message it did not. A worker that settles a message twice or one outside its
// batch is broken or hostile.
Result<std::vector<Settlement>> settleBatch(size_t batch, std::vector<Settlement>&& settled) {
  std::vector<Settlement> out(batch);
  std::vector<bool> seen(batch, false);
  for (Settlement& s : settled) {
    if (s.index >= batch) {
      return makeError(ErrorKind::kBadInput, "worker settled message " + std::to_string(s.index) + " of a batch of " +
                                                 std::to_string(batch));
    }
    if (seen[s.index]) {
      return makeError(ErrorKind::kBadInput, "worker settled message " + std::to_string(s.index) + " twice");
    }
    seen[s.index] = true;
    out[s.index] = std::move(s);
  }
  for (uint32_t i = 0; i < batch; ++i) {
    if (!seen[i]) out[i].index = i;  // the default: ack
  }
  return out;
}

}  // namespace

Result<Outcome> outcomeOfResult(ResultFrame&& result, size_t batch) {
  Outcome outcome;
  if (result.kind != ResultKind::kOk) {
    outcome.kind = OutcomeKind::kFunctionError;
    outcome.status = httpStatusOf(outcome.kind);
    outcome.message = std::move(result.body);
    return outcome;
  }
  outcome.kind = OutcomeKind::kOk;
  outcome.status = result.status;
  outcome.headers = std::move(result.headers);
  outcome.body = std::move(result.body);
  if (batch > 0 || !result.settlements.empty()) {
    auto settled = settleBatch(batch, std::move(result.settlements));
    if (!settled) return settled.error();
    outcome.settlements = std::move(*settled);
  }
  outcome.publishes = std::move(result.publishes);
  outcome.state_writes = std::move(result.state_writes);
  return outcome;
}

std::string WorkerContainment::describe() const {
  std::string line = namespaces ? (user_namespace ? "namespaces: pid, mount, user" : "namespaces: pid, mount")
                                : "no namespaces";
  if (drop_user) {
    line += "; uid " + std::to_string(uid);
  } else if (namespaces && user_namespace) {
    line += "; the host's uid, no capabilities";
  } else {
    line += "; the host's uid";
  }
  return line + "; seccomp";
}

std::string WorkerExit::describe() const {
  if (term_signal != 0) return "killed by signal " + signalName(term_signal);
  if (exit_status == kWorkerOverMemoryStatus) return "was ended: its processes together held more than memory_mb";
  return "exited with status " + std::to_string(exit_status);
}

WorkerProcess::WorkerProcess(uv_loop_t* loop, const Clock& clock, WorkerListener& listener, uint64_t id)
    : loop_(loop),
      clock_(clock),
      listener_(listener),
      id_(id),
      max_output_(0),
      output_budget_(kIdleOutputBytesPerSecond, kIdleOutputBurst, clock.now()) {
  out_.owner = this;
  out_.name = "stdout";
  err_.owner = this;
  err_.name = "stderr";
}

WorkerProcess::~WorkerProcess() {
  // The pool frees a worker only from close()'s callback.
  assert(closing_ || process_.loop == nullptr);
  *alive_ = false;
}

Result<void> WorkerProcess::spawn(const WorkerSpawnOptions& options) {
  app_ = options.app;
  concurrency_ = std::max<uint32_t>(1, options.concurrency);
  capacity_ = concurrency_ > 1 ? concurrency_ : std::max<uint32_t>(1, options.pipeline);
  functions_ = options.functions;
  cgroups_ = options.cgroups;
  logs_ = options.logs;
  state_store_ = options.state;
  connections_ = options.connections;
  max_output_ = options.max_output_per_invocation;
  spawned_at_ = clock_.now();
  last_used_ = spawned_at_;

  uv_pipe_init(loop_, &ipc_, 0);
  uv_pipe_init(loop_, &out_.pipe, 0);
  uv_pipe_init(loop_, &err_.pipe, 0);
  uv_timer_init(loop_, &timer_);
  uv_timer_init(loop_, &output_timer_);
  output_timer_.data = this;
  uv_prepare_init(loop_, &flusher_);
  flusher_.data = this;
  ipc_.data = this;
  out_.pipe.data = &out_;
  err_.pipe.data = &err_;
  timer_.data = this;

  // The worker's stdout, stderr and IPC channel: the host keeps one end of each pair and
  // the worker gets the other, whether it is forked or spawned.
  int pairs[3][2];
  uv_pipe_t* host_ends[3] = {&out_.pipe, &err_.pipe, &ipc_};
  for (int i = 0; i < 3; ++i) {
    std::string why;
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pairs[i]) != 0) {
      why = strerror(errno);
    } else if (int rc = uv_pipe_open(host_ends[i], pairs[i][0]); rc != 0) {
      why = uv_strerror(rc);
      ::close(pairs[i][0]);
      ::close(pairs[i][1]);
    }
    if (!why.empty()) {
      for (int j = 0; j < i; ++j) ::close(pairs[j][1]);  // the host ends close with their handles
      exited_ = true;
      state_ = State::kExited;
      return makeError(ErrorKind::kIo, "cannot create a worker's channels: " + why);
    }
  }
  std::array<int, kForkRequestFds> child_ends = {pairs[0][1], pairs[1][1], pairs[2][1]};

  std::vector<std::string> args = {"--app", options.app, "--module", options.module_path};
  args.push_back("--concurrency");
  args.push_back(std::to_string(concurrency_));
  args.push_back("--memory-mb");
  args.push_back(std::to_string(options.memory_mb));
  const WorkerContainment& c = options.containment;
  args.insert(args.end(), {"--namespaces", c.namespaces ? "1" : "0", "--user-namespace",
                           c.namespaces && c.user_namespace ? "1" : "0", "--tmp-mb", std::to_string(c.tmp_mb)});
  if (options.containment.drop_user) {
    args.insert(args.end(), {"--uid", std::to_string(options.containment.uid), "--gid",
                             std::to_string(options.containment.gid)});
  }
  for (const auto& dir : options.cgroups) args.insert(args.end(), {"--cgroup", dir});
  for (const auto& f : options.functions) {
    args.push_back("--function");
    args.push_back(f);
  }

  Result<void> started = {};
  if (options.fork_client != nullptr && options.fork_client->running()) {
    // Forked from the already linked fork server: no exec, no dynamic linking.
    auto forked = options.fork_client->fork(options.app_dir, args, options.environment, child_ends,
                                            [this](int64_t status, int sig) { onExit(status, sig); });
    if (forked) {
      pid_ = *forked;
    } else {
      spdlog::warn("[{}] cannot fork a worker from the fork server ({}); spawning it instead", app_,
                   forked.error().message);
    }
  }
  if (pid_ == 0) started = spawnProcess(options, args, child_ends);
  for (int fd : child_ends) ::close(fd);
  if (!started) {
    exited_ = true;
    state_ = State::kExited;
    return started;
  }

  uv_read_start(reinterpret_cast<uv_stream_t*>(&ipc_), allocBuffer,
                [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                  static_cast<WorkerProcess*>(s->data)->onIpcRead(n, buf);
                  ::free(buf->base);
                });
  startReading(out_);
  startReading(err_);
  return {};
}

void WorkerProcess::startReading(OutputStream& stream) {
  stream.paused = false;
  uv_read_start(reinterpret_cast<uv_stream_t*>(&stream.pipe), allocBuffer,
                [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
                  auto* stream = static_cast<OutputStream*>(s->data);
                  if (n > 0) stream->owner->onOutput(*stream, buf->base, static_cast<size_t>(n), false);
                  else if (n < 0) stream->owner->onOutput(*stream, nullptr, 0, true);
                  ::free(buf->base);
                });
}

bool WorkerProcess::spendOutputBudget(OutputStream& stream, size_t line_bytes) {
  auto now = clock_.now();
  if (output_budget_.has(1, now)) {
    output_budget_.spend(static_cast<double>(std::max(line_bytes, kMinLineCost)), now);
    return true;
  }
  if (!stream.paused) {
    stream.paused = true;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&stream.pipe));
  }
  if (!output_throttled_) {
    output_throttled_ = true;
    std::string notice = "worker " + std::to_string(id_) +
                         " writes more output outside invocations than the host reads (" +
                         std::to_string(static_cast<int>(kIdleOutputBytesPerSecond / 1024)) +
                         " KiB/s); the rest waits in the worker, and lines cut short are dropped";
    logWithFields(*spdlog::default_logger_raw(), spdlog::level::warn, {{"app", app_}, {"worker", std::to_string(id_)}},
                  notice);
    if (logs_ != nullptr) {
      logs_->append(invocationLogLine({app_, {}, {}, {}}, LogStream::kStderr, spdlog::level::warn, notice));
    }
  }
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&output_timer_))) resumeOutputLater();
  return false;
}

void WorkerProcess::resumeOutputLater() {
  uv_timer_start(&output_timer_, [](uv_timer_t* t) { static_cast<WorkerProcess*>(t->data)->resumeOutput(); },
                 static_cast<uint64_t>(output_budget_.timeUntil(kResumeBudget, clock_.now()).count()) + 1, 0);
}

void WorkerProcess::resumeOutput() {
  if (closing_ || exited_) return;
  if (!output_budget_.has(kResumeBudget, clock_.now())) return resumeOutputLater();
  for (OutputStream* s : {&out_, &err_}) {
    if (s->paused) startReading(*s);
  }
}

Result<void> WorkerProcess::spawnProcess(const WorkerSpawnOptions& options, std::vector<std::string> args,
                                         const std::array<int, kForkRequestFds>& child_ends) {
  args.insert(args.begin(), {options.executable, "worker", "--host-pid", std::to_string(::getpid())});
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> environment = options.environment;
  std::vector<char*> envp;
  for (auto& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);

  uv_stdio_container_t stdio[4];
  stdio[0].flags = UV_IGNORE;
  for (int i = 0; i < 3; ++i) {
    stdio[i + 1].flags = UV_INHERIT_FD;
    stdio[i + 1].data.fd = child_ends[static_cast<size_t>(i)];
  }

  uv_process_options_t opts{};
  opts.file = options.executable.c_str();
  opts.args = argv.data();
  opts.cwd = options.app_dir.c_str();
  opts.env = envp.data();
  opts.stdio = stdio;
  opts.stdio_count = 4;
  // Its own session and process group: a terminal's Ctrl-C reaches only the host, which
  // then drains, and the host can signal the worker's whole group.
  opts.flags = UV_PROCESS_DETACHED;
  opts.exit_cb = [](uv_process_t* p, int64_t status, int sig) {
    static_cast<WorkerProcess*>(p->data)->onExit(status, sig);
  };
  process_.data = this;
  int rc = uv_spawn(loop_, &process_, &opts);
  if (rc != 0) {
    return makeError(ErrorKind::kIo, "cannot start a worker process (" + options.executable + "): " + uv_strerror(rc));
  }
  pid_ = process_.pid;
  return {};
}

void WorkerProcess::invoke(Invocation&& invocation, uint32_t function_index, std::chrono::milliseconds timeout,
                           OutcomeCallback&& done) {
  assert(hasCapacity());
  uint64_t seq = ++next_seq_;
  encodeInvoke(seq, invocation.id, function_index, static_cast<uint32_t>(timeout.count()), invocation.trace,
               invocation.payload, out_buffer_);
  auto now = clock_.now();
  // A serial worker starts a queued invocation only when the one before it answered.
  bool starts_now = concurrency_ > 1 || in_flight_.empty();
  in_flight_.push_back(InFlight{seq, std::move(invocation), function_index, timeout,
                                starts_now ? now + timeout : std::chrono::steady_clock::time_point::max(),
                                std::move(done)});
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(&flusher_))) {
    uv_prepare_start(&flusher_, [](uv_prepare_t* p) { static_cast<WorkerProcess*>(p->data)->flush(); });
  }
  // One queued behind a running invocation has no deadline yet: the timer stays as it is.
  if (starts_now) armTimer();
}

void WorkerProcess::flush() {
  uv_prepare_stop(&flusher_);
  if (out_buffer_.empty()) return;
  std::string bytes;
  bytes.swap(out_buffer_);
  write(std::move(bytes));
}

WorkerProcess::InFlight* WorkerProcess::findInFlight(uint64_t seq) {
  for (auto& inv : in_flight_) {
    if (inv.seq == seq) return &inv;
  }
  return nullptr;
}

void WorkerProcess::armTimer() {
  if (state_ == State::kStopping || closing_) return;  // the stop grace owns the timer then
  if (in_flight_.empty()) {
    uv_timer_stop(&timer_);
    return;
  }
  auto earliest = in_flight_.front().deadline;
  for (const auto& inv : in_flight_) earliest = std::min(earliest, inv.deadline);
  startTimer(earliest);
}

void WorkerProcess::startTimer(std::chrono::steady_clock::time_point deadline) {
  uv_timer_start(&timer_, [](uv_timer_t* t) { static_cast<WorkerProcess*>(t->data)->tick(); },
                 millisecondsUntil(clock_, deadline), 0);
}

void WorkerProcess::write(std::string&& bytes) {
  if (closing_ || exited_) return;
  uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
  auto* stream = reinterpret_cast<uv_stream_t*>(&ipc_);
  int n = uv_try_write(stream, &buf, 1);
  if (n == static_cast<int>(bytes.size())) return;
  size_t sent = n > 0 ? static_cast<size_t>(n) : 0;
  if (n < 0 && n != UV_EAGAIN) {
    protocolError(std::string("cannot write to the worker: ") + uv_strerror(n));
    return;
  }
  struct Write {
    uv_write_t req;
    std::string data;
  };
  auto* w = new Write{{}, bytes.substr(sent)};
  uv_buf_t rest = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  int rc = uv_write(&w->req, stream, &rest, 1, [](uv_write_t* req, int) { delete reinterpret_cast<Write*>(req); });
  if (rc != 0) {
    delete w;
    protocolError(std::string("cannot write to the worker: ") + uv_strerror(rc));
  }
}

void WorkerProcess::onIpcRead(ssize_t nread, const uv_buf_t* buf) {
  if (nread < 0) {
    // EOF or error: the process is going away; its exit callback says how.
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&ipc_));
    return;
  }
  decoder_.feed(buf->base, static_cast<size_t>(nread));
  FrameType type;
  std::string_view payload;
  FrameDecoder::Status status;
  while (!closing_ && (status = decoder_.next(type, payload)) == FrameDecoder::Status::kFrame) {
    onFrame(type, payload);
  }
  if (!closing_ && status == FrameDecoder::Status::kError) protocolError(decoder_.error());
}

void WorkerProcess::onFrame(FrameType type, std::string_view payload) {
  switch (type) {
    case FrameType::kReady: {
      if (state_ != State::kStarting) return protocolError("worker sent READY twice");
      if (!decodeReady(payload)) return protocolError("malformed READY frame");
      state_ = State::kReady;
      listener_.onWorkerReady(*this);
      return;
    }
    case FrameType::kInitError: {
      auto message = decodeInitError(payload);
      init_error_ = message ? message->substr(0, 4096) : "malformed INIT_ERROR frame";
      return;  // the worker exits next; onExit reports it
    }
    case FrameType::kLog: {
      auto log = decodeLog(payload);
      if (!log) return protocolError(log.error().message);
      InFlight* inv = findInFlight(log->seq);
      if (inv == nullptr) return;  // a late line of an invocation already answered
      emitLine(inv, "log", log->message, static_cast<int>(log->level));
      return;
    }
    case FrameType::kResult: {
      auto result = decodeResult(payload);
      if (!result) return protocolError(result.error().message);
      InFlight* inv = findInFlight(result->seq);
      if (inv == nullptr) {
        return protocolError("worker answered an invocation it was not given");
      }
      if (result->flags & ResultFrame::kFlagOutput) drainOutputNow();
      uint64_t seq = result->seq;
      auto outcome = outcomeOfResult(std::move(*result), inv->invocation.payload.messages.size());
      if (!outcome) return protocolError(outcome.error().message);
      finishInvocation(seq, std::move(*outcome));
      return;
    }
    case FrameType::kStateGet:
      return onStateGet(payload);
    case FrameType::kInvoke:
      return protocolError("worker sent an INVOKE frame");
    case FrameType::kStateValue:
      return protocolError("worker sent a STATE_VALUE frame");
    case FrameType::kConnectionCall:
      return onConnectionCall(payload);
    case FrameType::kConnectionStatus:
      return protocolError("worker sent a CONNECTION_STATUS frame");
  }
}

void WorkerProcess::onConnectionCall(std::string_view payload) {
  auto call = decodeConnectionCall(payload);
  if (!call) return protocolError(call.error().message);
  InFlight* inv = findInFlight(call->seq);
  // A call may cross a timeout that already answered its invocation: nobody waits for it.
  if (inv == nullptr) return;
  if (++inv->connection_calls > kMaxConnectionCalls) {
    return protocolError("worker made more than " + std::to_string(kMaxConnectionCalls) +
                         " connection calls in one invocation");
  }
  const uint64_t seq = call->seq;
  auto answer = [this, alive = alive_, seq](int32_t status) {
    // The worker waits for this answer; one that exited or timed out meanwhile needs none.
    if (!*alive || closing_ || exited_ || findInFlight(seq) == nullptr) return;
    std::string frame;
    encodeConnectionStatus(ConnectionStatusFrame{seq, status}, frame);
    write(std::move(frame));
  };
  if (connections_ == nullptr) return answer(GUST_E_NOT_FOUND);
  // The app is the pool's: a worker never names the app whose connection it reaches.
  connections_->call(app_, call->call, std::move(answer));
}

void WorkerProcess::onStateGet(std::string_view payload) {
  auto get = decodeStateGet(payload);
  if (!get) return protocolError(get.error().message);
  InFlight* inv = findInFlight(get->seq);
  // A read may cross a timeout that already answered its invocation: nobody waits for it.
  if (inv == nullptr) return;
  if (inv->state_read_pending) return protocolError("worker read state twice at once for one invocation");
  if (++inv->state_reads > kMaxStateReads) {
    return protocolError("worker read state more than " + std::to_string(kMaxStateReads) + " times in one invocation");
  }
  const uint64_t seq = get->seq;
  if (state_store_ == nullptr) {
    return answerState(seq, {seq, StateReadStatus::kFailed, 0, "this host keeps no app state (it has no data dir)"});
  }
  inv->state_read_pending = true;
  // The app is the pool's: a worker never names the app whose state it reads.
  auto posted = state_store_->get(app_, std::move(get->key), [this, alive = alive_, seq](
                                                                  Result<std::optional<StateItem>> read) {
    if (!*alive) return;
    StateValueFrame answer{seq, StateReadStatus::kMissing, 0, {}};
    if (!read) {
      answer.status = StateReadStatus::kFailed;
      answer.value = read.error().message;
    } else if (*read) {
      answer.status = StateReadStatus::kFound;
      answer.version = (*read)->version;
      answer.value = std::move((*read)->value);
    }
    answerState(seq, std::move(answer));
  });
  if (!posted) answerState(seq, {seq, StateReadStatus::kFailed, 0, posted.error().message});
}

void WorkerProcess::answerState(uint64_t seq, StateValueFrame&& answer) {
  InFlight* inv = findInFlight(seq);
  if (inv == nullptr || closing_ || exited_) return;
  inv->state_read_pending = false;
  std::string frame;
  encodeStateValue(answer, frame);
  write(std::move(frame));
}

void WorkerProcess::finishInvocation(uint64_t seq, Outcome&& outcome) {
  auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&](const InFlight& i) { return i.seq == seq; });
  if (it == in_flight_.end()) return;
  InFlight inv = std::move(*it);
  in_flight_.erase(it);
  last_used_ = clock_.now();
  // The next in a serial worker's queue starts now.
  if (concurrency_ == 1 && !in_flight_.empty()) in_flight_.front().deadline = last_used_ + in_flight_.front().timeout;
  armTimer();
  if (inv.output_dropped > 0) {
    logInvocation(spdlog::level::warn,
                  {app_, inv.invocation.function, inv.invocation.id, traceIdIn(inv.invocation.trace.traceparent)},
                  "output truncated: " + std::to_string(inv.output_dropped) + " more bytes dropped (limit " +
                      std::to_string(max_output_) + " bytes per invocation)");
  }
  listener_.onInvocationDone(*this, std::move(outcome), std::move(inv.done));
}

void WorkerProcess::failAllInFlight(OutcomeKind kind, const std::string& message) {
  while (!in_flight_.empty()) finishInvocation(in_flight_.front().seq, failedOutcome(kind, message));
}

void WorkerProcess::tick() {
  if (closing_ || exited_) return;
  auto now = clock_.now();
  if (state_ == State::kStopping) {
    if (!kill_at_) return;  // killed already, for a timeout
    if (now < *kill_at_) {
      startTimer(*kill_at_);
      return;
    }
    kill_at_.reset();
    kill();  // the grace after SIGTERM is over
    return;
  }
  auto late = std::find_if(in_flight_.begin(), in_flight_.end(), [&](const InFlight& i) { return i.deadline <= now; });
  if (late == in_flight_.end()) {
    armTimer();
    return;
  }
  // Past its deadline: a function cannot be interrupted, so its process goes, and with it
  // whatever else ran there.
  uint64_t seq = late->seq;
  kill();
  state_ = State::kStopping;
  // A serial worker ran only its first; the rest of its queue never started.
  if (concurrency_ == 1) returnQueued(1);
  finishInvocation(seq, failedOutcome(OutcomeKind::kTimedOut,
                                      "function did not answer within its timeout; its worker was killed"));
  failAllInFlight(OutcomeKind::kCrashed, "the worker was killed because another invocation on it ran past its timeout");
}

void WorkerProcess::returnQueued(size_t from) {
  if (in_flight_.size() <= from) return;
  std::vector<WorkerListener::Returned> returned;
  for (size_t i = from; i < in_flight_.size(); ++i) {
    InFlight& inv = in_flight_[i];
    returned.push_back({std::move(inv.invocation), inv.function_index, inv.timeout, std::move(inv.done)});
  }
  in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(from), in_flight_.end());
  listener_.onInvocationsReturned(*this, std::move(returned));
}

void WorkerProcess::stop(std::chrono::milliseconds grace) {
  if (exited_) return;
  state_ = State::kStopping;
  if (pid_ > 0) ::kill(-pid_, SIGTERM);
  kill_at_ = clock_.now() + grace;
  startTimer(*kill_at_);
}

void WorkerProcess::kill() {
  if (exited_ || pid_ <= 0) return;
  // The whole group, so that children the function started go with it.
  ::kill(-pid_, SIGKILL);
  ::kill(pid_, SIGKILL);
}

void WorkerProcess::protocolError(const std::string& why) {
  if (fatal_reason_.empty()) fatal_reason_ = why;
  spdlog::error("[{}] worker {} (pid {}) misbehaved: {}; killing it", app_, id_, pid_, why);
  kill();
}

void WorkerProcess::onOutput(OutputStream& stream, const char* data, size_t size, bool eof) {
  if (eof) {
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&stream.pipe));
    if (!stream.partial.empty()) emitLine(currentInFlight(), stream.name, stream.partial, &stream == &err_ ? 3 : 1);
    stream.partial.clear();
    return;
  }
  int level = &stream == &err_ ? 3 : 1;
  std::string_view chunk(data, size);
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    // Output that is nobody's pays from the budget, line by line; once it is spent the rest
    // of what was read is dropped and the stream pauses (see kIdleOutputBytesPerSecond).
    if (currentInFlight() == nullptr && !spendOutputBudget(stream, std::min(nl, chunk.size()))) {
      output_dropped_ += chunk.size() + stream.partial.size();
      stream.partial.clear();
      return;
    }
    if (nl == std::string_view::npos) {
      // Keep at most kMaxLine of an unfinished line; a line without end is cut.
      size_t room = kMaxLine - std::min(kMaxLine, stream.partial.size());
      stream.partial.append(chunk.substr(0, room));
      if (stream.partial.size() >= kMaxLine) {
        emitLine(currentInFlight(), stream.name, stream.partial, level);
        stream.partial.clear();
      }
      return;
    }
    if (stream.partial.empty()) {
      emitLine(currentInFlight(), stream.name, chunk.substr(0, nl), level);
    } else {
      stream.partial.append(chunk.substr(0, std::min(nl, kMaxLine)));
      emitLine(currentInFlight(), stream.name, stream.partial, level);
      stream.partial.clear();
    }
    chunk.remove_prefix(nl + 1);
  }
}

void WorkerProcess::drainIpcNow() {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&ipc_), &fd) != 0) return;
  std::vector<char> buf(kReadChunk);
  // Bounded: a worker that is gone wrote at most a socket buffer's worth.
  for (int i = 0; i < 64 && !closing_; ++i) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n <= 0) break;
    uv_buf_t chunk = uv_buf_init(buf.data(), static_cast<unsigned>(n));
    onIpcRead(n, &chunk);
  }
}

void WorkerProcess::drainOutputNow() {
  // The worker flushes stdio before it writes RESULT, so whatever the function printed is
  // already in the pipes: read it now, so it is attributed to this invocation.
  char buf[16 * 1024];
  for (OutputStream* s : {&out_, &err_}) {
    uv_os_fd_t fd;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&s->pipe), &fd) != 0) continue;
    for (int i = 0; i < 64; ++i) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      onOutput(*s, buf, static_cast<size_t>(n), false);
    }
  }
}

void WorkerProcess::emitLine(InFlight* inv, const char* stream, std::string_view line, int level) {
  if (inv != nullptr) {
    if (inv->output_bytes >= max_output_) {
      inv->output_dropped += line.size() + 1;
      return;
    }
    inv->output_bytes += line.size() + 1;
  }
  auto spd_level = functionLogLevel(static_cast<uint32_t>(level));
  std::string_view trace_id = inv != nullptr ? traceIdIn(inv->invocation.trace.traceparent) : std::string_view();
  std::string message = std::string(stream) + ": " + std::string(line);
  if (inv != nullptr) {
    logWithFields(*spdlog::default_logger_raw(), spd_level,
                  {{"app", app_},
                   {"function", inv->invocation.function},
                   {"invocation_id", inv->invocation.id},
                   {"trace_id", trace_id}},
                  message);
  } else {
    // Output between invocations, or of a concurrent worker running several at once: it
    // cannot be told whose it is, so it is the worker's.
    std::string worker = std::to_string(id_);
    logWithFields(*spdlog::default_logger_raw(), spd_level, {{"app", app_}, {"worker", worker}}, message);
  }
  if (logs_ != nullptr) {
    InvocationFields fields{app_, {}, {}, {}};
    if (inv != nullptr) fields = {app_, inv->invocation.function, inv->invocation.id, trace_id};
    auto out_stream = stream[0] == 'l' ? LogStream::kLog : stream[3] == 'o' ? LogStream::kStdout : LogStream::kStderr;
    logs_->append(invocationLogLine(fields, out_stream, spd_level, std::string(line)));
  }
}

void WorkerProcess::onExit(int64_t exit_status, int term_signal) {
  exited_ = true;
  if (closing_) {
    closeHandles();
    return;
  }
  // Its exit can be reported before the loop read its last frames (an INIT_ERROR, a
  // RESULT): everything it wrote is in the socket by now, so read that first.
  drainIpcNow();
  if (closing_) return;  // the listener closed it meanwhile; close() saw it had exited
  WorkerExit exit{exit_status, term_signal};
  drainOutputNow();
  if (output_dropped_ > 0) {
    logWithFields(*spdlog::default_logger_raw(), spdlog::level::warn, {{"app", app_}, {"worker", std::to_string(id_)}},
                  "worker " + std::to_string(id_) + " ended; " + std::to_string(output_dropped_) +
                      " bytes of its output outside invocations were dropped");
  }
  State before = state_;
  state_ = State::kExited;
  uv_timer_stop(&timer_);
  // What a serial worker had queued but not started may run elsewhere; the one it was
  // running crashed with it, unless it retired between invocations.
  if (concurrency_ == 1) returnQueued(term_signal == 0 && exit_status == kWorkerRetiredStatus ? 0 : 1);
  failAllInFlight(OutcomeKind::kCrashed,
                  fatal_reason_.empty() ? "function crashed: its worker " + exit.describe()
                                        : "worker killed by the host: " + fatal_reason_);
  std::string init_error = init_error_;
  if (before == State::kStarting && init_error.empty()) {
    init_error = "worker " + exit.describe() + " before it was ready";
  }
  listener_.onWorkerExit(*this, exit, init_error);
}

void WorkerProcess::close(std::function<void()> on_closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(on_closed);
  uv_timer_stop(&timer_);
  // Every invocation is answered exactly once, also when its worker is stopped under it;
  // the listener is not told, since it is the one closing us.
  for (auto& inv : in_flight_) {
    inv.done(failedOutcome(OutcomeKind::kUnavailable, "the worker was stopped before the function answered",
                           std::chrono::milliseconds(1000)));
  }
  in_flight_.clear();
  // libuv reaps a child only while its process handle is open, so a live worker is killed
  // and its handles close after its exit callback; otherwise it would linger as a zombie.
  if (exited_) closeHandles();
  else kill();
}

void WorkerProcess::closeHandles() {
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(&process_), reinterpret_cast<uv_handle_t*>(&ipc_),
                    reinterpret_cast<uv_handle_t*>(&flusher_),
                    reinterpret_cast<uv_handle_t*>(&out_.pipe), reinterpret_cast<uv_handle_t*>(&err_.pipe),
                    reinterpret_cast<uv_handle_t*>(&timer_), reinterpret_cast<uv_handle_t*>(&output_timer_)},
                   std::move(on_closed_));
}

}  // namespace gust
