#include "triggers/http/http_server.h"

#include "triggers/http/http_text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cassert>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <cstring>

#include <sys/socket.h>
#include <sys/stat.h>

#include <spdlog/spdlog.h>

#include "runtime/base/text.h"
#include "runtime/base/uv_close.h"
#include "triggers/http/websocket_codec.h"
#include "triggers/http/websocket_handshake.h"

namespace gust {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
constexpr uint64_t kMaxLingerMs = 2000;
constexpr std::string_view k100Continue = "HTTP/1.1 100 Continue\r\n\r\n";
constexpr uint64_t kBoundWarningIntervalMs = 60'000;
// After the host sent its close frame, how long the peer has to answer with its own before
// the connection is dropped (RFC 6455 §7.1.1 leaves the wait to the server).
constexpr uint64_t kCloseWaitMs = 3000;
// The sweep over WebSockets runs at a quarter of the shortest deadline it keeps, within
// these bounds: one timer for all of them, whatever their number.
constexpr uint64_t kMinSweepMs = 10;
constexpr uint64_t kMaxSweepMs = 1000;
// A write buffer that grew past this for one large message is given back once written, so
// a connection that falls quiet holds no large buffer.
constexpr size_t kKeptBufferCapacity = 4096;

void releaseLarge(std::string& buffer) {
  if (buffer.capacity() > kKeptBufferCapacity) std::string().swap(buffer);
}

using http::equalsIgnoreCase;
using http::lowerAscii;

bool isDigits(std::string_view s) {
  return !s.empty() && s.size() <= 18 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

void appendNumber(std::string& out, uint64_t n) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), n);
  (void)ec;
  out.append(buf, static_cast<size_t>(end - buf));
}

size_t statusClassIndex(int status) { return status >= 100 && status <= 599 ? status / 100 - 1 : 5; }

// Appends the status line, the handler's fields the server lets through (see HttpResponse)
// and the Date line; `given_length` receives a Content-Length the handler gave.
void appendHead(std::string& out, int status, const HttpResponse& response, std::string_view date_line,
                std::string_view* given_length) {
  size_t header_bytes = 0;
  for (const auto& [name, value] : response.headers) header_bytes += name.size() + value.size() + 4;
  out.reserve(out.size() + 128 + header_bytes + response.body.size());
  out += "HTTP/1.1 ";
  appendNumber(out, static_cast<uint64_t>(status));
  out += ' ';
  out += reasonPhrase(status);
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (!http::isToken(name) || !http::isSafeFieldValue(value)) continue;
    if (equalsIgnoreCase(name, "content-length")) {
      if (given_length != nullptr) *given_length = value;
      continue;
    }
    if (equalsIgnoreCase(name, "transfer-encoding") || equalsIgnoreCase(name, "connection") ||
        equalsIgnoreCase(name, "date") || equalsIgnoreCase(name, "upgrade")) {
      continue;
    }
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  out += date_line;
}

// Appends one complete response. The server owns the framing fields (see HttpResponse).
void appendResponse(std::string& out, const HttpResponse& response, bool head_request, bool close,
                    bool http10_keep_alive, std::string_view date_line) {
  int status = response.status;
  if (status < 200 || status > 599) status = 500;  // 1xx are ours to send, not the handler's
  std::string_view given_length;
  appendHead(out, status, response, date_line, &given_length);
  // RFC 9110 §8.6: never a Content-Length on 204. On HEAD and 304 it states the size of
  // the representation a GET would carry, which the handler may give without the body.
  bool bodyless = head_request || status == 304 || status == 204;
  if (status != 204) {
    out += "Content-Length: ";
    if (bodyless && response.body.empty() && isDigits(given_length)) {
      out += given_length;
    } else {
      appendNumber(out, response.body.size());
    }
    out += "\r\n";
  }
  if (close) {
    out += "Connection: close\r\n";
  } else if (http10_keep_alive) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
  if (!bodyless) out += response.body;
}

std::string peerAddressOf(uv_tcp_t* tcp) {
  sockaddr_storage peer{};
  int len = sizeof peer;
  char name[INET6_ADDRSTRLEN] = {};
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&peer), &len) == 0) {
    if (peer.ss_family == AF_INET6) {
      uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&peer), name, sizeof name);
    } else {
      uv_ip4_name(reinterpret_cast<sockaddr_in*>(&peer), name, sizeof name);
    }
  }
  return name;
}

}  // namespace

// Shared by a WebSocket connection and its handles.
struct WebSocketLink {
  HttpConnection* conn = nullptr;  // null once the WebSocket is closing or closed
  std::string protocol;
  std::string peer_address;
};

// Shared by a streamed response's connection and its handles.
struct ResponseStreamLink {
  HttpConnection* conn = nullptr;  // null once the stream ended or closed
};

// Shared by a connection and the responders of its requests, so that a responder can
// tell, without touching freed memory, that its connection is gone.
struct HttpConnectionLink {
  HttpConnection* conn = nullptr;  // null once the connection started closing
};

// One accepted connection. Owns its stream (TCP or Unix socket) and uv_timer_t and frees
// itself (through the server, which tracks it) after both close callbacks ran.
class HttpConnection {
 public:
  explicit HttpConnection(HttpServer& server)
      : server_(server), parser_(server.limits_), link_(std::make_shared<HttpConnectionLink>()) {
    link_->conn = this;
    parser_.stopAtHead(static_cast<bool>(server.head_check_));
  }
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // The handles are initialised by the server before accept (so they can always be
  // closed), then start() begins reading.
  uv_tcp_t* tcp() { return &handle_.tcp; }
  uv_pipe_t* pipe() { return &handle_.pipe; }
  uv_timer_t* timer() { return &timer_; }
  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&handle_); }

  void start();
  // Answers a newcomer the server has no room for with `answer`, as far as the socket takes
  // it without waiting, and closes at once.
  void refuseNow(std::string_view answer);
  void respond(uint64_t seq, HttpResponse&& response);
  // Closes the connection: at once, or, when this loop turn's share for closing is spent
  // (HttpServer::kTurnShareNs), it stops reading and answering now and its handles are
  // closed on a later turn, so that ten thousand clients leaving at once do not hold the
  // loop. Either way it is closing from here on.
  void close();
  // The same, with the descriptor released at once (the connection bound needs it).
  void closeNow();
  // The server stopped accepting: close now if no request is in progress; a WebSocket is
  // closed with 1001, a stream ended.
  void drain();
  // Runs after the connection's handles closed, before it is freed: tells a WebSocket
  // handler or a stream's owner that it ended (here, never inside their own calls).
  void reportClosed();

  // After the upgrade request `seq` (see HttpResponder::acceptWebSocket).
  WebSocket acceptWebSocket(uint64_t seq, const WebSocketHandshake& handshake, WebSocketAccept&& accept,
                            std::unique_ptr<WebSocketHandler>&& handler);
  bool webSocketSend(std::string_view data, bool binary);
  void webSocketClose(uint16_t code, std::string_view reason);
  ResponseStream startStream(uint64_t seq, HttpResponse&& head, size_t max_buffered_bytes);
  bool streamWrite(std::string_view bytes);
  void streamEnd();
  void setStreamOnClose(std::function<void()> callback);
  size_t bufferedBytes() const { return out_.size() + writing_.size(); }
  // Whether `size` more bytes may be queued: the bound limits what waits behind bytes the
  // peer has not taken, so one message larger than the bound still goes out to a peer that
  // keeps up, and memory stays within the larger of the two. Callers flush first
  // (startWrite), so that only what the kernel refused counts.
  bool fitsBehindQueued(size_t size, size_t bound) const {
    return bufferedBytes() == 0 || bufferedBytes() + size <= bound;
  }
  // See WebSocket::onDrained and ResponseStream::onDrained.
  void setOnDrained(std::function<void()> callback) { on_drained_ = std::move(callback); }
  // The server's periodic sweep: pings, the idle timeout and the close wait of a WebSocket.
  void sweep(uint64_t now);

  HttpConnection* prev_ = nullptr;
  HttpConnection* next_ = nullptr;
  // The server's idle list (see HttpServer::setIdle).
  bool idle_ = false;
  HttpConnection* idle_prev_ = nullptr;
  HttpConnection* idle_next_ = nullptr;
  // The server's list of connections waiting for a turn to close their handles.
  bool close_waiting_ = false;
  HttpConnection* close_next_ = nullptr;
  HttpConnection* close_prev_ = nullptr;

 private:
  enum class State {
    kOpen,       // reading and answering requests
    kDraining,   // no more requests will be read; answering the ones received
    kLingering,  // all answered and our side shut down; discarding input until EOF
    kClosing,    // uv_close called; waiting for the close callbacks
  };
  // kPendingInput: a WebSocket's first bytes, read with its upgrade request, are fed on
  // the next loop turn, after acceptWebSocket has returned the handle to its caller.
  enum class TimerMode { kNone, kIdle, kHead, kBody, kWrite, kLinger, kPendingInput };
  // What the connection carries: HTTP requests, or, once switched for good, a WebSocket or
  // one streamed response.
  enum class Mode : uint8_t { kHttp, kWebSocket, kStream };

  // A WebSocket's state, allocated when the connection switches, so that an HTTP
  // connection pays nothing for it.
  struct WebSocketState {
    WebSocketState(const WebSocketLimits& l, std::unique_ptr<WebSocketHandler>&& h, uint64_t now)
        : limits(l), parser(l.max_frame_bytes, l.max_message_bytes), handler(std::move(h)),
          last_received_ms(now), last_ping_ms(now) {}
    WebSocketLimits limits;
    WebSocketFrameParser parser;
    std::unique_ptr<WebSocketHandler> handler;
    std::shared_ptr<WebSocketLink> link;
    uint64_t last_received_ms;
    uint64_t last_ping_ms;
    uint64_t close_sent_ms = 0;
    bool close_sent = false;
    bool close_received = false;
    // The code of the close frame that came first (sent or received): what onClose tells.
    std::optional<uint16_t> code;
    std::string reason;
  };
  struct StreamState {
    std::shared_ptr<ResponseStreamLink> link;
    size_t max_buffered_bytes = 0;
    bool ending = false;
    std::function<void()> on_close;
  };

  // A request handed to the handler whose answer cannot be sent yet.
  struct Slot {
    bool head_request = false;
    bool keep_alive = true;
    bool http10 = false;
    bool ready = false;  // answered; `bytes` holds the serialized response
    std::string bytes;
  };

  static void onAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void onWrite(uv_write_t* req, int status);
  static void onShutdown(uv_shutdown_t* req, int status);
  static void onTimer(uv_timer_t* timer);

  size_t outstanding() const { return static_cast<size_t>(next_seq_ - write_seq_); }
  bool allWritten() const {
    return write_seq_ == next_seq_ && !has_final_ && out_.empty() && !write_in_flight_;
  }
  bool quiet() const {
    return allWritten() && unanswered_ == 0 && pending_in_.empty() &&
           parser_.phase() == ParsePhase::kIdle;
  }

  void processInput(std::string_view data);
  void webSocketInput(std::string_view data);
  // Queues the host's close frame (once) and stops the handle being open.
  void sendClose(uint16_t code, std::string_view reason);
  void afterWebSocketChange();
  void afterStreamChange();
  void stopTimer();
  // Everything of closing but the handles: the connection answers, reads and counts no more.
  void beginClosing();
  void closeHandles();
  // Leaves the HTTP bookkeeping for good: the request `seq` (the last one read) is answered
  // by the switch itself.
  void leaveHttp(uint64_t seq, Mode mode, int status);
  // Refuses a switch the connection cannot make now; false when it can.
  bool refuseSwitch(uint64_t seq, bool upgrade);
  void dispatch(HttpRequest&& request);
  void failRequest(int status, std::string_view detail);
  // Answers `response` after the answers owed before it, then closes.
  void refuse(HttpResponse&& response);
  // Runs the server's head check on the request whose head just completed; false when it
  // was refused.
  bool headAccepted();
  void advance();
  void startWrite();
  void startLinger();
  void afterChange();
  void updateReading();
  void updateTimer();

  HttpServer& server_;
  union {
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  } handle_{};
  std::optional<uint32_t> unix_peer_uid_;  // see HttpRequest::unix_peer_uid
  std::string tcp_peer_address_;           // see HttpRequest::tcp_peer_address
  uv_timer_t timer_{};
  uv_write_t write_req_{};
  uv_shutdown_t shutdown_req_{};
  CloseCounter closer_;
  RequestParser parser_;
  std::shared_ptr<HttpConnectionLink> link_;

  State state_ = State::kOpen;
  TimerMode timer_mode_ = TimerMode::kNone;
  uint64_t timer_seq_ = 0;  // next_seq_ when the timer was armed
  bool reading_ = false;
  bool processing_ = false;  // inside processInput: the handler may answer synchronously
  bool eof_ = false;         // the client shut down its side
  bool close_after_ = false;  // close once everything owed is written
  bool continue_pending_ = false;  // "100 Continue" owed once earlier answers are out
  bool has_final_ = false;  // final_ holds an error answer that ends the connection
  // An upgrade request was read: nothing after it is parsed as HTTP (its bytes wait in
  // pending_in_ for the protocol the handler may switch to).
  bool upgrade_pending_ = false;
  Mode mode_ = Mode::kHttp;
  std::unique_ptr<WebSocketState> ws_;
  std::unique_ptr<StreamState> stream_;

  uint64_t next_seq_ = 0;   // sequence number of the next request handed to the handler
  uint64_t write_seq_ = 0;  // oldest request whose answer is not yet in out_
  size_t unanswered_ = 0;   // handed to the handler, not answered
  std::array<Slot, HttpServer::kMaxOutstandingPerConnection> slots_;

  std::string out_;      // serialized, waiting to be written
  std::string writing_;  // handed to uv_write; kept alive until its callback
  bool write_in_flight_ = false;
  std::string final_;
  std::string pending_in_;  // bytes read but not parsed while at the pipelining cap
  std::function<void()> on_drained_;  // a WebSocket's or stream's owner, told when it may write again
};

void HttpConnection::start() {
  stream()->data = this;
  timer_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
  if (server_.unix_) {
    // Read once: the peer's credentials are those it had when it connected.
    uv_os_fd_t fd = -1;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(stream()), &fd) != 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      closeNow();
      return;
    }
    unix_peer_uid_ = cred.uid;
  } else {
    // Responses are written whole; Nagle would only delay the last segment.
    uv_tcp_nodelay(tcp(), 1);
    // Only a head check (the admin API's login throttle) asks who the peer is; the public
    // listener does not pay for finding out.
    if (server_.head_check_) tcp_peer_address_ = peerAddressOf(tcp());
  }
  afterChange();
}

void HttpConnection::refuseNow(std::string_view answer) {
  uv_buf_t buf = uv_buf_init(const_cast<char*>(answer.data()), static_cast<unsigned int>(answer.size()));
  (void)uv_try_write(stream(), &buf, 1);
  closeNow();
}

void HttpConnection::onAlloc(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buf) {
  auto* conn = static_cast<HttpConnection*>(handle->data);
  *buf = uv_buf_init(conn->server_.read_buffer_.get(), kReadBufferSize);
}

void HttpConnection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* conn = static_cast<HttpConnection*>(stream->data);
  if (nread > 0) {
    std::string_view data(buf->base, static_cast<size_t>(nread));
    if (conn->state_ == State::kOpen && conn->mode_ == Mode::kHttp) {
      conn->processInput(data);
    } else if (conn->state_ == State::kOpen && conn->mode_ == Mode::kWebSocket) {
      conn->webSocketInput(data);
    }
    // Lingering, or a stream: the input is discarded; the peer only needs to see our FIN
    // cleanly, and a stream's client only its own going away.
    return;
  }
  if (nread == 0) return;  // EAGAIN
  if (nread != UV_EOF) {
    conn->close();
    return;
  }
  conn->eof_ = true;
  if (conn->mode_ != Mode::kHttp) {
    conn->afterChange();
    return;
  }
  if (conn->state_ == State::kLingering) {
    conn->close();
    return;
  }
  // A half-closed client still gets the answers it is owed (an error answer included); a
  // request cut off midway will never complete.
  if (conn->state_ == State::kOpen && conn->parser_.phase() != ParsePhase::kIdle &&
      conn->pending_in_.empty()) {
    conn->close();
    return;
  }
  conn->afterChange();
}

void HttpConnection::processInput(std::string_view data) {
  // Input is use: out of the idle list now, so that afterChange() puts the connection back
  // as the newest idle one, even when the request was answered within this call.
  server_.setIdle(this, false);
  processing_ = true;
  while (!data.empty() && state_ == State::kOpen && mode_ == Mode::kHttp) {
    if (outstanding() >= HttpServer::kMaxOutstandingPerConnection || write_in_flight_ || upgrade_pending_) {
      // Backpressure: keep the rest unparsed and stop reading until answers go out.
      pending_in_.append(data);
      break;
    }
    ParseEvent event = parser_.feed(data);
    if (event.kind == ParseEvent::kRequest) {
      HttpRequest request = parser_.takeRequest();
      if (request.upgrade) {
        // The rest may be the new protocol's: kept unparsed, and nothing more is read.
        upgrade_pending_ = true;
        pending_in_.append(data);
        data = {};
      }
      dispatch(std::move(request));
    } else if (event.kind == ParseEvent::kExpectContinue || event.kind == ParseEvent::kHeadComplete) {
      if (!headAccepted()) break;
      if (event.kind == ParseEvent::kExpectContinue) continue_pending_ = true;
    } else if (event.kind == ParseEvent::kError) {
      failRequest(event.status, event.reason);
      break;
    }
  }
  processing_ = false;
  afterChange();
}

void HttpConnection::dispatch(HttpRequest&& request) {
  uint64_t seq = next_seq_++;
  Slot& slot = slots_[seq % slots_.size()];
  slot.head_request = request.method == "HEAD";
  slot.keep_alive = request.keep_alive;
  slot.http10 = request.http_minor == 0;
  slot.ready = false;
  continue_pending_ = false;  // the body arrived anyway
  if (!request.keep_alive) {
    state_ = State::kDraining;
    close_after_ = true;
  }
  ++unanswered_;
  ++server_.in_flight_;
  request.unix_peer_uid = unix_peer_uid_;
  request.tcp_peer_address = tcp_peer_address_;
  server_.handler_(std::move(request), HttpResponder(link_, seq));
}

void HttpConnection::respond(uint64_t seq, HttpResponse&& response) {
  assert(seq >= write_seq_ && seq < next_seq_);
  --unanswered_;
  --server_.in_flight_;
  // What goes out: appendResponse turns a status outside 200..599 into 500.
  ++server_.responses_by_class_[response.status >= 200 && response.status <= 599 ? statusClassIndex(response.status) : 4];
  Slot& slot = slots_[seq % slots_.size()];
  bool close = !slot.keep_alive;
  if (upgrade_pending_ && seq + 1 == next_seq_) {
    // The upgrade was refused (RFC 9110 §7.8 lets the server ignore it), but the bytes
    // after it may belong to the protocol asked for: never read them as HTTP.
    close = true;
    state_ = State::kDraining;
    close_after_ = true;
    pending_in_.clear();
  }
  if (server_.draining_ && !close && seq + 1 == next_seq_ && state_ == State::kOpen &&
      parser_.phase() == ParsePhase::kIdle && pending_in_.empty()) {
    // Shutting down: the last answer tells the client to go elsewhere.
    close = true;
    state_ = State::kDraining;
    close_after_ = true;
  }
  bool keep_alive_10 = slot.http10 && !close;
  if (seq == write_seq_) {
    appendResponse(out_, response, slot.head_request, close, keep_alive_10, server_.dateLine());
    ++write_seq_;
  } else {
    slot.bytes.clear();
    appendResponse(slot.bytes, response, slot.head_request, close, keep_alive_10,
                   server_.dateLine());
    slot.ready = true;
  }
  afterChange();
}

void HttpConnection::failRequest(int status, std::string_view detail) {
  refuse(problemResponse(status, reasonPhrase(status), detail));
}

void HttpConnection::refuse(HttpResponse&& response) {
  ++server_.responses_by_class_[statusClassIndex(response.status)];
  state_ = State::kDraining;
  close_after_ = true;
  final_.clear();
  appendResponse(final_, response, false, true, false, server_.dateLine());
  has_final_ = true;
}

bool HttpConnection::headAccepted() {
  if (!server_.head_check_) return true;
  HttpRequest head = parser_.request();
  head.unix_peer_uid = unix_peer_uid_;
  head.tcp_peer_address = tcp_peer_address_;
  std::optional<HttpResponse> refusal = server_.head_check_(head);
  if (!refusal) return true;
  refuse(std::move(*refusal));
  return false;
}

// Moves every answer that may go out now, in request order, into out_.
void HttpConnection::advance() {
  while (write_seq_ < next_seq_) {
    Slot& slot = slots_[write_seq_ % slots_.size()];
    if (!slot.ready) break;
    out_ += slot.bytes;
    slot.bytes.clear();
    slot.ready = false;
    ++write_seq_;
  }
  if (write_seq_ == next_seq_) {
    if (continue_pending_ && state_ == State::kOpen) out_ += k100Continue;
    continue_pending_ = false;
    if (has_final_) {
      out_ += final_;
      final_.clear();
      has_final_ = false;
    }
  }
}

void HttpConnection::startWrite() {
  if (write_in_flight_ || out_.empty() || state_ == State::kClosing) return;
  uv_buf_t buf = uv_buf_init(out_.data(), static_cast<unsigned int>(out_.size()));
  int n = uv_try_write(stream(), &buf, 1);
  if (n >= 0 && static_cast<size_t>(n) == out_.size()) {
    out_.clear();
    releaseLarge(out_);
    return;
  }
  if (n < 0 && n != UV_EAGAIN) {
    close();
    return;
  }
  writing_.swap(out_);
  out_.clear();
  releaseLarge(out_);
  if (n > 0) writing_.erase(0, static_cast<size_t>(n));
  buf = uv_buf_init(writing_.data(), static_cast<unsigned int>(writing_.size()));
  if (uv_write(&write_req_, stream(), &buf, 1, &HttpConnection::onWrite) != 0) {
    close();
    return;
  }
  write_in_flight_ = true;
}

void HttpConnection::onWrite(uv_write_t* req, int status) {
  auto* conn = static_cast<HttpConnection*>(req->data);
  conn->write_in_flight_ = false;
  conn->writing_.clear();
  releaseLarge(conn->writing_);
  if (conn->state_ == State::kClosing) return;  // cancelled by our own close
  if (status < 0) {
    conn->close();
    return;
  }
  conn->afterChange();
  // Everything that had to wait is with the kernel now: the owner may write again.
  if (conn->state_ == State::kOpen && conn->bufferedBytes() == 0 && conn->on_drained_) {
    std::function<void()> drained = conn->on_drained_;  // a copy: the callback may replace it
    drained();
  }
}

// Closing right after the last write would make the kernel answer any unread input with
// a reset, which can destroy the response before the client reads it. So shut our side
// down, then discard input until the client's FIN or a short timer.
void HttpConnection::startLinger() {
  if (eof_) {
    close();
    return;
  }
  state_ = State::kLingering;
  if (uv_shutdown(&shutdown_req_, stream(), &HttpConnection::onShutdown) != 0) close();
}

void HttpConnection::onShutdown(uv_shutdown_t* req, int status) {
  auto* conn = static_cast<HttpConnection*>(req->data);
  if (status < 0 && conn->state_ != State::kClosing) conn->close();
}

// Brings writes, reads, the timer and the connection's fate in line with its state.
// Called after every event; cheap when nothing changed.
void HttpConnection::afterChange() {
  if (state_ == State::kClosing) return;
  if (mode_ == Mode::kWebSocket) {
    afterWebSocketChange();
    return;
  }
  if (mode_ == Mode::kStream) {
    afterStreamChange();
    return;
  }
  advance();
  startWrite();
  if (state_ == State::kClosing) return;
  if (state_ != State::kLingering) {
    if (eof_ && quiet()) {
      close();
      return;
    }
    if (close_after_ && allWritten() && unanswered_ == 0) {
      startLinger();
      if (state_ == State::kClosing) return;
    } else if (server_.draining_ && state_ == State::kOpen && quiet()) {
      close();
      return;
    }
  }
  if (!processing_) updateReading();
  if (state_ == State::kClosing) return;
  updateTimer();
  server_.setIdle(this, state_ == State::kOpen && !eof_ && quiet());
}

void HttpConnection::updateReading() {
  bool can_parse = state_ == State::kOpen && !upgrade_pending_ &&
                   outstanding() < HttpServer::kMaxOutstandingPerConnection && !write_in_flight_;
  if (can_parse && !pending_in_.empty()) {
    std::string input;
    input.swap(pending_in_);
    processInput(input);  // ends in afterChange(), which comes back here
    return;
  }
  if (can_parse && eof_ && parser_.phase() != ParsePhase::kIdle) {
    close();  // the rest of this request will never come
    return;
  }
  bool want = (can_parse && !eof_) || (state_ == State::kLingering && !eof_);
  if (want == reading_) return;
  reading_ = want;
  if (want) {
    if (uv_read_start(stream(), &HttpConnection::onAlloc, &HttpConnection::onRead) != 0) close();
  } else {
    uv_read_stop(stream());
  }
}

void HttpConnection::updateTimer() {
  const HttpLimits& limits = server_.limits_;
  TimerMode want = TimerMode::kIdle;
  uint64_t timeout = limits.idle_timeout_ms;
  if (state_ == State::kLingering) {
    want = TimerMode::kLinger;
    timeout = std::min(limits.idle_timeout_ms, kMaxLingerMs);
  } else if (state_ == State::kOpen && parser_.phase() == ParsePhase::kHead) {
    want = TimerMode::kHead;
    timeout = limits.header_timeout_ms;
  } else if (state_ == State::kOpen && parser_.phase() == ParsePhase::kBody) {
    want = TimerMode::kBody;
    timeout = limits.body_timeout_ms;
  } else if (write_in_flight_) {
    // The client must take each response within the idle timeout.
    want = TimerMode::kWrite;
  } else if (unanswered_ > 0 || !allWritten()) {
    want = TimerMode::kNone;  // the handler is working; its own deadline applies
  }
  // The head and body deadlines belong to one request: re-arm when the next one starts.
  bool per_request = want == TimerMode::kHead || want == TimerMode::kBody;
  if (want == timer_mode_ && (!per_request || timer_seq_ == next_seq_)) return;
  timer_mode_ = want;
  timer_seq_ = next_seq_;
  if (want == TimerMode::kNone) {
    uv_timer_stop(&timer_);
  } else {
    uv_timer_start(&timer_, &HttpConnection::onTimer, timeout, 0);
  }
}

void HttpConnection::onTimer(uv_timer_t* timer) {
  auto* conn = static_cast<HttpConnection*>(timer->data);
  TimerMode mode = conn->timer_mode_;
  conn->timer_mode_ = TimerMode::kNone;
  if (mode == TimerMode::kPendingInput) {
    conn->afterChange();
    return;
  }
  if (mode == TimerMode::kHead || mode == TimerMode::kBody) {
    // Say why before closing; earlier requests on the connection are still answered.
    conn->failRequest(408, mode == TimerMode::kHead ? "request head not received in time"
                                                    : "request body not received in time");
    conn->afterChange();
    return;
  }
  conn->close();
}

void HttpConnection::close() {
  if (state_ == State::kClosing) return;
  if (server_.budget_.left()) {
    closeNow();
    return;
  }
  beginClosing();
  server_.waitToClose(this);
}

void HttpConnection::closeNow() {
  if (state_ != State::kClosing) {
    beginClosing();
  } else if (close_waiting_) {
    server_.stopWaitingToClose(this);
  } else {
    return;  // the handles are closing already
  }
  closeHandles();
}

void HttpConnection::beginClosing() {
  state_ = State::kClosing;
  // A connection waiting for its turn to close must stay quiet meanwhile.
  uv_read_stop(stream());
  reading_ = false;
  stopTimer();
  server_.setIdle(this, false);
  --server_.open_count_;
  link_->conn = nullptr;
  if (mode_ == Mode::kWebSocket) {
    --server_.open_websockets_;
    ws_->link->conn = nullptr;
  } else if (mode_ == Mode::kStream && !stream_->ending) {
    --server_.open_streams_;  // an ended stream left the count at end()
    stream_->link->conn = nullptr;
  }
  server_.in_flight_ -= unanswered_;
  unanswered_ = 0;
}

void HttpConnection::closeHandles() {
  HttpServer& server = server_;
  HttpConnection* self = this;
  closer_.closeAll({reinterpret_cast<uv_handle_t*>(stream()), reinterpret_cast<uv_handle_t*>(&timer_)},
                   [&server, self] {
                     self->reportClosed();
                     server.onConnectionClosed(self);
                   });
}

void HttpConnection::reportClosed() {
  if (ws_ != nullptr && ws_->handler != nullptr) {
    // The handler learns of the end once, from a close callback: never inside its own
    // onMessage or send, which may be what closed the connection.
    std::unique_ptr<WebSocketHandler> handler = std::move(ws_->handler);
    handler->onClose(ws_->code.value_or(ws_close::kAbnormal), ws_->reason);
  }
  if (stream_ != nullptr && stream_->on_close) {
    std::function<void()> on_close = std::move(stream_->on_close);
    stream_->on_close = nullptr;
    on_close();
  }
}

void HttpConnection::drain() {
  if (mode_ == Mode::kWebSocket) {
    webSocketClose(ws_close::kGoingAway, "the server is shutting down");
  } else if (mode_ == Mode::kStream) {
    streamEnd();
  } else {
    afterChange();
  }
}

void HttpConnection::stopTimer() {
  if (timer_mode_ == TimerMode::kNone) return;
  timer_mode_ = TimerMode::kNone;
  uv_timer_stop(&timer_);
}

bool HttpConnection::refuseSwitch(uint64_t seq, bool upgrade) {
  std::optional<HttpResponse> refusal;
  if (state_ != State::kOpen || server_.draining_) {
    refusal = problemResponse(503, "Service Unavailable", "the server is shutting down; try again elsewhere");
  } else if ((upgrade && !upgrade_pending_) || seq + 1 != next_seq_ || seq != write_seq_) {
    // Taking the connection over needs every earlier answer sent and nothing read after
    // the request; browsers and event-stream clients never pipeline before one.
    refusal = problemResponse(400, "Bad Request",
                              upgrade ? "a WebSocket upgrade must be the only request awaiting an answer on "
                                        "its connection (and an Upgrade request)"
                                      : "a streamed response must answer the only request awaiting an answer "
                                        "on its connection");
  } else if (server_.max_websockets_ > 0 &&
             server_.open_websockets_ + server_.open_streams_ >= server_.max_websockets_) {
    refusal = problemResponse(503, "Service Unavailable",
                              "the server holds as many WebSockets and streams as it may; try again shortly");
    refusal->headers.emplace_back("Retry-After", "1");
  }
  if (!refusal) return false;
  respond(seq, std::move(*refusal));
  return true;
}

void HttpConnection::leaveHttp(uint64_t seq, Mode mode, int status) {
  (void)seq;
  assert(seq == write_seq_ && seq + 1 == next_seq_);
  --unanswered_;
  --server_.in_flight_;
  ++write_seq_;
  ++server_.responses_by_class_[statusClassIndex(status)];
  mode_ = mode;
  upgrade_pending_ = false;
  link_->conn = nullptr;  // no responder is left: this request was the last read
  server_.setIdle(this, false);
  stopTimer();
}

WebSocket HttpConnection::acceptWebSocket(uint64_t seq, const WebSocketHandshake& handshake,
                                          WebSocketAccept&& accept, std::unique_ptr<WebSocketHandler>&& handler) {
  if (refuseSwitch(seq, true)) return {};
  // A subprotocol the client did not offer would make it fail the connection (§4.1).
  bool offered = std::find(handshake.protocols.begin(), handshake.protocols.end(), accept.protocol) !=
                 handshake.protocols.end();
  if (!offered) accept.protocol.clear();
  HttpResponse head;
  head.status = 101;
  head.headers = std::move(accept.headers);
  std::erase_if(head.headers, [](const auto& field) {
    return equalsIgnoreCase(field.first, "sec-websocket-accept") ||
           equalsIgnoreCase(field.first, "sec-websocket-protocol");
  });
  appendHead(out_, 101, head, server_.dateLine(), nullptr);
  out_ += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ";
  out_ += webSocketAccept(handshake.key);
  out_ += "\r\n";
  if (!accept.protocol.empty()) {
    out_ += "Sec-WebSocket-Protocol: ";
    out_ += accept.protocol;
    out_ += "\r\n";
  }
  out_ += "\r\n";
  releaseLarge(out_);
  leaveHttp(seq, Mode::kWebSocket, 101);
  ws_ = std::make_unique<WebSocketState>(accept.limits, std::move(handler), uv_now(server_.loop_));
  ws_->link = std::make_shared<WebSocketLink>();
  ws_->link->conn = this;
  ws_->link->protocol = std::move(accept.protocol);
  ws_->link->peer_address = server_.unix_ ? std::string() : peerAddressOf(tcp());
  ++server_.open_websockets_;
  server_.startSweep(ws_->limits);
  WebSocket socket(ws_->link);
  if (!pending_in_.empty()) {
    timer_mode_ = TimerMode::kPendingInput;
    uv_timer_start(&timer_, &HttpConnection::onTimer, 0, 0);
  }
  if (!processing_) afterChange();
  return socket;
}

void HttpConnection::webSocketInput(std::string_view data) {
  WebSocketState& ws = *ws_;
  ws.last_received_ms = uv_now(server_.loop_);
  processing_ = true;
  while (!data.empty() && state_ == State::kOpen && !ws.close_received && !ws.parser.failed()) {
    WebSocketEvent event = ws.parser.feed(data);
    switch (event.kind) {
      case WebSocketEvent::kNeedMore:
      case WebSocketEvent::kPong:  // its arrival has counted as a sign of life
        break;
      case WebSocketEvent::kMessage:
        // After our close frame, data is dropped (§1.4); the handler is told nothing more.
        if (!ws.close_sent) ws.handler->onMessage(std::move(event.data), event.binary);
        break;
      case WebSocketEvent::kPing:
        if (!ws.close_sent) appendWebSocketFrame(out_, WebSocketOpcode::kPong, event.data);
        break;
      case WebSocketEvent::kClose:
        ws.close_received = true;
        if (!ws.code) {
          ws.code = event.code;
          ws.reason = std::move(event.data);
        }
        // Echo the peer's code (§5.5.1); 1005 means it sent none, and none is sent back.
        sendClose(event.code, {});
        break;
      case WebSocketEvent::kError:
        sendClose(event.code, event.reason);
        break;
    }
  }
  processing_ = false;
  afterChange();
}

void HttpConnection::sendClose(uint16_t code, std::string_view reason) {
  WebSocketState& ws = *ws_;
  if (ws.close_sent) return;
  ws.close_sent = true;
  ws.close_sent_ms = uv_now(server_.loop_);
  if (!ws.code) {
    ws.code = code;
    ws.reason = std::string(reason);
  }
  appendWebSocketClose(out_, code, reason);
  ws.link->conn = nullptr;  // closing: the handle is no longer open
}

bool HttpConnection::webSocketSend(std::string_view data, bool binary) {
  if (state_ != State::kOpen || ws_->close_sent) return false;
  if (!binary && !isValidUtf8(data)) return false;  // the peer would fail the connection (1007)
  startWrite();
  if (state_ != State::kOpen) return false;  // the write found the peer gone
  if (!fitsBehindQueued(webSocketFrameSize(data.size()), ws_->limits.max_buffered_bytes)) {
    sendClose(ws_close::kPolicyViolation, "the client did not read its messages fast enough");
    if (!processing_) afterChange();
    return false;
  }
  appendWebSocketFrame(out_, binary ? WebSocketOpcode::kBinary : WebSocketOpcode::kText, data);
  startWrite();
  return true;
}

void HttpConnection::webSocketClose(uint16_t code, std::string_view reason) {
  if (state_ != State::kOpen || ws_->close_sent) return;
  // 1005, 1006 and 1015 are never sent (§7.4.1): such a caller gets a plain normal close.
  sendClose(isValidCloseCode(code) ? code : ws_close::kNormal, reason);
  if (!processing_) afterChange();
}

void HttpConnection::afterWebSocketChange() {
  WebSocketState& ws = *ws_;
  if (!pending_in_.empty()) {
    if (processing_ || timer_mode_ == TimerMode::kPendingInput) return;
    std::string input;
    input.swap(pending_in_);
    webSocketInput(input);  // ends in afterChange(), which comes back here
    return;
  }
  startWrite();
  if (state_ == State::kClosing) return;
  // The server closes the TCP connection first once both close frames went by (§7.1.1);
  // a peer that vanished without one ends it at once.
  if ((ws.close_sent && ws.close_received && out_.empty() && !write_in_flight_) || eof_) {
    close();
    return;
  }
  if (!reading_) {
    reading_ = true;
    if (uv_read_start(stream(), &HttpConnection::onAlloc, &HttpConnection::onRead) != 0) close();
  }
}

void HttpConnection::sweep(uint64_t now) {
  if (state_ != State::kOpen || mode_ != Mode::kWebSocket) return;
  WebSocketState& ws = *ws_;
  if (ws.close_sent) {
    if (now - ws.close_sent_ms >= kCloseWaitMs) close();
    return;
  }
  if (now - ws.last_received_ms >= ws.limits.idle_timeout_ms) {
    sendClose(ws_close::kGoingAway, "nothing received within the idle timeout");
    afterChange();
    return;
  }
  if (now - std::max(ws.last_received_ms, ws.last_ping_ms) >= ws.limits.ping_interval_ms) {
    ws.last_ping_ms = now;
    appendWebSocketFrame(out_, WebSocketOpcode::kPing, {});
    afterChange();
  }
}

ResponseStream HttpConnection::startStream(uint64_t seq, HttpResponse&& head, size_t max_buffered_bytes) {
  if (refuseSwitch(seq, false)) return {};
  bool head_request = slots_[seq % slots_.size()].head_request;
  int status = head.status >= 200 && head.status <= 599 ? head.status : 500;
  appendHead(out_, status, head, server_.dateLine(), nullptr);
  // No Content-Length: the body ends when the connection does.
  out_ += "Connection: close\r\n\r\n";
  leaveHttp(seq, Mode::kStream, status);
  pending_in_.clear();
  stream_ = std::make_unique<StreamState>();
  stream_->link = std::make_shared<ResponseStreamLink>();
  stream_->link->conn = this;
  stream_->max_buffered_bytes = max_buffered_bytes;
  ++server_.open_streams_;
  ResponseStream handle(stream_->link);
  if (head_request) streamEnd();  // a HEAD answer has no body to stream
  if (!processing_) afterChange();
  return handle;
}

bool HttpConnection::streamWrite(std::string_view bytes) {
  if (state_ != State::kOpen || stream_->ending) return false;
  startWrite();
  if (state_ != State::kOpen) return false;  // the write found the peer gone
  if (!fitsBehindQueued(bytes.size(), stream_->max_buffered_bytes)) {
    // A client that does not read is dropped; what it has not taken is lost with it.
    close();
    return false;
  }
  out_.append(bytes);
  startWrite();
  return true;
}

void HttpConnection::streamEnd() {
  if (state_ != State::kOpen || stream_->ending) return;
  stream_->ending = true;
  stream_->link->conn = nullptr;
  --server_.open_streams_;
  if (!processing_) afterChange();
}

void HttpConnection::setStreamOnClose(std::function<void()> callback) { stream_->on_close = std::move(callback); }

void HttpConnection::afterStreamChange() {
  startWrite();
  if (state_ != State::kOpen && state_ != State::kLingering) return;
  if (eof_) {
    close();  // the client went away, or took the end of the stream
    return;
  }
  if (state_ == State::kOpen && stream_->ending && out_.empty() && !write_in_flight_) {
    startLinger();
    if (state_ == State::kClosing) return;
    updateTimer();
    return;
  }
  if (!reading_ && !eof_) {
    reading_ = true;
    if (uv_read_start(stream(), &HttpConnection::onAlloc, &HttpConnection::onRead) != 0) close();
  }
}

// --- HttpResponder ---

HttpResponder::HttpResponder(std::shared_ptr<HttpConnectionLink> link, uint64_t seq)
    : link_(std::move(link)), seq_(seq) {}

HttpResponder::HttpResponder(HttpResponder&& other) noexcept
    : link_(std::move(other.link_)), seq_(other.seq_) {}

HttpResponder& HttpResponder::operator=(HttpResponder&& other) noexcept {
  if (this != &other) {
    if (link_ != nullptr) {
      send(problemResponse(500, "Internal Server Error", "the request was dropped without an answer"));
    }
    link_ = std::move(other.link_);
    seq_ = other.seq_;
  }
  return *this;
}

HttpResponder::~HttpResponder() {
  if (link_ != nullptr && link_->conn != nullptr) {
    send(problemResponse(500, "Internal Server Error", "the request was dropped without an answer"));
  }
}

void HttpResponder::send(HttpResponse&& response) {
  if (link_ == nullptr) return;  // sent already, or never bound
  std::shared_ptr<HttpConnectionLink> link = std::move(link_);
  if (link->conn != nullptr) link->conn->respond(seq_, std::move(response));
}

bool HttpResponder::connected() const { return link_ != nullptr && link_->conn != nullptr; }

WebSocket HttpResponder::acceptWebSocket(const WebSocketHandshake& handshake, WebSocketAccept accept,
                                         std::unique_ptr<WebSocketHandler> handler) {
  if (link_ == nullptr) return {};
  std::shared_ptr<HttpConnectionLink> link = std::move(link_);
  if (link->conn == nullptr) return {};
  return link->conn->acceptWebSocket(seq_, handshake, std::move(accept), std::move(handler));
}

ResponseStream HttpResponder::startStream(HttpResponse&& head, size_t max_buffered_bytes) {
  if (link_ == nullptr) return {};
  std::shared_ptr<HttpConnectionLink> link = std::move(link_);
  if (link->conn == nullptr) return {};
  return link->conn->startStream(seq_, std::move(head), max_buffered_bytes);
}

// --- WebSocket and ResponseStream handles ---

namespace {
const std::string kNoText;
}  // namespace

bool WebSocket::open() const { return link_ != nullptr && link_->conn != nullptr; }
bool WebSocket::send(std::string_view data, bool binary) { return open() && link_->conn->webSocketSend(data, binary); }
void WebSocket::close(uint16_t code, std::string_view reason) {
  if (open()) link_->conn->webSocketClose(code, reason);
}
size_t WebSocket::bufferedBytes() const { return open() ? link_->conn->bufferedBytes() : 0; }
void WebSocket::onDrained(std::function<void()> callback) {
  if (open()) link_->conn->setOnDrained(std::move(callback));
}
const std::string& WebSocket::protocol() const { return link_ != nullptr ? link_->protocol : kNoText; }
const std::string& WebSocket::peerAddress() const { return link_ != nullptr ? link_->peer_address : kNoText; }

bool ResponseStream::open() const { return link_ != nullptr && link_->conn != nullptr; }
bool ResponseStream::write(std::string_view bytes) { return open() && link_->conn->streamWrite(bytes); }
void ResponseStream::end() {
  if (open()) link_->conn->streamEnd();
}
size_t ResponseStream::bufferedBytes() const { return open() ? link_->conn->bufferedBytes() : 0; }
void ResponseStream::onDrained(std::function<void()> callback) {
  if (open()) link_->conn->setOnDrained(std::move(callback));
}
void ResponseStream::onClose(std::function<void()> callback) {
  if (open()) {
    link_->conn->setStreamOnClose(std::move(callback));
  } else if (callback) {
    callback();
  }
}

// --- HttpServer ---

HttpServer::HttpServer(uv_loop_t* loop, HttpLimits limits, HttpHandler handler)
    : loop_(loop),
      limits_(limits),
      handler_(std::move(handler)),
      budget_(loop, kTurnShareNs, [this] { resumeBurst(); }),
      read_buffer_(std::make_unique<char[]>(kReadBufferSize)) {}

HttpServer::~HttpServer() {
  // Handles must see their close callbacks before their memory goes (see the contract).
  assert(connections_ == nullptr);
  assert(listener_state_ != ListenerState::kOpen && listener_state_ != ListenerState::kClosing);
  assert(sweep_state_ == SweepState::kNone || sweep_state_ == SweepState::kClosed);
  assert(budget_state_ != BudgetState::kClosing);
}

Result<int> HttpServer::listen(const std::string& host, int port) {
  assert(listener_state_ == ListenerState::kNone);
  if (listener_state_ != ListenerState::kNone) {
    return Error{ErrorKind::kInternal, "HttpServer::listen called twice"};
  }
  if (port < 0 || port > 65535) {
    return Error{ErrorKind::kBadInput, "invalid port " + std::to_string(port)};
  }
  sockaddr_storage addr{};
  int rc = host.find(':') != std::string::npos
               ? uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&addr))
               : uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(&addr));
  if (rc != 0) return Error{ErrorKind::kBadInput, "invalid listen address '" + host + "'"};

  std::signal(SIGPIPE, SIG_IGN);
  rc = uv_tcp_init(loop_, &listener_.tcp);
  if (rc != 0) return Error{ErrorKind::kIo, std::string("uv_tcp_init: ") + uv_strerror(rc)};
  listener_.tcp.data = this;
  rc = uv_tcp_bind(&listener_.tcp, reinterpret_cast<const sockaddr*>(&addr), 0);
  auto started = startListening(rc, host + ":" + std::to_string(port));
  if (!started) return started.error();
  sockaddr_storage bound{};
  int len = sizeof(bound);
  rc = uv_tcp_getsockname(&listener_.tcp, reinterpret_cast<sockaddr*>(&bound), &len);
  if (rc != 0) {
    closeListener();
    return Error{ErrorKind::kIo, std::string("uv_tcp_getsockname: ") + uv_strerror(rc)};
  }
  int bound_port = bound.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                               : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  where_ = host + ":" + std::to_string(bound_port);
  return bound_port;
}

Result<void> HttpServer::listenUnix(const std::string& path) {
  assert(listener_state_ == ListenerState::kNone);
  if (listener_state_ != ListenerState::kNone) {
    return Error{ErrorKind::kInternal, "HttpServer::listen called twice"};
  }
  std::signal(SIGPIPE, SIG_IGN);
  int rc = uv_pipe_init(loop_, &listener_.pipe, 0);
  if (rc != 0) return Error{ErrorKind::kIo, std::string("uv_pipe_init: ") + uv_strerror(rc)};
  listener_.pipe.data = this;
  unix_ = true;
  where_ = path;
  // The socket file is created by bind with the umask's mode: narrow it so that there is no
  // moment when another user could connect, then chmod in case the umask was ignored. The
  // umask is the process's: a file another thread creates meanwhile only comes out narrower.
  mode_t old_mask = ::umask(0177);
  rc = uv_pipe_bind(&listener_.pipe, path.c_str());
  ::umask(old_mask);
  if (rc == 0 && ::chmod(path.c_str(), 0600) != 0) rc = uv_translate_sys_error(errno);
  return startListening(rc, path);
}

// Listens on the bound listener, or (rc != 0) closes it and says why binding failed.
Result<void> HttpServer::startListening(int rc, const std::string& where) {
  listener_state_ = ListenerState::kOpen;
  if (rc == 0) {
    rc = uv_listen(listenerStream(), 511, [](uv_stream_t* s, int status) {
      static_cast<HttpServer*>(s->data)->onConnection(status);
    });
  }
  if (rc != 0) {
    closeListener();  // its close callback still has to run: the owner calls close()
    return Error{ErrorKind::kIo, "listen on " + where + ": " + uv_strerror(rc)};
  }
  return {};
}

void HttpServer::onConnection(int status) {
  if (status < 0 || listener_state_ != ListenerState::kOpen) return;
  if (!budget_.left()) {
    // Not taken: libuv holds this one and stops watching the listener until we accept it,
    // so the rest of the burst waits in the kernel's backlog.
    accept_waiting_ = true;
    budget_.resumeNextTurn();
    return;
  }
  // The bound is checked before accepting: an evicted connection's descriptor is released
  // by uv_close at once, so the newcomer takes its place.
  bool refuse = max_connections_ > 0 && open_count_ >= max_connections_ && !evictIdle();
  auto* conn = new HttpConnection(*this);
  // Neither init can fail on Unix (no socket is created yet), and both handles must be
  // initialised for the connection's close path.
  if (unix_) {
    uv_pipe_init(loop_, conn->pipe(), 0);
  } else {
    uv_tcp_init(loop_, conn->tcp());
  }
  uv_timer_init(loop_, conn->timer());
  conn->next_ = connections_;
  if (connections_ != nullptr) connections_->prev_ = conn;
  connections_ = conn;
  ++connection_count_;
  ++open_count_;
  // Accepted even when refused: a connection left in the backlog would wake the listener
  // again at once, and its client would wait instead of hearing no.
  if (uv_accept(listenerStream(), conn->stream()) != 0) {
    conn->closeNow();
    return;
  }
  if (refuse) {
    ++bound_closes_.refused;
    warnAtBound(last_refusal_warning_ms_, "refusing new connections (503), since none is idle");
    HttpResponse answer = problemResponse(503, "Service Unavailable",
                                          "the server is at its connection limit; try again shortly");
    answer.headers.emplace_back("Retry-After", "1");
    ++responses_by_class_[statusClassIndex(503)];
    std::string bytes;
    appendResponse(bytes, answer, false, true, false, dateLine());
    conn->refuseNow(bytes);
    return;
  }
  conn->start();
}

void HttpServer::resumeBurst() {
  while (close_first_ != nullptr && budget_.left()) close_first_->closeNow();
  if (accept_waiting_ && budget_.left()) {
    accept_waiting_ = false;
    onConnection(0);  // takes the held connection; libuv then watches the listener again
  }
  if (close_first_ != nullptr || accept_waiting_) budget_.resumeNextTurn();
}

void HttpServer::waitToClose(HttpConnection* conn) {
  conn->close_waiting_ = true;
  conn->close_prev_ = close_last_;
  conn->close_next_ = nullptr;
  if (close_last_ != nullptr) close_last_->close_next_ = conn;
  close_last_ = conn;
  if (close_first_ == nullptr) close_first_ = conn;
  budget_.resumeNextTurn();
}

void HttpServer::stopWaitingToClose(HttpConnection* conn) {
  conn->close_waiting_ = false;
  if (conn->close_prev_ != nullptr) conn->close_prev_->close_next_ = conn->close_next_;
  if (conn->close_next_ != nullptr) conn->close_next_->close_prev_ = conn->close_prev_;
  if (close_first_ == conn) close_first_ = conn->close_next_;
  if (close_last_ == conn) close_last_ = conn->close_prev_;
  conn->close_prev_ = conn->close_next_ = nullptr;
}

bool HttpServer::evictIdle() {
  if (idle_oldest_ == nullptr) return false;
  ++bound_closes_.idle_evicted;
  warnAtBound(last_eviction_warning_ms_, "closing the connections idle longest to make room");
  idle_oldest_->closeNow();  // unlinks it from the idle list
  return true;
}

void HttpServer::setIdle(HttpConnection* conn, bool idle) {
  if (conn->idle_ == idle) return;
  conn->idle_ = idle;
  if (idle) {
    conn->idle_prev_ = idle_newest_;
    conn->idle_next_ = nullptr;
    if (idle_newest_ != nullptr) idle_newest_->idle_next_ = conn;
    idle_newest_ = conn;
    if (idle_oldest_ == nullptr) idle_oldest_ = conn;
    return;
  }
  if (conn->idle_prev_ != nullptr) conn->idle_prev_->idle_next_ = conn->idle_next_;
  if (conn->idle_next_ != nullptr) conn->idle_next_->idle_prev_ = conn->idle_prev_;
  if (idle_oldest_ == conn) idle_oldest_ = conn->idle_next_;
  if (idle_newest_ == conn) idle_newest_ = conn->idle_prev_;
  conn->idle_prev_ = conn->idle_next_ = nullptr;
}

void HttpServer::warnAtBound(std::optional<uint64_t>& last_warning_ms, const char* action) {
  uint64_t now = uv_now(loop_);
  if (last_warning_ms && now - *last_warning_ms < kBoundWarningIntervalMs) return;
  last_warning_ms = now;
  spdlog::warn("the HTTP listener on {} holds its limit of {} connections: {} (--max-connections and the "
               "descriptor limit set it; this is said at most once a minute)",
               where_, max_connections_, action);
}

void HttpServer::closeListener() {
  if (listener_state_ != ListenerState::kOpen) return;
  listener_state_ = ListenerState::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(&listener_), [](uv_handle_t* h) {
    static_cast<HttpServer*>(h->data)->onListenerClosed();
  });
}

void HttpServer::startSweep(const WebSocketLimits& limits) {
  uint64_t deadline = std::min({limits.idle_timeout_ms, limits.ping_interval_ms, kCloseWaitMs});
  uint64_t period = std::clamp<uint64_t>(deadline / 4, kMinSweepMs, kMaxSweepMs);
  if (sweep_state_ == SweepState::kRunning && period >= sweep_period_ms_) return;
  if (sweep_state_ == SweepState::kNone) {
    uv_timer_init(loop_, &sweep_timer_);
    sweep_timer_.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_timer_));  // housekeeping (STYLE 3)
    sweep_state_ = SweepState::kRunning;
  } else if (sweep_state_ != SweepState::kRunning) {
    return;
  }
  sweep_period_ms_ = period;
  uv_timer_start(&sweep_timer_, [](uv_timer_t* t) { static_cast<HttpServer*>(t->data)->sweep(); }, period, period);
}

void HttpServer::sweep() {
  uint64_t now = uv_now(loop_);
  // sweep() may close a connection, which unlinks it only in its close callback, later.
  for (HttpConnection* c = connections_; c != nullptr; c = c->next_) c->sweep(now);
}

void HttpServer::stopAccepting() {
  draining_ = true;
  closeListener();
  // drain() may close a connection, which unlinks it only in its close callback, later.
  for (HttpConnection* c = connections_; c != nullptr; c = c->next_) c->drain();
}

void HttpServer::onListenerClosed() {
  listener_state_ = ListenerState::kClosed;
  maybeFinishClose();
}

void HttpServer::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  closeListener();
  if (sweep_state_ == SweepState::kRunning) {
    sweep_state_ = SweepState::kClosing;
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer_), [](uv_handle_t* h) {
      auto* server = static_cast<HttpServer*>(h->data);
      server->sweep_state_ = SweepState::kClosed;
      server->maybeFinishClose();
    });
  }
  for (HttpConnection* c = connections_; c != nullptr; c = c->next_) c->closeNow();
  if (budget_state_ == BudgetState::kOpen) {
    budget_state_ = BudgetState::kClosing;
    bool closing = budget_.close([this] {
      budget_state_ = BudgetState::kClosed;
      maybeFinishClose();
    });
    if (!closing) budget_state_ = BudgetState::kClosed;
  }
  maybeFinishClose();  // may run on_closed, which may free this: touch nothing after
}

void HttpServer::onConnectionClosed(HttpConnection* conn) {
  if (conn->prev_ != nullptr) conn->prev_->next_ = conn->next_;
  if (conn->next_ != nullptr) conn->next_->prev_ = conn->prev_;
  if (connections_ == conn) connections_ = conn->next_;
  --connection_count_;
  delete conn;
  maybeFinishClose();
}

void HttpServer::maybeFinishClose() {
  if (!closing_ || !on_closed_ || connections_ != nullptr) return;
  if (listener_state_ == ListenerState::kOpen || listener_state_ == ListenerState::kClosing) return;
  if (sweep_state_ == SweepState::kClosing || budget_state_ == BudgetState::kClosing) return;
  std::function<void()> done = std::move(on_closed_);
  on_closed_ = nullptr;
  done();
}

std::string_view HttpServer::dateLine() {
  std::time_t now = std::time(nullptr);
  if (now != date_second_ || date_line_.empty()) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&now, &tm);
    // Formatted by hand: strftime's names follow the process locale.
    char buf[64];
    int n = std::snprintf(buf, sizeof(buf), "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n",
                          kDays[tm.tm_wday % 7], tm.tm_mday, kMonths[tm.tm_mon % 12],
                          tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    date_line_.assign(buf, n > 0 ? static_cast<size_t>(n) : 0);
    date_second_ = now;
  }
  return date_line_;
}

std::string_view reasonPhrase(int status) {
  const char* text = http_status_str(static_cast<http_status>(status));
  if (text == nullptr || text[0] == '<') return "Unknown";
  return text;
}

HttpResponse problemResponse(int status, std::string_view title, std::string_view detail,
                             std::string_view invocation_id) {
  nlohmann::json body = {
      {"type", "about:blank"},
      {"title", std::string(title)},
      {"status", status},
      {"detail", std::string(detail)},
  };
  if (!invocation_id.empty()) body["invocation_id"] = std::string(invocation_id);
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/problem+json");
  // Replace invalid UTF-8 rather than throw: details may quote client bytes.
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

}  // namespace gust
