#pragma once
// The streams of the apps' manifests ("streams"): a topic's events served to clients as
// Server-Sent Events or WebSocket messages, resumed from the last seq a client saw
// (docs/architecture.md "Retained events", README "Streams").
//
// Contract:
// - Owning thread: the loop thread; owned by the HttpTrigger, which routes a stream's path
//   here (the router checks stream paths against every app's routes).
// - Borrows the hub and the queue backend, which outlive it. Each app with streams retains
//   their topics under the owner "stream:<app>" (QueueBackend::bindTopics) from its deploy
//   until its removal.
// - A resuming client's backlog (the retained log after its last seq) is sent at the pace
//   it reads: the replay pauses while bytes wait for the client. Live events are not held
//   for it: a client that falls max_buffered_bytes behind is dropped, and resumes with
//   Last-Event-ID. A redeploy keeps the clients of the streams it keeps; a
//   stream dropped by the new version, or the app's removal, ends its clients.
// - close() ends every client and closes the heartbeat timer; `done` runs once it is closed.

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "functions/manifest.h"
#include "runtime/base/uv_close.h"
#include "runtime/store/key_store.h"
#include "runtime/store/topic_event_hub.h"
#include "triggers/http/http_server.h"
#include "triggers/http/topic_event_format.h"

namespace gust {

struct TopicStreamLimits {
  size_t max_buffered_bytes = 1u << 20;  // per client; past it the client is dropped
  uint64_t heartbeat_ms = 15'000;        // an SSE comment on every stream this often
  uint64_t retry_ms = 3'000;             // the SSE reconnection delay a client is told
};

class TopicStreams {
 public:
  TopicStreams(uv_loop_t* loop, TopicEventHub& hub, QueueBackend& backend, TopicStreamLimits limits);
  ~TopicStreams();
  TopicStreams(const TopicStreams&) = delete;
  TopicStreams& operator=(const TopicStreams&) = delete;

  // The app's streams from now on; retains their topics.
  void setApp(const std::string& app, const std::vector<StreamSpec>& streams, Auth app_auth);
  void removeApp(const std::string& app);

  // Serves a GET of a stream path of `app`: SSE for `Accept: text/event-stream`, a WebSocket
  // for an upgrade, 406 otherwise. `keys` checks a keyed stream's caller (null: refuse).
  void serve(const std::string& app, HttpRequest&& request, HttpResponder&& responder, const KeyStore* keys);

  void close(std::function<void()> done);

  size_t clients() const { return clients_.size(); }
  uint64_t eventsSent() const { return events_sent_; }

 private:
  struct Stream {
    StreamSpec spec;
    Auth auth = Auth::kPublic;
  };
  struct Client {
    std::string app;
    std::string path;
    StreamFilter filter;
    TopicEventHub::Token token = 0;
    ResponseStream sse;  // one of the two is open
    WebSocket socket;
    size_t bufferedBytes() const { return socket.open() ? socket.bufferedBytes() : sse.bufferedBytes(); }
  };
  class SocketHandler;
  // The last event formatted one way: a fan-out hands one event to every client in a row,
  // so each is formatted once, not once per client.
  struct Formatted {
    std::string topic;
    uint64_t seq = 0;
    std::string text;
  };

  const Stream* find(const std::string& app, const std::string& path) const;
  void deliver(uint64_t id, const TopicEvent& event);
  void drop(uint64_t id);
  void heartbeat();
  static const std::string& formatted(const TopicEvent& event, Formatted& last,
                                      std::string (*format)(const TopicEvent&));

  uv_timer_t heartbeat_{};
  CloseCounter closer_;
  TopicEventHub& hub_;
  QueueBackend& backend_;
  const TopicStreamLimits limits_;
  std::map<std::string, std::map<std::string, Stream>> streams_;  // app -> path -> stream
  std::map<uint64_t, Client> clients_;
  uint64_t next_client_ = 1;
  uint64_t events_sent_ = 0;
  Formatted last_sse_;
  Formatted last_websocket_;
  // WebSocket handlers outlive nothing of ours: they hold this weakly.
  std::shared_ptr<TopicStreams*> self_ = std::make_shared<TopicStreams*>(this);
};

}  // namespace gust
