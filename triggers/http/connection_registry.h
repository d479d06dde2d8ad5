#pragma once
// The WebSocket functions of the HTTP trigger (docs/architecture.md "WebSocket functions"):
// runs the CONNECT invocation that decides whether an upgrade request becomes a connection,
// keeps every open connection by its id, turns each message into a MESSAGE invocation (one
// at a time per connection, in order) and the end of a connection into a DISCONNECT, and
// carries out functions' and the admin API's sends and closes (it is the ConnectionSink the
// dispatcher's executors reach).
//
// Owning thread: the loop thread. Owned by the HttpTrigger, declared before its server so
// that the server's connections (whose handlers call back here) close first. A connection
// stays known from its 101 until its DISCONNECT invocation has answered; the admin API and
// functions reach only the open ones.

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/base/clock.h"
#include "runtime/base/ids.h"
#include "runtime/exec/connection_sink.h"
#include "runtime/exec/dispatcher.h"
#include "triggers/http/http_server.h"
#include "triggers/http/websocket.h"

namespace gust {

// What the admin API lists of one open connection.
struct ConnectionInfo {
  std::string id;
  std::string app;
  std::string function;
  std::string path;
  std::string peer;
  std::chrono::system_clock::time_point opened_at;
  uint64_t messages_in = 0;   // received from the client
  uint64_t messages_out = 0;  // sent to it: replies, ctx.send and the admin API's
};

// The connections of the other hosts of a cluster (docs/scale-out.md "Connections"): told
// of each connection this host opens and ends, and given the calls for ids not open here.
class ConnectionDirectory {
 public:
  virtual ~ConnectionDirectory() = default;
  virtual void opened(const std::string& id, const std::string& app) = 0;
  virtual void ended(const std::string& id) = 0;
  // Answers `done` as ConnectionSink::call does.
  virtual void callElsewhere(std::string_view app, const ConnectionCall& call, ConnectionSink::Done done) = 0;
};

class ConnectionRegistry final : public ConnectionSink {
 public:
  // Messages of one connection that wait while its function handles the one before: past
  // either bound the connection is closed with 1013 (try again later), so a client that
  // sends faster than its function answers cannot make the host hold its messages.
  static constexpr size_t kMaxBacklog = 64;
  static constexpr size_t kMaxBacklogBytes = 4u << 20;

  ConnectionRegistry(const Clock& clock, Dispatcher& dispatcher, bool expose_errors);
  ~ConnectionRegistry() override;
  ConnectionRegistry(const ConnectionRegistry&) = delete;
  ConnectionRegistry& operator=(const ConnectionRegistry&) = delete;

  // The limits every accepted connection runs under.
  void setLimits(const WebSocketLimits& limits) { limits_ = limits; }

  // Handles an upgrade request routed to the WebSocket function `function` of `app`:
  // checks the handshake, runs CONNECT, and answers with the 101 or the function's refusal.
  void connect(HttpRequest&& request, std::string app, std::string function, Pairs params, HttpResponder&& responder);

  // With a cluster: where connections of other hosts are found. Set before the first
  // connection opens; it must outlive the registry's connections.
  void setDirectory(ConnectionDirectory* directory) { directory_ = directory; }

  // ConnectionSink: a function's send or close (the loop thread). An id not open here goes
  // to the directory, when there is one.
  void call(std::string_view app, const ConnectionCall& call, Done done) override;
  // Carries out `call` on a connection of this host only; answers as call() does.
  int32_t callHere(std::string_view app, const ConnectionCall& call);

  // The admin API's view: every open connection (of `app` when not empty), by id.
  std::vector<ConnectionInfo> list(std::string_view app = {}) const;
  // The app of the open connection `id`, or nullopt.
  std::optional<std::string> appOf(std::string_view id) const;

  // Closes every connection of `app` with 1001 (the app was removed).
  void closeApp(std::string_view app);
  size_t openCount() const;

 private:
  struct Connection;
  class Handler;

  // The event names a WebSocket invocation carries in `method`.
  static constexpr const char* kConnect = "CONNECT";
  static constexpr const char* kMessage = "MESSAGE";
  static constexpr const char* kDisconnect = "DISCONNECT";

  Connection* openConnection(std::string_view id);
  // A message the connection's send buffer could never hold (it would only get it closed).
  bool neverFits(const ConnectionCall& call) const;
  void onMessage(const std::string& id, std::string&& data, bool binary);
  void onClose(const std::string& id, uint16_t code);
  // Runs the connection's next event: a waiting message, or its DISCONNECT once it ended.
  void runNext(Connection& c);
  void invoke(Connection& c, const char* event, std::string&& body, bool binary);
  void onOutcome(const std::string& id, const char* event, Outcome&& outcome);
  // Sends the body of a MESSAGE invocation's response back to the client.
  void reply(Connection& c, Outcome&& outcome);

  const Clock& clock_;
  Dispatcher& dispatcher_;
  const bool expose_errors_;
  WebSocketLimits limits_;
  IdGenerator ids_;
  std::map<std::string, std::unique_ptr<Connection>, std::less<>> connections_;
  ConnectionDirectory* directory_ = nullptr;
};

}  // namespace gust
