#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/run_loop.h"
#include "tests/support/temp_dir.h"
#include "triggers/http/http_server.h"

namespace gust {
namespace {

// --- a blocking client over plain POSIX sockets, run on its own thread ---

int connectTo(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};  // a broken server fails the test instead of hanging it
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return fd;
}

int connectToUnix(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  return fd;
}

void sendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Closes with a reset instead of a FIN.
void resetConnection(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(fd);
}

struct ClientResponse {
  bool ok = false;
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercased names
  std::string body;
  bool has(const std::string& name) const { return headers.count(name) != 0; }
  std::string get(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
};

class Client {
 public:
  explicit Client(int port) : fd_(connectTo(port)) {}
  explicit Client(const std::string& unix_path) : fd_(connectToUnix(unix_path)) {}
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }
  void send(std::string_view data) { sendAll(fd_, data); }
  void shutdownWrite() { ::shutdown(fd_, SHUT_WR); }
  void reset() {
    resetConnection(fd_);
    fd_ = -1;
  }

  // Reads one response; `head` says it answers a HEAD request, so no body follows.
  ClientResponse read(bool head = false) {
    ClientResponse r;
    size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (!fill()) return r;
    }
    std::string head_text = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    size_t line_end = head_text.find("\r\n");
    std::string status_line = head_text.substr(0, line_end);
    if (status_line.rfind("HTTP/1.1 ", 0) != 0) return r;
    r.status = std::stoi(status_line.substr(9, 3));
    size_t pos = line_end == std::string::npos ? head_text.size() : line_end + 2;
    while (pos < head_text.size()) {
      size_t next = head_text.find("\r\n", pos);
      if (next == std::string::npos) next = head_text.size();
      std::string line = head_text.substr(pos, next - pos);
      size_t colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      size_t value_start = line.find_first_not_of(' ', colon + 1);
      r.headers[name] = value_start == std::string::npos ? "" : line.substr(value_start);
      pos = next + 2;
    }
    if (!head && r.status >= 200 && r.status != 204 && r.status != 304) {
      size_t len = std::stoul(r.get("content-length").empty() ? "0" : r.get("content-length"));
      while (buf_.size() < len) {
        if (!fill()) return r;
      }
      r.body = buf_.substr(0, len);
      buf_.erase(0, len);
    }
    r.ok = true;
    return r;
  }

  // True when the server closes the connection (FIN or reset) before the receive timeout;
  // any bytes before that are kept for read().
  bool closedByServer() {
    for (;;) {
      char tmp[4096];
      ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
      if (n == 0) return true;
      if (n < 0) return errno == ECONNRESET;
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }
  const std::string& buffered() const { return buf_; }

 private:
  bool fill() {
    char tmp[16384];
    ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  std::string buf_;
};

std::string get(std::string_view path, std::string_view extra = "") {
  std::string out = "GET ";
  out += path;
  out += " HTTP/1.1\r\nHost: test\r\n";
  out += extra;
  out += "\r\n";
  return out;
}

// --- the server side: a real HttpServer on the test's own loop ---

void replyLater(uv_loop_t* loop, uint64_t ms, HttpResponder&& responder, HttpResponse&& response) {
  struct Later {
    uv_timer_t timer{};
    HttpResponder responder;
    HttpResponse response;
  };
  auto* later = new Later{{}, std::move(responder), std::move(response)};
  uv_timer_init(loop, &later->timer);
  later->timer.data = later;
  uv_timer_start(
      &later->timer,
      [](uv_timer_t* t) {
        auto* l = static_cast<Later*>(t->data);
        l->responder.send(std::move(l->response));
        uv_close(reinterpret_cast<uv_handle_t*>(t),
                 [](uv_handle_t* h) { delete static_cast<Later*>(h->data); });
      },
      ms, 0);
}

HttpResponse text(std::string body, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", "text/plain");
  r.body = std::move(body);
  return r;
}

// Answers with "<method> <path> <body>" at once.
void echo(HttpRequest&& req, HttpResponder&& res) {
  res.send(text(req.method + " " + req.path + " " + req.body));
}

class Fixture {
 public:
  explicit Fixture(HttpLimits limits = {}) {
    uv_loop_init(&loop_);
    handler = echo;
    server_ = std::make_unique<HttpServer>(&loop_, limits, [this](HttpRequest&& req, HttpResponder&& res) {
      handler(std::move(req), std::move(res));
    });
    Result<int> port = server_->listen("127.0.0.1", 0);
    REQUIRE(port.ok());
    port_ = *port;
    CHECK(port_ > 0);
  }

  ~Fixture() {
    if (server_ != nullptr) finish();
  }

  uv_loop_t* loop() { return &loop_; }
  HttpServer& server() { return *server_; }
  int port() const { return port_; }

  // Runs the loop until `client`, run on its own thread, returns (its socket reads and
  // writes give up after 5 s, so it does return, also when the server never answers).
  void runClient(const std::function<void()>& client) { REQUIRE(test::runLoopWhile(&loop_, client)); }

  // Runs the loop for about `ms` milliseconds.
  void runFor(uint64_t ms) {
    uv_timer_t stop{};
    uv_timer_init(&loop_, &stop);
    uv_timer_start(&stop, [](uv_timer_t* t) { uv_stop(t->loop); }, ms, 0);
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&stop), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
  }

  // Closes the server and proves that no handle is left.
  void finish() {
    int closed = 0;
    server_->close([&closed] { ++closed; });
    test::runLoopToEnd(&loop_, "the server to close");
    CHECK(closed == 1);
    CHECK(server_->connectionCount() == 0);
    server_.reset();
    CHECK(uv_loop_close(&loop_) == 0);
  }

  HttpHandler handler;

 private:
  uv_loop_t loop_{};
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

// Keeps the answers to requests for /hold, so that their connections stay busy (never idle)
// until the test lets them go; answers every other request as echo does.
struct HeldAnswers {
  explicit HeldAnswers(Fixture& fixture) {
    fixture.handler = [this](HttpRequest&& req, HttpResponder&& res) {
      if (req.path != "/hold") return echo(std::move(req), std::move(res));
      responders.push_back(std::move(res));
      ++count;
    };
  }
  std::atomic<int> count{0};
  std::vector<HttpResponder> responders;  // the loop thread's

  // On the client's thread: true once `n` requests are held, false after 5 s.
  bool waitFor(int n) {
    for (int i = 0; i < 500 && count.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return count.load() >= n;
  }
};

}  // namespace

TEST_CASE("a GET is answered with the handler's body, Date and Content-Length") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/hello?x=1"));
    ClientResponse r = c.read();
    CHECK(r.ok);
    CHECK(r.status == 200);
    CHECK(r.body == "GET /hello ");
    CHECK(r.get("content-length") == "11");
    CHECK(r.get("content-type") == "text/plain");
    std::string date = r.get("date");
    CHECK(date.size() == 29);
    CHECK(date.substr(25) == " GMT");
    CHECK_FALSE(r.has("connection"));
  });
  f.finish();
}

TEST_CASE("keep-alive serves several requests on one connection") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    for (int i = 0; i < 5; ++i) {
      c.send(get("/n" + std::to_string(i)));
      ClientResponse r = c.read();
      CHECK(r.ok);
      CHECK(r.body == "GET /n" + std::to_string(i) + " ");
    }
  });
  f.finish();
}

TEST_CASE("pipelined requests are answered in order even when a later one is answered first") {
  Fixture f;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    uint64_t delay = req.path == "/slow" ? 80 : 1;
    replyLater(f.loop(), delay, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/slow") + get("/fast") + get("/slow") + get("/fast"));
    std::vector<std::string> bodies;
    for (int i = 0; i < 4; ++i) bodies.push_back(c.read().body);
    CHECK(bodies == std::vector<std::string>{"/slow", "/fast", "/slow", "/fast"});
  });
  f.finish();
}

TEST_CASE("a connection holds at most 16 outstanding requests and answers the rest later") {
  Fixture f;
  size_t max_in_flight = 0;
  int handled = 0;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    ++handled;
    max_in_flight = std::max(max_in_flight, f.server().inFlight());
    replyLater(f.loop(), 20, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    std::string burst;
    for (int i = 0; i < 40; ++i) burst += get("/r" + std::to_string(i));
    c.send(burst);
    for (int i = 0; i < 40; ++i) {
      ClientResponse r = c.read();
      CHECK(r.ok);
      CHECK(r.body == "/r" + std::to_string(i));
    }
  });
  CHECK(handled == 40);
  CHECK(max_in_flight == HttpServer::kMaxOutstandingPerConnection);
  CHECK(f.server().inFlight() == 0);
  f.finish();
}

TEST_CASE("a chunked request body reaches the handler decoded") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    c.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    c.send("5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n");
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.body == "POST /up Wikipedia");
  });
  f.finish();
}

TEST_CASE("100 Continue is sent when the body will be accepted, before it is read") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    c.send("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    ClientResponse interim = c.read();
    CHECK(interim.ok);
    CHECK(interim.status == 100);
    c.send("hello");
    ClientResponse r = c.read();
    CHECK(r.status == 200);
    CHECK(r.body == "PUT /x hello");
  });
  f.finish();
}

TEST_CASE("100 Continue waits for the answers to earlier pipelined requests") {
  Fixture f;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    replyLater(f.loop(), req.path == "/first" ? 50 : 1, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/first") + "PUT /second HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    ClientResponse first = c.read();
    CHECK(first.body == "/first");
    ClientResponse interim = c.read();
    CHECK(interim.status == 100);
    c.send("ok");
    CHECK(c.read().body == "/second");
  });
  f.finish();
}

TEST_CASE("an expected body over the limit gets 413 without being read, and the connection closes") {
  HttpLimits limits;
  limits.max_body = 4;
  Fixture f(limits);
  f.runClient([&] {
    Client c(f.port());
    c.send("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    ClientResponse r = c.read();
    CHECK(r.status == 413);
    CHECK(r.get("connection") == "close");
    CHECK(r.get("content-type") == "application/problem+json");
    CHECK(c.closedByServer());
  });
  f.finish();
}

TEST_CASE("an expectation other than 100-continue gets 417") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    c.send("PUT /x HTTP/1.1\r\nHost: t\r\nExpect: something\r\nContent-Length: 1\r\n\r\nx");
    CHECK(c.read().status == 417);
    CHECK(c.closedByServer());
  });
  f.finish();
}

TEST_CASE("HEAD gets the headers and Content-Length of GET but no body") {
  Fixture f;
  f.handler = [](HttpRequest&& req, HttpResponder&& res) { res.send(text("twelve bytes")); (void)req; };
  f.runClient([&] {
    Client c(f.port());
    c.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n" + get("/y"));
    ClientResponse head = c.read(true);
    CHECK(head.status == 200);
    CHECK(head.get("content-length") == "12");
    // Had a body been sent, it would now be read as the next status line.
    ClientResponse next = c.read();
    CHECK(next.ok);
    CHECK(next.body == "twelve bytes");
  });
  f.finish();
}

TEST_CASE("HEAD keeps a Content-Length the handler gives with an empty body") {
  Fixture f;
  f.handler = [](HttpRequest&&, HttpResponder&& res) {
    HttpResponse r;
    r.headers.emplace_back("Content-Length", "1234");
    res.send(std::move(r));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send("HEAD /x HTTP/1.1\r\nHost: t\r\n\r\n");
    CHECK(c.read(true).get("content-length") == "1234");
    c.send(get("/y"));
    CHECK(c.read().get("content-length") == "0");  // not HEAD: the real size
  });
  f.finish();
}

TEST_CASE("Connection close from the client is echoed and the connection closes after the answer") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/bye", "Connection: close\r\n") + get("/ignored"));
    ClientResponse r = c.read();
    CHECK(r.body == "GET /bye ");
    CHECK(r.get("connection") == "close");
    CHECK(c.closedByServer());
    CHECK(c.buffered().empty());  // the pipelined request after it was not answered
  });
  f.finish();
}

TEST_CASE("HTTP/1.0 closes after the answer unless it asks for keep-alive") {
  Fixture f;
  f.runClient([&] {
    {
      Client c(f.port());
      c.send("GET /old HTTP/1.0\r\n\r\n");
      ClientResponse r = c.read();
      CHECK(r.status == 200);
      CHECK(r.get("connection") == "close");
      CHECK(c.closedByServer());
    }
    Client k(f.port());
    k.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    ClientResponse r = k.read();
    CHECK(r.get("connection") == "keep-alive");
    k.send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    CHECK(k.read().body == "GET /b ");
  });
  f.finish();
}

TEST_CASE("a malformed request gets 400 problem+json and closes while another connection keeps working") {
  Fixture f;
  f.runClient([&] {
    Client good(f.port());
    good.send(get("/one"));
    CHECK(good.read().status == 200);

    Client bad(f.port());
    bad.send("GET / HTTP/1.1\r\nHost : t\r\n\r\n");
    ClientResponse r = bad.read();
    CHECK(r.status == 400);
    CHECK(r.get("content-type") == "application/problem+json");
    CHECK(r.get("connection") == "close");
    CHECK(r.body.find("\"status\":400") != std::string::npos);
    CHECK(r.body.find("\"type\":\"about:blank\"") != std::string::npos);
    CHECK(bad.closedByServer());

    good.send(get("/two"));
    CHECK(good.read().body == "GET /two ");
  });
  f.finish();
}

TEST_CASE("a malformed request after a pending one is answered after it") {
  Fixture f;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    replyLater(f.loop(), 40, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/ok") + "GARBAGE\r\n\r\n");
    CHECK(c.read().body == "/ok");
    CHECK(c.read().status >= 400);
    CHECK(c.closedByServer());
  });
  f.finish();
}

TEST_CASE("a client that half-closes after its requests still gets every answer") {
  Fixture f;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    replyLater(f.loop(), 30, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/a") + get("/b"));
    c.shutdownWrite();
    CHECK(c.read().body == "/a");
    CHECK(c.read().body == "/b");
    CHECK(c.closedByServer());
  });
  f.finish();
}

TEST_CASE("a malformed request followed by a half-close still gets its 400") {
  Fixture f;
  f.runClient([&] {
    Client c(f.port());
    c.send("GET / HTTP/1.1\r\nX: a\r\n folded\r\n");
    c.shutdownWrite();
    CHECK(c.read().status == 400);
    CHECK(c.closedByServer());
  });
  f.finish();
}

TEST_CASE("limits are answered with 414, 431 and 413") {
  HttpLimits limits;
  limits.max_target = 64;
  limits.max_header_count = 4;
  limits.max_body = 8;
  Fixture f(limits);
  f.runClient([&] {
    auto statusFor = [&](const std::string& request) {
      Client c(f.port());
      c.send(request);
      int status = c.read().status;
      CHECK(c.closedByServer());
      return status;
    };
    CHECK(statusFor(get("/" + std::string(100, 'a'))) == 414);
    CHECK(statusFor(get("/", "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n")) == 431);
    CHECK(statusFor("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 9\r\n\r\n123456789") == 413);
    CHECK(statusFor("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n123456789\r\n0\r\n\r\n") == 413);
    CHECK(statusFor("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n") == 501);
    CHECK(statusFor("GET / HTTP/2.0\r\nHost: t\r\n\r\n") == 505);
  });
  f.finish();
}

TEST_CASE("a slow request head gets 408 and the connection closes") {
  HttpLimits limits;
  limits.header_timeout_ms = 50;
  Fixture f(limits);
  f.runClient([&] {
    Client c(f.port());
    auto start = std::chrono::steady_clock::now();
    c.send("GET / HTTP/1.1\r\nHo");
    ClientResponse r = c.read();
    CHECK(r.status == 408);
    CHECK(c.closedByServer());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  });
  f.finish();
}

TEST_CASE("a slow request body gets 408 and the connection closes") {
  HttpLimits limits;
  limits.body_timeout_ms = 50;
  Fixture f(limits);
  f.runClient([&] {
    Client c(f.port());
    c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
    CHECK(c.read().status == 408);
    CHECK(c.closedByServer());
  });
  f.finish();
}

TEST_CASE("a header timeout counts from the first byte, not from the last") {
  HttpLimits limits;
  limits.header_timeout_ms = 100;
  Fixture f(limits);
  f.runClient([&] {
    Client c(f.port());
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < 10; ++i) {
      c.send("X");  // trickles in faster than the timeout, but never finishes
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    CHECK(c.read().status >= 400);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
  });
  f.finish();
}

TEST_CASE("an idle keep-alive connection is closed after the idle timeout") {
  HttpLimits limits;
  limits.idle_timeout_ms = 50;
  Fixture f(limits);
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/a"));
    CHECK(c.read().status == 200);
    auto start = std::chrono::steady_clock::now();
    CHECK(c.closedByServer());
    CHECK(c.buffered().empty());
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(2));
    Client silent(f.port());
    CHECK(silent.closedByServer());
  });
  f.finish();
}

TEST_CASE("at the connection bound a newcomer closes the connection idle longest") {
  Fixture f;
  f.server().setMaxConnections(3);
  f.runClient([&] {
    Client a(f.port()), b(f.port()), c(f.port());
    for (Client* client : {&a, &b, &c}) {
      client->send(get("/one"));
      REQUIRE(client->read().status == 200);
    }
    // Idle since: a, b, c. The fourth takes a's place.
    Client d(f.port());
    d.send(get("/four"));
    CHECK(d.read().status == 200);
    CHECK(a.closedByServer());
    CHECK(a.buffered().empty());
    // b is used again, so c is now the one idle longest.
    b.send(get("/again"));
    CHECK(b.read().status == 200);
    Client e(f.port());
    e.send(get("/five"));
    CHECK(e.read().status == 200);
    CHECK(c.closedByServer());
    for (Client* client : {&b, &d, &e}) {
      client->send(get("/still"));
      CHECK(client->read().status == 200);
    }
  });
  CHECK(f.server().boundCloses().idle_evicted == 2);
  CHECK(f.server().boundCloses().refused == 0);
  f.finish();
}

TEST_CASE("a connection waiting for its answer is never closed for room; one that has sent nothing yet is idle") {
  Fixture f;
  f.server().setMaxConnections(2);
  HeldAnswers held(f);
  f.runClient([&] {
    Client busy(f.port());  // the older of the two, but not idle
    busy.send(get("/hold"));
    REQUIRE(held.waitFor(1));
    Client silent(f.port());
    Client newcomer(f.port());
    newcomer.send(get("/new"));
    CHECK(newcomer.read().status == 200);
    CHECK(silent.closedByServer());
  });
  CHECK(f.server().boundCloses().idle_evicted == 1);
  held.responders.clear();
  f.finish();
}

TEST_CASE("at the connection bound with none idle a newcomer gets 503 and is closed at once") {
  Fixture f;
  f.server().setMaxConnections(2);
  HeldAnswers held(f);
  f.runClient([&] {
    Client a(f.port()), b(f.port());
    a.send(get("/hold"));
    b.send(get("/hold"));
    REQUIRE(held.waitFor(2));  // both wait for their answers, so neither is idle
    Client refused(f.port());
    ClientResponse r = refused.read();
    CHECK(r.status == 503);
    CHECK(r.get("retry-after") == "1");
    CHECK(r.get("connection") == "close");
    CHECK(r.get("content-type") == "application/problem+json");
    CHECK(refused.closedByServer());
  });
  CHECK(f.server().boundCloses().refused == 1);
  CHECK(f.server().boundCloses().idle_evicted == 0);
  CHECK(f.server().responsesByClass()[4] == 1);
  held.responders.clear();  // answers 500 on the connections still open
  f.finish();
}

TEST_CASE("a slow handler is not cut off by the idle timeout") {
  HttpLimits limits;
  limits.idle_timeout_ms = 30;
  Fixture f(limits);
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    replyLater(f.loop(), 120, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/slow"));
    CHECK(c.read().body == "/slow");
  });
  f.finish();
}

TEST_CASE("a client that resets before its answer leaves the responder harmless") {
  Fixture f;
  HttpResponder kept;
  bool connected_at_request = false;
  f.handler = [&](HttpRequest&&, HttpResponder&& res) {
    connected_at_request = res.connected();
    kept = std::move(res);
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/x"));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    c.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  });
  f.runFor(20);
  CHECK(connected_at_request);
  CHECK_FALSE(kept.connected());
  CHECK(f.server().inFlight() == 0);
  CHECK(f.server().connectionCount() == 0);
  kept.send(text("too late"));  // a no-op, not a crash
  f.finish();
}

TEST_CASE("a client that closes before its answer gets the answer written or dropped safely") {
  Fixture f;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    replyLater(f.loop(), 40, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/x"));
  });  // the client's socket closes here, before the answer
  f.runFor(100);
  CHECK(f.server().inFlight() == 0);
  CHECK(f.server().connectionCount() == 0);
  f.finish();
}

TEST_CASE("a responder dropped without an answer sends 500 so the pipeline goes on") {
  Fixture f;
  f.handler = [](HttpRequest&& req, HttpResponder&& res) {
    if (req.path == "/drop") return;  // `res` dies here unanswered
    res.send(text("fine"));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/drop") + get("/next"));
    CHECK(c.read().status == 500);
    CHECK(c.read().body == "fine");
  });
  f.finish();
}

TEST_CASE("response headers with CR or LF are dropped and framing headers are the server's") {
  Fixture f;
  f.handler = [](HttpRequest&&, HttpResponder&& res) {
    HttpResponse r;
    r.status = 201;
    r.headers.emplace_back("X-Ok", "yes");
    r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: pwned=1");
    r.headers.emplace_back("Bad Name", "v");
    r.headers.emplace_back("Content-Length", "999");
    r.headers.emplace_back("Transfer-Encoding", "chunked");
    r.body = "abc";
    res.send(std::move(r));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/"));
    ClientResponse r = c.read();
    CHECK(r.status == 201);
    CHECK(r.get("x-ok") == "yes");
    CHECK_FALSE(r.has("x-evil"));
    CHECK_FALSE(r.has("set-cookie"));
    CHECK_FALSE(r.has("bad name"));
    CHECK_FALSE(r.has("transfer-encoding"));
    CHECK(r.get("content-length") == "3");
    CHECK(r.body == "abc");
  });
  f.finish();
}

TEST_CASE("204 carries neither a body nor a Content-Length") {
  Fixture f;
  f.handler = [](HttpRequest&&, HttpResponder&& res) { res.send(text("ignored", 204)); };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/") + get("/"));
    ClientResponse r = c.read();
    CHECK(r.status == 204);
    CHECK_FALSE(r.has("content-length"));
    CHECK(c.read().status == 204);
  });
  f.finish();
}

TEST_CASE("stopAccepting lets a request in flight finish and closes idle connections") {
  Fixture f;
  f.handler = [&](HttpRequest&& req, HttpResponder&& res) {
    if (req.path == "/stop") f.server().stopAccepting();
    replyLater(f.loop(), 30, std::move(res), text(req.path));
  };
  f.runClient([&] {
    Client idle(f.port());
    idle.send(get("/warm"));
    CHECK(idle.read().status == 200);
    Client c(f.port());
    c.send(get("/stop"));
    ClientResponse r = c.read();
    CHECK(r.body == "/stop");
    CHECK(r.get("connection") == "close");
    CHECK(c.closedByServer());
    CHECK(idle.closedByServer());
    CHECK(connectTo(f.port()) < 0);
  });
  CHECK(f.server().inFlight() == 0);
  f.finish();
}

TEST_CASE("close with open connections and unanswered requests leaks no handle") {
  Fixture f;
  HttpResponder kept;
  f.handler = [&](HttpRequest&&, HttpResponder&& res) { kept = std::move(res); };
  f.runClient([&] {
    Client a(f.port());
    Client b(f.port());
    a.send(get("/held"));
    b.send("GET / HTTP/1.1\r\nHo");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  });
  CHECK(f.server().inFlight() == 1);
  f.finish();  // close() with both connections open
  CHECK_FALSE(kept.connected());
  kept.send(text("after the server is gone"));
}

// Room for `connections` clients and their server sides in this process: the soft
// descriptor limit raised toward the hard one. False when the hard one is too low.
bool roomForConnections(size_t connections) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return false;
  const rlim_t needed = 2 * connections + 100;
  if (limit.rlim_cur >= needed) return true;
  if (limit.rlim_max < needed) return false;
  limit.rlim_cur = needed;
  return ::setrlimit(RLIMIT_NOFILE, &limit) == 0;
}

TEST_CASE("a burst of newcomers waiting in the backlog is accepted over turns and every one answered") {
  constexpr int kClients = 500;  // within the listen backlog (511)
  REQUIRE(roomForConnections(kClients));
  Fixture f;
  // Connected and asking while the loop does not run, so that all of them wait in the
  // backlog together and the loop meets them as one burst.
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(f.port()));
    REQUIRE(clients.back()->connected());
    clients.back()->send(get("/burst/" + std::to_string(i)));
  }
  int answered = 0;
  f.runClient([&] {
    for (int i = 0; i < kClients; ++i) {
      ClientResponse r = clients[static_cast<size_t>(i)]->read();
      if (r.status == 200 && r.body == "GET /burst/" + std::to_string(i) + " ") ++answered;
    }
  });
  CHECK(answered == kClients);
}

TEST_CASE("a thousand clients leaving at once are closed over several turns, and close() ends the rest") {
  constexpr int kClients = 1000;
  REQUIRE(roomForConnections(kClients));
  for (bool close_server_at_once : {false, true}) {
    CAPTURE(close_server_at_once);
    Fixture f;
    std::vector<std::unique_ptr<Client>> clients;
    f.runClient([&] {
      for (int i = 0; i < kClients; ++i) {
        clients.push_back(std::make_unique<Client>(f.port()));
        clients.back()->send(get("/warm"));
        if (clients.back()->read().status != 200) return;
      }
    });
    REQUIRE(f.server().connectionCount() == kClients);
    clients.clear();  // every FIN is waiting when the loop next polls
    if (close_server_at_once) {
      // One turn reads every FIN and closes what its share allows; close() ends the ones
      // still waiting for a turn, and finish() proves no handle is left.
      uv_run(f.loop(), UV_RUN_ONCE);
      f.finish();
      continue;
    }
    // Turns that ended with a leaver not yet closed (a close callback runs after the check
    // phase of the turn that closed it).
    struct Count {
      HttpServer* server;
      int turns = 0;
    } count{&f.server()};
    uv_check_t counter{};
    uv_check_init(f.loop(), &counter);
    counter.data = &count;
    uv_check_start(&counter, [](uv_check_t* h) {
      auto* c = static_cast<Count*>(h->data);
      if (c->server->connectionCount() > 0) ++c->turns;
    });
    REQUIRE(test::runLoopUntil(f.loop(), "every leaver to be closed",
                               [&] { return f.server().connectionCount() == 0; }));
    uv_close(reinterpret_cast<uv_handle_t*>(&counter), nullptr);
    // A thousand closes take longer than one turn's share (HttpServer::kTurnShareNs).
    CHECK(count.turns > 1);
    // And the server goes on serving.
    f.runClient([&] {
      Client c(f.port());
      c.send(get("/after"));
      CHECK(c.read().body == "GET /after ");
    });
  }
}

TEST_CASE("close on a server that never listened calls back at once") {
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    HttpServer server(&loop, {}, echo);
    bool closed = false;
    server.close([&closed] { closed = true; });
    CHECK(closed);
  }
  CHECK(uv_loop_close(&loop) == 0);
}

TEST_CASE("listening on a taken port fails with an error and still closes clean") {
  Fixture f;
  uv_loop_t loop;
  uv_loop_init(&loop);
  {
    HttpServer second(&loop, {}, echo);
    Result<int> r = second.listen("127.0.0.1", f.port());
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().kind == ErrorKind::kIo);
    bool closed = false;
    second.close([&closed] { closed = true; });
    test::runLoopToEnd(&loop, "the second server to close");
    CHECK(closed);
  }
  CHECK(uv_loop_close(&loop) == 0);
  f.finish();
}

TEST_CASE("a Unix-socket listener serves the same HTTP, 0600, and tells the handler its peer's uid") {
  test::TempDir tmp;
  std::string path = (tmp.path() / "s.sock").string();
  uv_loop_t loop;
  uv_loop_init(&loop);
  std::vector<std::optional<uint32_t>> peers;
  {
    HttpServer server(&loop, {}, [&peers](HttpRequest&& req, HttpResponder&& res) {
      peers.push_back(req.unix_peer_uid);
      echo(std::move(req), std::move(res));
    });
    REQUIRE(server.listenUnix(path).ok());
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::atomic<bool> finished{false};
    std::thread client([&] {
      Client c(path);
      if (c.connected()) {
        c.send(get("/a") + get("/b"));  // pipelined, on one connection
        ClientResponse a = c.read();
        ClientResponse b = c.read();
        CHECK(a.body == "GET /a ");
        CHECK(b.body == "GET /b ");
      }
      CHECK(c.connected());
      finished = true;
    });
    bool done = test::runLoopUntil(&loop, "the Unix-socket client to finish", [&] { return finished.load(); },
                                   std::chrono::seconds(30));
    client.join();
    REQUIRE(done);
    // A second listener on the same path is refused: the owner must clear it first.
    HttpServer second(&loop, {}, echo);
    CHECK_FALSE(second.listenUnix(path).ok());
    int closed = 0;
    server.close([&closed] { ++closed; });
    second.close([&closed] { ++closed; });
    test::runLoopToEnd(&loop, "both servers to close");
    CHECK(closed == 2);
  }
  CHECK(uv_loop_close(&loop) == 0);
  REQUIRE(peers.size() == 2);
  CHECK(peers[0] == ::geteuid());
  CHECK(peers[1] == ::geteuid());
}

TEST_CASE("a TCP request carries no Unix peer uid") {
  Fixture f;
  std::optional<uint32_t> peer = 12345;
  f.handler = [&peer](HttpRequest&& req, HttpResponder&& res) {
    peer = req.unix_peer_uid;
    echo(std::move(req), std::move(res));
  };
  f.runClient([&] {
    Client c(f.port());
    c.send(get("/x"));
    CHECK(c.read().status == 200);
  });
  CHECK_FALSE(peer.has_value());
  f.finish();
}

TEST_CASE("problemResponse builds an RFC 9457 body") {
  HttpResponse r = problemResponse(404, "Not Found", "no \"route\"");
  CHECK(r.status == 404);
  REQUIRE(r.headers.size() == 1);
  CHECK(r.headers[0].second == "application/problem+json");
  CHECK(r.body == R"({"detail":"no \"route\"","status":404,"title":"Not Found","type":"about:blank"})");
}

}  // namespace gust
