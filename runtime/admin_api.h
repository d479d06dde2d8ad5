#pragma once
// The admin API: its own HTTP listener, 127.0.0.1 by default. Every route but /healthz and
// /readyz needs the bearer token; a request whose Host or Origin is not this listener's
// own is refused, so a web page cannot reach it through DNS rebinding.
//
//   GET  /healthz, /readyz                    no token
//   GET  /v1/apps                             apps, their functions and pool state
//   POST /v1/timers/{app}/{function}/run      runs a timer function now; answers its result
//
// Owning thread: the loop thread. Owned by the Host; close() calls back once closed.

#include <string>

#include "runtime/dispatcher.h"
#include "triggers/http/http_server.h"
#include "triggers/timer/timer_trigger.h"

namespace gust {

class AdminApi {
 public:
  AdminApi(uv_loop_t* loop, Dispatcher& dispatcher, TimerTrigger& timers, std::string token);

  // Returns the bound port.
  Result<int> listen(const std::string& host, int port);
  void close(std::function<void()> on_closed) { server_.close(std::move(on_closed)); }

 private:
  void onRequest(HttpRequest&& request, HttpResponder&& responder);
  bool hostAllowed(std::string_view host) const;
  HttpResponse listApps() const;

  Dispatcher& dispatcher_;
  TimerTrigger& timers_;
  std::string token_;
  std::string bind_host_;
  int port_ = 0;
  HttpServer server_;
};

}  // namespace gust
