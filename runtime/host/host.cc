#include "runtime/host/host.h"

#include <spdlog/spdlog.h>
#include <uv.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>

#include "runtime/admin/admin_api.h"
#include "runtime/admin/admin_apps.h"
#include "runtime/admin/admin_cluster.h"
#include "runtime/admin/admin_connections.h"
#include "runtime/admin/admin_console.h"
#include "runtime/admin/admin_env.h"
#include "runtime/admin/admin_health.h"
#include "runtime/admin/admin_keys.h"
#include "runtime/admin/admin_invocations.h"
#include "runtime/admin/admin_queues.h"
#include "runtime/admin/admin_topics.h"
#include "runtime/admin/admin_webhooks.h"
#include "runtime/admin/admin_socket.h"
#include "triggers/http/callback_sender.h"
#include "triggers/http/cluster_connections.h"
#include "runtime/store/cluster_notices.h"
#include "runtime/store/redis_invocation_store.h"
#include "runtime/store/sqlite_invocation_store.h"
#include "runtime/store/key_store.h"
#include "runtime/store/state_store.h"
#include "runtime/admin/admin_state.h"
#include "runtime/store/sqlite_writer.h"
#include "triggers/http/async_runner.h"
#include "runtime/admin/admin_logs.h"
#include "runtime/admin/admin_metrics.h"
#include "runtime/apps/app_manager.h"
#include "runtime/apps/cluster_apps.h"
#include "runtime/admin/admin_token.h"
#include "runtime/exec/app_cgroups.h"
#include "runtime/exec/dispatcher.h"
#include "runtime/exec/fork_client.h"
#include "runtime/host/descriptors.h"
#include "runtime/host/drain.h"
#include "runtime/host/host_record.h"
#include "runtime/host/store_probe.h"
#include "runtime/observe/loop_monitor.h"
#include "runtime/store/sqlite_writer.h"
#include "triggers/http/http_trigger.h"
#include "runtime/store/queue_store.h"
#include "runtime/store/redis_client.h"
#include "runtime/store/redis_queue.h"
#include "runtime/store/redis_state_store.h"
#include "runtime/store/redis_timer_claims.h"
#include "runtime/store/topic_event_hub.h"
#include "triggers/queue/queue_trigger.h"
#include "triggers/timer/timer_trigger.h"
#include "triggers/webhooks/webhook_deliveries.h"

namespace gust {
namespace {

// How often an idle consumer of a queue in the cluster's Redis looks again. Other hosts'
// sends wake it through a pub/sub notice (runtime/store/cluster_notices.h); this is the most
// a message waits when that notice was lost (the subscriber was reconnecting).
constexpr std::chrono::milliseconds kSharedQueueRecheck{1000};
// How often a host of a cluster looks for async invocations of hosts that left
// (docs/scale-out.md "Async invocations and records").
constexpr std::chrono::milliseconds kAdoptOrphansEvery{5000};
// This machine's name, as the cluster's host list shows it.
std::string hostName() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

// How long a starting host waits for its backend Redis before it gives up.
constexpr std::chrono::milliseconds kBackendStartWait{10'000};

// Owns everything `gust serve` runs; lives on runHost's stack and is closed before it returns.
class Host {
 public:
  Host(uv_loop_t* loop, const HostOptions& options, const DescriptorBudget& descriptors)
      : loop_(loop),
        options_(options),
        descriptors_(descriptors),
        cgroups_(AppCgroups::ownCgroupsOfThisProcess(), ::getpid()),
        fork_client_(loop, clock_, options.executable),
        dispatcher_(loop, clock_, options.executable, options.containment, &fork_client_),
        http_(loop, clock_, dispatcher_, options.http_limits, options.expose_errors),
        timers_(loop, clock_, dispatcher_, options.data_dir / "timers.json"),
        drain_(loop, clock_),
        readiness_(clock_, [this](UniqueFunction<void(bool)> done) {
          if (writer_) {
            probeHostStores(*writer_, redis_.get(), std::move(done));
          } else {
            done(false);
          }
        }) {
    http_.setMaxConnections(descriptors.public_connections);
    http_.setMaxWebSockets(options.max_websockets);
    // Functions' ctx.send and ctx.close reach the HTTP trigger's WebSocket connections.
    dispatcher_.setConnectionSink(&http_.connections());
    http_.connections().setLimits(options.webSocketLimits());
    // A worker's cgroup that was still busy when the worker ended (its namespace still dying)
    // is removed on a later try; this makes sure there is one, whatever else the host does.
    uv_timer_init(loop, &cgroup_retry_);
    cgroup_retry_.data = this;
    uv_timer_start(&cgroup_retry_, [](uv_timer_t* t) { static_cast<Host*>(t->data)->cgroups_.retryLeftovers(); },
                   1000, 1000);
    uv_unref(reinterpret_cast<uv_handle_t*>(&cgroup_retry_));
  }

  Result<void> load() {
    // Before the first app, so that every version's series and output hooks are in place.
    auto telemetry = Telemetry::create(clock_, options_.otlp_endpoint);
    if (!telemetry) return telemetry.error();
    telemetry_ = std::move(*telemetry);
    loop_monitor_ = std::make_unique<LoopMonitor>(loop_, telemetry_->metrics().loop_iteration_busy->series());
    telemetry_->metrics().loop_busy_max->series().setCallback([m = loop_monitor_.get()] { return m->longestSeconds(); });
    dispatcher_.setTelemetry(telemetry_.get());
    dispatcher_.setCgroups(&cgroups_);
    if (cgroups_.version() == CgroupVersion::kNone) {
      spdlog::warn("{}", noCgroupWarning(cgroups_));
    } else {
      spdlog::info("app limits with cgroup v{} in {}", cgroups_.version() == CgroupVersion::kV2 ? 2 : 1,
                   cgroups_.bases().front());
    }
    // Before the first worker: every worker is forked from it (see ForkClient).
    if (auto started = fork_client_.start(); !started) {
      spdlog::warn("{}; workers will be spawned instead, which makes cold starts slower", started.error().message);
    }
    std::error_code ec;
    std::filesystem::create_directories(options_.data_dir, ec);
    // The data dir holds the admin token and socket: only the host's user may enter it.
    if (!ec) {
      using std::filesystem::perms;
      std::filesystem::permissions(options_.data_dir, perms::group_all | perms::others_all,
                                   std::filesystem::perm_options::remove, ec);
    }
    if (ec) {
      return makeError(ErrorKind::kIo, "cannot create the data dir " + options_.data_dir.string() + " (mode 0700): " +
                                           ec.message() + " (choose another with --data-dir or GUST_DATA)");
    }
    if (auto loaded = timers_.load(); !loaded) return loaded;
    if (auto opened = openQueues(); !opened) return opened;
    auto keys = KeyStore::open(*writer_, clock_);
    if (!keys) return keys.error();
    keys_ = std::move(*keys);
    http_.enableKeys(*keys_);
    if (redis_) {
      auto state = std::make_unique<RedisStateStore>(loop_, *redis_, clock_);
      redis_state_ = state.get();
      state_ = std::move(state);
    } else {
      auto state = SqliteStateStore::open(*writer_, clock_);
      if (!state) return state.error();
      state_ = std::move(*state);
    }
    dispatcher_.setStateStore(state_.get());
    // The first answer, before the admin API listens: a probe right after start finds it.
    // Both stores answer within their deadlines (the writer's busy timeout, Redis's command
    // timeout).
    std::optional<bool> writable;
    probeHostStores(*writer_, redis_.get(), [&writable](bool answer) { writable = answer; });
    while (!writable) uv_run(loop_, UV_RUN_ONCE);
    readiness_.storeAnswered(*writable);
    auto token = loadOrCreateAdminToken(options_.data_dir);
    if (!token) return token.error();
    AppStoreOptions store_options;
    store_options.max_versions = options_.versions_kept;
    store_options.artifact.max_bytes = options_.max_module_bytes;
    auto store = AppStore::open(options_.data_dir, store_options, clock_);
    if (!store) return store.error();
    store_ = std::move(*store);
    env_store_ = std::make_unique<AppEnvStore>(options_.data_dir / "env");
    // Before any app loads: each app's routes, timers and queue consumers start with it.
    apps_ = std::make_unique<AppManager>(loop_, clock_, *store_, *env_store_, dispatcher_,
                                         std::vector<Trigger*>{&http_, &timers_, queue_trigger_.get()},
                                         options_.pool_defaults);
    admin_ = std::make_unique<AdminApi>(loop_, std::move(*token), clock_);
    admin_->setMaxConnections(descriptors_.admin_connections);
    addHealthRoutes(*admin_, readiness_);
    addConsoleRoutes(*admin_);
    addAppRoutes(*admin_, *apps_, dispatcher_, timers_, *keys_, *state_, public_url_);
    addEnvRoutes(*admin_, *apps_);
    addKeyRoutes(*admin_, *keys_, dispatcher_);
    addStateRoutes(*admin_, *state_);
    addQueueRoutes(*admin_, *queue_store_, *queue_trigger_, dispatcher_);
    addTopicRoutes(*admin_, *queue_store_, *queue_trigger_);
    addConnectionRoutes(*admin_, http_.connections());
    if (auto opened = openInvocations(); !opened) return opened;
    if (auto opened = openWebhooks(); !opened) return opened;
    addMetricsRoutes(*admin_, *telemetry_, http_.server(), http_.streams(), timers_, dispatcher_, *queue_store_);
    logs_ = std::make_unique<AdminLogs>(loop_, clock_, telemetry_->logs(), dispatcher_);
    logs_->addRoutes(*admin_);
    for (const auto& dir : options_.app_dirs) {
      if (auto r = apps_->addFromDir(dir); !r) return r;
    }
    if (auto r = apps_->addFromStore(); !r) return r;
    if (redis_) {
      // Deploys through any host reach this one, and this one's reach the others.
      cluster_apps_ = std::make_unique<ClusterApps>(loop_, *redis_, *apps_);
      apps_->setOnChange([cluster = cluster_apps_.get()](const std::string& app, UniqueFunction<void()> then) {
        cluster->publish(app, std::move(then));
      });
      apps_->setOnEnvChange([cluster = cluster_apps_.get()](const std::string& app, const AppEnv& env) {
        cluster->publishEnv(app, env);
      });
      cluster_apps_->start();
      cluster_hosts_ = std::make_unique<ClusterHosts>(
          loop_, *redis_, clock_, [this] { return appsOverview(dispatcher_, timers_, public_url_); });
      cluster_hosts_->addRoutes(*admin_);
    }
    apps_->awaitWarmInstances([this] { readiness_.appsLoaded(); });
    return {};
  }

  // Listens on the admin socket (and TCP port, if asked) and the HTTP port; returns the
  // HTTP port.
  Result<int> listen() {
    std::error_code ec;
    std::filesystem::path socket = std::filesystem::absolute(options_.admin_socket, ec);
    if (ec) socket = options_.admin_socket;
    if (auto claimed = claimAdminSocket(socket, options_.data_dir); !claimed) return claimed.error();
    if (auto r = admin_->listenUnix(socket.string()); !r) {
      return makeError(r.error().kind, "admin API: " + r.error().message + " (choose another path with --admin-socket)");
    }
    admin_socket_ = socket;
    if (const auto& tcp = options_.admin_listen) {
      auto admin = admin_->listenTcp(tcp->host, tcp->port);
      if (!admin) {
        return makeError(admin.error().kind, "admin API on " + tcp->host + ":" + std::to_string(tcp->port) + ": " +
                                                 admin.error().message + " (choose another with --admin-listen)");
      }
      admin_port_ = *admin;
    }
    recordWhereAdminListens();
    auto http = http_.listen(options_.http_host, options_.http_port);
    if (http) public_url_ = "http://" + options_.http_host + ":" + std::to_string(*http);
    if (!http) {
      return makeError(http.error().kind, "HTTP on " + options_.http_host + ":" + std::to_string(options_.http_port) +
                                              ": " + http.error().message + " (choose another with --port)");
    }
    timers_.start();
    if (cluster_hosts_) {
      const std::string name = hostName() + ":" + std::to_string(*http);
      cluster_hosts_->start(name);
      // Before the loop turns again, so that no connection opens unrecorded.
      cluster_connections_ = std::make_unique<ClusterConnections>(loop_, *redis_, http_.connections());
      cluster_connections_->start(name);
      http_.connections().setDirectory(cluster_connections_.get());
      redis_invocations_->setHost(name);
      redis_queue_->setConsumer(name);
    }
    if (async_) async_->start();  // after the apps are loaded: it resumes unfinished invocations
    return http;
  }

  // gust.db holds every queued message: only the host's user may read it.
  Result<void> openQueues() {
    std::filesystem::path db = options_.data_dir / "gust.db";
    int fd = ::open(db.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0 || ::fchmod(fd, 0600) != 0) {
      int err = errno;
      if (fd >= 0) ::close(fd);
      return makeError(ErrorKind::kIo, "cannot open " + db.string() + ": " + std::strerror(err) +
                                           " (check the data dir's owner, or choose another with --data-dir)");
    }
    ::close(fd);
    SqliteWriterOptions writer_options;
    writer_options.path = db;
    writer_options.synchronous = options_.queue_synchronous == QueueSync::kFull ? SqliteConnection::Synchronous::kFull
                                                                                : SqliteConnection::Synchronous::kNormal;
    auto writer = SqliteWriter::open(loop_, writer_options);
    if (!writer) return writer.error();
    writer_ = std::move(*writer);
    QueueLimits limits;
    limits.dedupe_window = options_.queue_dedupe_window;
    if (options_.backend) {
      // Shared with every host on this Redis. The host starts while Redis is still
      // unreachable: the client keeps connecting, and until then queue calls answer 503.
      if (auto usable = RedisClient::checkTls(*options_.backend); !usable) return usable.error();
      redis_ = std::make_unique<RedisClient>(loop_, *options_.backend);
      redis_->start([where = options_.backend->where()](bool up, const std::string& why) {
        if (up) {
          spdlog::info("connected to the backend Redis at {}", where);
        } else {
          spdlog::warn("the backend Redis at {} is unreachable: {}; queue calls answer 503 until it is back", where,
                       why);
        }
      });
      // Loading the apps binds their topics there: wait for the first connection.
      const auto deadline = std::chrono::steady_clock::now() + kBackendStartWait;
      while (!redis_->up() && std::chrono::steady_clock::now() < deadline) uv_run(loop_, UV_RUN_ONCE);
      if (!redis_->up()) {
        std::string why = redis_->lastError();
        return makeError(ErrorKind::kUnavailable,
                         "the backend Redis at " + options_.backend->where() + " did not answer within " +
                             std::to_string(kBackendStartWait.count() / 1000) + " s" + (why.empty() ? "" : ": " + why) +
                             "; start it, or check --backend (GUST_BACKEND)");
      }
      auto queues = std::make_unique<RedisQueue>(*redis_, clock_, limits);
      redis_queue_ = queues.get();
      queue_store_ = std::move(queues);
      timer_claims_ = std::make_unique<RedisTimerClaims>(*redis_);
      timers_.setPointClaim([claims = timer_claims_.get()](const std::string& timer,
                                                           std::chrono::system_clock::time_point point,
                                                           UniqueFunction<void(Result<bool>)> won) {
        claims->claim(timer, point, std::move(won));
      });
    } else {
      auto queues = SqliteQueue::open(*writer_, clock_, limits);
      if (!queues) return queues.error();
      queue_store_ = std::move(*queues);
    }
    queue_trigger_ = std::make_unique<QueueTrigger>(loop_, clock_, dispatcher_, *queue_store_);
    if (redis_) queue_trigger_->setIdleRecheck(kSharedQueueRecheck);
    // Before any app loads: its streams retain their topics and follow them through the hub.
    topic_hub_ = std::make_unique<TopicEventHub>(*queue_store_, loop_);
    if (redis_) {
      // What other hosts commit reaches this host's stream listeners and idle consumers.
      topic_hub_->setShared();
      ClusterNoticeHandlers handlers;
      handlers.event_logged = [this](const std::string& topic, uint64_t seq) {
        topic_hub_->committedElsewhere(topic, seq);
      };
      handlers.messages_ready = [this](const std::string& name) { queue_trigger_->notify(name); };
      cluster_notices_ = std::make_unique<ClusterNotices>(loop_, redis_->endpoint(), std::move(handlers));
    }
    http_.enableStreams(loop_, *topic_hub_, *queue_store_);
    QueueBounds bounds;
    bounds.max_bytes = options_.max_queue_bytes;
    bounds.retention = options_.queue_retention;
    bounds.dead_letter_retention = options_.dead_letter_retention;
    queue_trigger_->setDefaultBounds(bounds);
    // App state's expired keys go on the queues' beat (they read as absent before that).
    queue_trigger_->startSweeping(std::chrono::minutes(1), [this] {
      if (!state_) return;  // opened after the queues
      auto posted = state_->sweep([](Result<int64_t> swept) {
        if (!swept) spdlog::warn("app state sweep failed: {}; the next one tries again", swept.error().message);
      });
      if (!posted) spdlog::warn("app state sweep not started: {}", posted.error().message);
    });
    dispatcher_.setPublisher([trigger = queue_trigger_.get()](std::vector<Publish> publishes, AppStateWrites state,
                                                              const TraceContext& trace,
                                                              UniqueFunction<void(Result<void>)> done) {
      trigger->publish(std::move(publishes), std::move(state), trace, std::move(done));
    });
    return {};
  }

  void printRoutes(int port) {
    std::string base = "http://" + options_.http_host + ":" + std::to_string(port);
    std::printf("gust %s listening on %s\n", GUST_VERSION, base.c_str());
    std::printf("admin API on unix:%s (token in %s)\n", admin_socket_.c_str(),
                std::getenv("GUST_ADMIN_TOKEN") ? "$GUST_ADMIN_TOKEN"
                                                : (options_.data_dir / "admin.token").c_str());
    if (options_.admin_listen) {
      std::string host = options_.admin_listen->host;
      if (host.find(':') != std::string::npos) host = "[" + host + "]";
      std::printf("admin API on http://%s:%d\n", host.c_str(), admin_port_);
    }
    for (const auto& name : dispatcher_.appNames()) {
      const AppInfo* app = dispatcher_.app(name);
      for (const auto& f : app->manifest.functions) {
        for (const auto& r : f.routes) {
          std::string methods;
          for (const auto& m : r.methods) methods += (methods.empty() ? "" : ",") + m;
          std::printf("  %-12s %s%s  -> %s/%s\n", methods.c_str(), base.c_str(), r.path.c_str(), name.c_str(),
                      f.name.c_str());
        }
        if (f.timer) {
          auto next = timers_.scheduler().nextFire(name + "/" + f.name);
          std::printf("  %-12s %s (%s), next %s  -> %s/%s\n", "TIMER", f.timer->schedule.c_str(),
                      f.timer->time_zone.empty() ? "UTC" : f.timer->time_zone.c_str(),
                      next ? formatIso8601(*next, nullptr).c_str() : "never", name.c_str(), f.name.c_str());
        }
        if (f.queue) {
          std::printf("  %-12s %s (batch %u, %u attempts)  -> %s/%s\n", "QUEUE", f.queue->queue.c_str(),
                      f.queue->batch_size, f.queue->max_attempts, name.c_str(), f.name.c_str());
        }
        if (f.topic) {
          std::printf("  %-12s %s%s (batch %u, %u attempts)  -> %s/%s\n", "TOPIC", f.topic->topic.c_str(),
                      f.topic->filter.empty() ? "" : ", filtered", f.topic->delivery.batch_size,
                      f.topic->delivery.max_attempts, name.c_str(), f.name.c_str());
        }
      }
    }
    std::fflush(stdout);
  }

  void watchSignals() {
    for (uv_signal_t* s : {&sigint_, &sigterm_}) {
      uv_signal_init(loop_, s);
      s->data = this;
    }
    auto on_signal = [](uv_signal_t* s, int signum) { static_cast<Host*>(s->data)->onSignal(signum); };
    uv_signal_start(&sigint_, on_signal, SIGINT);
    uv_signal_start(&sigterm_, on_signal, SIGTERM);
  }

  // Closes what is open; used on a failed start as well as after a drain.
  void shutdown() {
    if (closed_) return;
    closed_ = true;
    uv_signal_stop(&sigint_);
    uv_signal_stop(&sigterm_);
    drain_.close(nullptr);
    if (loop_monitor_) loop_monitor_->close(nullptr);
    if (cluster_apps_) cluster_apps_->close(nullptr);  // deploys from elsewhere stop here
    if (cluster_hosts_) cluster_hosts_->close(nullptr);  // and the cluster hears this host leave
    if (cluster_connections_) cluster_connections_->close(nullptr);  // calls from other hosts stop here
    if (cluster_notices_) cluster_notices_->close(nullptr);  // other hosts' commits stop reaching this one
    if (topic_hub_) topic_hub_->close(nullptr);  // no fan-out outlives the streams it feeds
    own_handles_closer_.closeAll({reinterpret_cast<uv_handle_t*>(&sigint_), reinterpret_cast<uv_handle_t*>(&sigterm_),
                             reinterpret_cast<uv_handle_t*>(&cgroup_retry_)},
                            nullptr);
    // Triggers first, so nothing new arrives; then the pools, which answer what is left
    // (a queue batch's answer still settles: the writer is open until after the pools).
    auto closed = std::make_shared<int>(2 + (admin_ ? 1 : 0) + (queue_trigger_ ? 1 : 0) + (webhooks_ ? 1 : 0));
    auto then = [this, closed] {
      if (--*closed != 0) return;
      // Async runs still in flight are left `running` for the next start.
      closeAsyncRunner([this] {
        dispatcher_.close([this] {
          auto last = [this] {
            // The fork server goes last: it reports the exits of the workers the pools stop.
            auto close_fork = [this] { fork_client_.close([] {}); };
            // After the pools: their last batches settled through it.
            if (redis_) {
              auto close_redis = [this, close_fork] { redis_->close(close_fork); };
              if (redis_state_) {
                redis_state_->close(close_redis);
              } else {
                close_redis();
              }
            } else {
              close_fork();
            }
          };
          // The writer completes every queued write before its thread stops; the stores'
          // jobs borrow the stores, which are freed only after this.
          auto close_writer = [this, last] {
            if (writer_) {
              writer_->close(last);
            } else {
              last();
            }
          };
          // The pools have answered everything: the last records can be written.
          if (recorder_) {
            recorder_->close(close_writer);
          } else {
            close_writer();
          }
        });
      });
    };
    timers_.close(then);
    http_.close(then);
    if (logs_) logs_->close(nullptr);  // answers held log polls, so the admin API can close
    if (admin_) {
      // Removed once closed, so the next host on this data dir finds no stale file.
      admin_->close([this, then] {
        if (!admin_socket_.empty()) ::unlink(admin_socket_.c_str());
        if (!host_record_.empty()) {
          std::error_code ignored;
          std::filesystem::remove(host_record_, ignored);
        }
        then();
      });
    }
    if (queue_trigger_) queue_trigger_->close(then);
    if (webhooks_) webhooks_->close(then);  // answers its attempts still out as failed
  }

 private:
  // So that the CLI finds this host from any folder (runtime/host/host_record.h). Without a
  // record the CLI still finds it through its data dir, so a failure is a warning.
  void recordWhereAdminListens() {
    auto dir = hostRecordDir();
    if (!dir) return;
    HostRecord record;
    record.pid = ::getpid();
    record.admin_socket = admin_socket_;
    if (const auto& tcp = options_.admin_listen) {
      std::string host = tcp->host.find(':') != std::string::npos ? "[" + tcp->host + "]" : tcp->host;
      record.admin_url = "http://" + host + ":" + std::to_string(admin_port_);
    }
    std::error_code ec;
    record.data_dir = std::filesystem::absolute(options_.data_dir, ec);
    if (ec) record.data_dir = options_.data_dir;
    auto written = writeHostRecord(*dir, record);
    if (!written) {
      spdlog::warn("not recording where this host's admin API is: {}; the CLI finds it with --data-dir {}",
                   written.error().message, record.data_dir.string());
      return;
    }
    host_record_ = *written;
  }

  // Invocation records and async invocations (Prefer: respond-async) on openQueues()'
  // writer, or with --backend on Redis (every host polls and lists them): the store, the
  // recorder, the runner and the callback sender.
  Result<void> openInvocations() {
    InvocationStoreOptions store_options;
    store_options.async_retention = options_.record_retention;
    store_options.record_retention = options_.record_retention;
    store_options.idempotency_window = std::min(store_options.idempotency_window, options_.record_retention);
    if (redis_) {
      auto store = RedisInvocationStore::open(*redis_, clock_, store_options);
      if (!store) return store.error();
      redis_invocations_ = store->get();
      redis_invocations_->setAdoptAfter(ClusterHosts::kGoneAfter);
      invocations_ = std::move(*store);
    } else {
      auto store = SqliteInvocationStore::open(*writer_, clock_, store_options);
      if (!store) return store.error();
      invocations_ = std::move(*store);
    }
    InvocationRecorderOptions recorder_options;
    recorder_options.successes_per_second = options_.records_per_second;
    recorder_ = std::make_unique<InvocationRecorder>(loop_, clock_, *invocations_,
                                                     telemetry_->metrics().records_dropped->series(), recorder_options);
    dispatcher_.setRecorder(recorder_.get());
    CallbackSenderOptions callback_options;
    callback_options.allowed = options_.callback_allow;
    callbacks_ = std::make_unique<CallbackSender>(clock_, callback_options);
    AsyncRunnerOptions async_options;
    async_options.expose_errors = options_.expose_errors;
    async_options.max_pending_async = options_.max_pending_async;
    if (redis_) async_options.adopt_every = kAdoptOrphansEvery;
    async_ = std::make_unique<AsyncRunner>(
        loop_, clock_, dispatcher_, *invocations_, *callbacks_,
        [this](const AsyncInvocation& stored) { return http_.asyncInvocation(stored); }, async_options);
    http_.enableAsync(*invocations_, *async_);
    addInvocationRoutes(*admin_, *invocations_);
    return {};
  }

  // Outbound webhooks on openQueues()' writer and queue trigger, with the callbacks' address
  // rules (--callback-allow).
  Result<void> openWebhooks() {
    auto store = WebhookStore::open(*writer_, clock_);
    if (!store) return store.error();
    webhook_store_ = std::move(*store);
    WebhookDeliveryOptions options;
    options.max_attempts = options_.webhook_attempts;
    options.backoff_base = options_.webhook_backoff;
    options.sender.allowed = options_.callback_allow;
    webhooks_ = std::make_unique<WebhookDeliveries>(loop_, clock_, *webhook_store_, *queue_trigger_, *queue_store_,
                                                    options);
    if (auto started = webhooks_->start(); !started) return started;
    addWebhookRoutes(*admin_, *webhooks_, *queue_store_);
    return {};
  }

  void closeAsyncRunner(std::function<void()> then) {
    if (async_) async_->close(std::move(then));
    else then();
  }

  void onSignal(int signum) {
    if (draining_) {
      spdlog::warn("second signal: stopping now without waiting for in-flight requests");
      shutdown();
      return;
    }
    draining_ = true;
    readiness_.drainBegan();
    spdlog::info("received {}: no new connections; finishing {} in-flight request(s) (up to {} ms)",
                 signum == SIGINT ? "SIGINT" : "SIGTERM", http_.inFlight(), options_.drain_timeout.count());
    http_.stopAccepting();
    drain_.start(options_.drain_timeout, [this] { return http_.inFlight(); }, [this] { shutdown(); });
  }

  uv_loop_t* loop_;
  const HostOptions& options_;
  const DescriptorBudget descriptors_;
  SystemClock clock_;
  std::unique_ptr<Telemetry> telemetry_;  // outlives everything that records into it
  std::unique_ptr<LoopMonitor> loop_monitor_;
  AppCgroups cgroups_;       // outlives the dispatcher, whose workers are in them
  ForkClient fork_client_;  // outlives the dispatcher, whose workers it forked
  Dispatcher dispatcher_;
  HttpTrigger http_;
  TimerTrigger timers_;
  Drain drain_;
  // Outlives the writer and the Redis client (both declared after it), whose answers end
  // its store probes.
  Readiness readiness_;
  // Freed in reverse: the trigger borrows the store, the store the writer; the writer is
  // closed (and its jobs done) in shutdown() before any of them is freed.
  std::unique_ptr<SqliteWriter> writer_;
  std::unique_ptr<RedisClient> redis_;  // with --backend; closed after the pools, like the writer
  std::unique_ptr<QueueBackend> queue_store_;  // SqliteQueue on the writer, or RedisQueue on redis_
  std::unique_ptr<RedisTimerClaims> timer_claims_;  // with redis_: which host fires a timer point
  std::unique_ptr<TopicEventHub> topic_hub_;  // the queue store's retained listener while it lives
  std::unique_ptr<ClusterNotices> cluster_notices_;  // with redis_; tells topic_hub_ and queue_trigger_ of other hosts' commits
  std::unique_ptr<QueueTrigger> queue_trigger_;
  std::unique_ptr<AppStore> store_;
  std::unique_ptr<AppEnvStore> env_store_;
  std::unique_ptr<AppManager> apps_;
  std::unique_ptr<ClusterApps> cluster_apps_;  // with redis_
  std::unique_ptr<ClusterHosts> cluster_hosts_;  // with redis_
  std::unique_ptr<ClusterConnections> cluster_connections_;  // with redis_; the registry's directory
  RedisInvocationStore* redis_invocations_ = nullptr;  // invocations_, when it is on redis_
  RedisQueue* redis_queue_ = nullptr;                   // queue_store_, when it is on redis_
  std::unique_ptr<AdminApi> admin_;
  // See openInvocations. Freed in reverse: the runner and the recorder before the store,
  // the store before the writer (closed in shutdown); the sender's thread is joined last.
  std::unique_ptr<CallbackSender> callbacks_;
  std::unique_ptr<InvocationStore> invocations_;
  std::unique_ptr<KeyStore> keys_;
  std::unique_ptr<StateStore> state_;  // borrows the writer, like keys_, or redis_
  RedisStateStore* redis_state_ = nullptr;  // state_, when it is on redis_
  // Freed before the queue trigger and the writer they borrow (both declared earlier).
  std::unique_ptr<WebhookStore> webhook_store_;
  std::unique_ptr<WebhookDeliveries> webhooks_;
  std::unique_ptr<InvocationRecorder> recorder_;
  std::unique_ptr<AsyncRunner> async_;
  std::unique_ptr<AdminLogs> logs_;
  std::string public_url_;  // the HTTP listener's base URL, once it listens
  std::filesystem::path admin_socket_;  // absolute; empty until it listens
  int admin_port_ = 0;  // with --admin-listen
  std::filesystem::path host_record_;  // empty until written
  uv_signal_t sigint_{}, sigterm_{};
  uv_timer_t cgroup_retry_{};
  CloseCounter own_handles_closer_;
  bool draining_ = false;
  bool closed_ = false;
};

// Raises the descriptor limit and splits it (before anything opens a descriptor or forks the
// fork server, which would keep the lower limit), and says how.
Result<DescriptorBudget> planHostDescriptors(const HostOptions& options) {
  DescriptorLimit limit = raiseDescriptorLimit();
  auto budget = planDescriptors(limit.soft, options.max_connections);
  if (!budget) return budget;
  std::string raised = limit.soft == limit.soft_before ? "" : ", raised from " + std::to_string(limit.soft_before);
  spdlog::info("descriptors: limit {}{} (hard limit {}); up to {} public connections, {} kept for workers, the admin "
               "API (up to {} connections per listener) and files",
               limit.soft, raised, limit.hard, budget->public_connections, budget->reserve, budget->admin_connections);
  return budget;
}

}  // namespace

int runHost(const HostOptions& options) {
  auto descriptors = planHostDescriptors(options);
  if (!descriptors) {
    std::fprintf(stderr, "gust serve: %s\n", descriptors.error().message.c_str());
    return 1;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  int status = 0;
  {
    Host host(&loop, options, *descriptors);
    auto loaded = host.load();
    Result<int> port = loaded ? host.listen() : Result<int>(loaded.error());
    if (!port) {
      std::fprintf(stderr, "gust serve: %s\n", port.error().message.c_str());
      status = 1;
      host.shutdown();
    } else {
      host.watchSignals();
      host.printRoutes(*port);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
  }
  int rc = uv_loop_close(&loop);
  if (rc != 0) {
    // A handle outlived shutdown: our bug. Say so rather than hide it.
    spdlog::error("event loop closed with open handles ({}); this is a bug in gust", uv_strerror(rc));
    uv_walk(&loop, [](uv_handle_t* h, void*) { spdlog::error("  open handle: {}", uv_handle_type_name(h->type)); },
            nullptr);
    return status == 0 ? 70 : status;
  }
  return status;
}

}  // namespace gust
