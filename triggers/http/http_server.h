#pragma once
// The HTTP/1.1 trigger's server: libuv TCP (or a Unix socket, for the admin API),
// RequestParser, keep-alive, pipelining.
//
// Contract:
//  - Thread: everything here, HttpResponder included, belongs to the loop's thread.
//  - Lifetime: HttpServer is a resource owned by one parent. Call close() and wait for
//    its callback before destroying it (unless listen() was never called). Each
//    connection is an internal object that frees itself in its handles' close callback.
//  - Requests on one connection are answered strictly in order: a response to a later
//    request is buffered until the earlier ones have been sent. At most
//    kMaxOutstandingPerConnection requests per connection wait for an answer; past that
//    the server stops reading from that connection.
//  - HttpResponder may outlive its connection and the server: once the connection is
//    gone, send() does nothing and connected() is false.
//  - listen() makes writes to a peer that went away fail with EPIPE instead of killing the
//    process: it sets SIGPIPE to ignored, process-wide (as Node does).
//  - With setMaxConnections(N), at most N connections hold a descriptor at once: a newcomer
//    at the bound closes the connection idle longest (least recently used), or, when none
//    is idle, is answered 503 and closed at once (docs/security.md, "Connections").
//  - A request with `upgrade` set is the last HTTP read from its connection: bytes after it
//    are kept for the protocol the handler may switch to (HttpResponder::acceptWebSocket).
//    Answered with send() instead, the connection closes after the answer.
//  - Bursts of connections coming or going take at most kTurnShareNs of a loop turn
//    (TurnBudget): past it, newcomers wait in the listen backlog and leavers' descriptors
//    are closed on later turns (docs/architecture.md, "One loop turn").
//  - A connection turned into a WebSocket or a response stream leaves the HTTP bookkeeping
//    (never evicted as idle HTTP; counted by setMaxWebSockets instead); stopAccepting()
//    closes WebSockets with 1001 and ends streams; close() drops them.

#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/base/result.h"
#include "runtime/base/turn_budget.h"
#include "triggers/http/request_parser.h"
#include "triggers/http/response_stream.h"
#include "triggers/http/websocket.h"

namespace gust {

struct HttpResponse {
  int status = 200;
  // Content-Length, Transfer-Encoding, Connection and Date are set by the server and any
  // given here are dropped, except that Content-Length is kept on an answer to HEAD (and
  // on 304) with an empty body, to state the size a GET would have. Fields whose name is
  // not a token, or whose value holds CR, LF or NUL, are dropped (no response splitting).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

class HttpConnection;
struct HttpConnectionLink;

// The one way to answer one request. Move-only. send() once (a second call is ignored); a
// responder destroyed or overwritten without sending answers 500, so a lost answer cannot
// stall the requests pipelined behind it.
class HttpResponder {
 public:
  HttpResponder() = default;  // answers nothing: send() is a no-op
  HttpResponder(HttpResponder&& other) noexcept;
  HttpResponder& operator=(HttpResponder&& other) noexcept;
  HttpResponder(const HttpResponder&) = delete;
  HttpResponder& operator=(const HttpResponder&) = delete;
  ~HttpResponder();

  void send(HttpResponse&& response);
  // Answers an upgrade request (see checkWebSocketHandshake) with 101 and turns the
  // connection into a WebSocket run by `handler`. The bytes the client sent after the
  // request are its first WebSocket bytes. When the connection is gone, or the request was
  // not an upgrade, or the server is at setMaxWebSockets, nothing is switched: the answer is
  // an error response (503 at the bound) and the returned handle is not open; the handler is
  // then destroyed without a call.
  WebSocket acceptWebSocket(const WebSocketHandshake& handshake, WebSocketAccept accept,
                            std::unique_ptr<WebSocketHandler> handler);
  // Answers with `head` and a body written over time through the returned handle: no
  // Content-Length, "Connection: close", and the connection is the stream's until it ends
  // (bytes the client sends are read and dropped). Writes that would queue more than
  // `max_buffered_bytes` close the stream. Not open when the connection is gone or the
  // server is at setMaxWebSockets (then 503 is answered).
  ResponseStream startStream(HttpResponse&& head, size_t max_buffered_bytes);
  // True while the connection the request came on is open and still owed this answer.
  bool connected() const;

 private:
  friend class HttpConnection;
  HttpResponder(std::shared_ptr<HttpConnectionLink> link, uint64_t seq);

  std::shared_ptr<HttpConnectionLink> link_;
  uint64_t seq_ = 0;
};

using HttpHandler = std::function<void(HttpRequest&&, HttpResponder&&)>;
// Looks at a request's head (no body yet) and returns the answer refusing it, or nothing to
// let it through. A refused request's body is never read and "100 Continue" never sent;
// the refusal closes the connection, since the unread body cannot be told from a next request.
using HttpHeadCheck = std::function<std::optional<HttpResponse>(const HttpRequest& head)>;

class HttpServer {
 public:
  static constexpr size_t kMaxOutstandingPerConnection = 16;
  // How much of one loop turn accepting and closing connections may take together.
  static constexpr uint64_t kTurnShareNs = 1'000'000;

  HttpServer(uv_loop_t* loop, HttpLimits limits, HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Checks every request on its head before the body is read; call before listening.
  void setHeadCheck(HttpHeadCheck check) { head_check_ = std::move(check); }

  // Bounds the connections open at once (0, the default: no bound). Idle connections (a
  // keep-alive connection between requests, or one that has sent nothing yet) are kept in
  // the order they fell idle; a newcomer at the bound closes the oldest of them. When none is
  // idle, the newcomer gets a 503 written at once and is closed in the same loop turn (a
  // client whose request had already arrived may see a reset instead), so a flood never
  // holds a descriptor past the bound. Call before listening.
  void setMaxConnections(size_t max) { max_connections_ = max; }
  // Bounds the connections turned into a WebSocket or a response stream (0, the default: no
  // bound). These do not count in setMaxConnections' idle list: a quiet WebSocket is not an
  // idle HTTP connection. Past the bound, acceptWebSocket and startStream answer 503.
  void setMaxWebSockets(size_t max) { max_websockets_ = max; }
  size_t openWebSockets() const { return open_websockets_; }
  size_t openStreams() const { return open_streams_; }  // not yet ended

  // Connections closed to stay within the bound, by reason; counted for the metrics.
  struct BoundCloses {
    uint64_t idle_evicted = 0;
    uint64_t refused = 0;
  };
  const BoundCloses& boundCloses() const { return bound_closes_; }

  // Binds and listens (backlog 511); returns the bound port (port 0 picks a free one).
  // Call at most once (this or listenUnix). After a failure the server must still be
  // closed with close().
  Result<int> listen(const std::string& host, int port);
  // The same on a Unix socket at `path`, which must not exist. It is created mode 0600 (the
  // umask is narrowed around the bind, so it is never open wider, then it is chmod-ed), so
  // only this user (and root) can connect; each request carries its peer's uid. The file is
  // left in place: removing it is the owner's job.
  Result<void> listenUnix(const std::string& path);

  // Closes the listener. Requests in flight keep going; their responses carry
  // "Connection: close", and idle keep-alive connections are closed, so clients move on.
  // WebSockets are closed with 1001 (going away) and response streams are ended.
  void stopAccepting();

  // Requests handed to the handler on connections still open and not yet answered.
  size_t inFlight() const { return in_flight_; }
  size_t connectionCount() const { return connection_count_; }
  // Responses queued for sending since the start, by status class: 1xx..5xx, then any
  // other. Counted here because every answer, the server's own errors included, passes by.
  const std::array<uint64_t, 6>& responsesByClass() const { return responses_by_class_; }

  // Closes the listener and every connection at once (unanswered requests are dropped).
  // `on_closed` runs once, after every handle's close callback; at once if none was open.
  // It may destroy the server.
  void close(std::function<void()> on_closed);

 private:
  friend class HttpConnection;

  Result<void> startListening(int rc, const std::string& where);
  void onConnection(int status);
  // On a later turn: the closes and the accept that waited for one.
  void resumeBurst();
  // The list of connections whose handles wait for a turn to close (HttpConnection::close).
  void waitToClose(HttpConnection* conn);
  void stopWaitingToClose(HttpConnection* conn);
  uv_stream_t* listenerStream() { return reinterpret_cast<uv_stream_t*>(&listener_); }
  void closeListener();
  void onListenerClosed();
  void onConnectionClosed(HttpConnection* conn);
  void maybeFinishClose();
  // Runs the sweep over WebSockets often enough for `limits` (see HttpConnection::sweep).
  void startSweep(const WebSocketLimits& limits);
  void sweep();
  // Moves `conn` into the idle list (as its newest) or out of it; nothing when unchanged.
  void setIdle(HttpConnection* conn, bool idle);
  // Makes room for a newcomer at the bound: true when the oldest idle connection was closed,
  // false when the newcomer must be refused.
  bool evictIdle();
  // A warning that the bound closes (or refuses) connections, at most once a minute each, so
  // that a first refusal is told even right after a warning about closing idle ones.
  void warnAtBound(std::optional<uint64_t>& last_warning_ms, const char* action);
  // "Date: <IMF-fixdate>\r\n", formatted at most once per second.
  std::string_view dateLine();

  uv_loop_t* loop_;
  HttpLimits limits_;
  HttpHandler handler_;
  HttpHeadCheck head_check_;
  // A TCP or a Unix-socket listener; both are streams, so everything past listen is shared.
  union Listener {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } listener_{};
  bool unix_ = false;
  enum class ListenerState { kNone, kOpen, kClosing, kClosed } listener_state_ = ListenerState::kNone;
  bool draining_ = false;  // stopAccepting() was called
  bool closing_ = false;   // close() was called
  std::function<void()> on_closed_;

  // Intrusive list of live connections, so close() reaches them all.
  HttpConnection* connections_ = nullptr;
  size_t connection_count_ = 0;
  size_t in_flight_ = 0;

  // The bound (setMaxConnections): connections accepted and not yet closing, which are the
  // ones holding a descriptor, and the idle ones among them, oldest first.
  size_t max_connections_ = 0;
  size_t max_websockets_ = 0;
  size_t open_websockets_ = 0;
  size_t open_streams_ = 0;
  // One timer for the pings, idle timeouts and close waits of every WebSocket, started with
  // the first one, so that an idle WebSocket costs no timer of its own.
  uv_timer_t sweep_timer_{};
  enum class SweepState { kNone, kRunning, kClosing, kClosed } sweep_state_ = SweepState::kNone;
  uint64_t sweep_period_ms_ = 0;
  TurnBudget budget_;
  enum class BudgetState { kOpen, kClosing, kClosed } budget_state_ = BudgetState::kOpen;
  bool accept_waiting_ = false;  // the listener holds a connection we did not take yet
  HttpConnection* close_first_ = nullptr;  // waiting to close, oldest first
  HttpConnection* close_last_ = nullptr;
  size_t open_count_ = 0;
  HttpConnection* idle_oldest_ = nullptr;
  HttpConnection* idle_newest_ = nullptr;
  BoundCloses bound_closes_;
  std::string where_;  // what the listener is bound to, for the warning
  std::optional<uint64_t> last_eviction_warning_ms_;
  std::optional<uint64_t> last_refusal_warning_ms_;
  std::array<uint64_t, 6> responses_by_class_{};

  // Reads are consumed synchronously in the read callback, so one buffer serves every
  // connection of this loop.
  std::unique_ptr<char[]> read_buffer_;

  std::time_t date_second_ = 0;
  std::string date_line_;
};

// The reason phrase of `status` ("Not Found"), or "Unknown".
std::string_view reasonPhrase(int status);

// An RFC 9457 problem: application/problem+json {type:"about:blank",title,status,detail},
// and invocation_id (an extension member) when one is given.
HttpResponse problemResponse(int status, std::string_view title, std::string_view detail,
                             std::string_view invocation_id = {});

}  // namespace gust
