// The WebSocket and streamed-response transport of HttpServer, driven by clients nobody
// here wrote (npm's ws, curl) and, for what those never send, by raw bytes over a socket.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/run_loop.h"
#include "triggers/http/http_server.h"
#include "triggers/http/websocket_handshake.h"

namespace gust {
namespace {

// What the server side saw of one WebSocket (the loop thread's).
struct Seen {
  std::vector<std::string> messages;
  bool flood_refused = false;
  int close_code = 0;
  std::string close_reason;
};

// Echoes every message; "close-me" makes the host close, "flood" makes it send until the
// connection refuses more.
class EchoHandler final : public WebSocketHandler {
 public:
  EchoHandler(Seen& seen, std::shared_ptr<WebSocket> socket) : seen_(seen), socket_(std::move(socket)) {}
  void onMessage(std::string&& data, bool binary) override {
    seen_.messages.push_back(data);
    if (data == "close-me") return socket_->close(4001, "server says bye");
    if (data == "flood") {
      std::string chunk(64 * 1024, 'f');
      for (int i = 0; i < 10'000; ++i) {
        if (!socket_->send(chunk)) {
          seen_.flood_refused = true;
          return;
        }
      }
      return;
    }
    socket_->send(data, binary);
  }
  void onClose(uint16_t code, std::string_view reason) override {
    seen_.close_code = code;
    seen_.close_reason = std::string(reason);
  }

 private:
  Seen& seen_;
  std::shared_ptr<WebSocket> socket_;  // set once acceptWebSocket returns
};

class Fixture {
 public:
  Fixture() {
    uv_loop_init(&loop_);
    server_ = std::make_unique<HttpServer>(&loop_, HttpLimits{},
                                           [this](HttpRequest&& req, HttpResponder&& res) { handle(std::move(req), std::move(res)); });
    Result<int> port = server_->listen("127.0.0.1", 0);
    REQUIRE(port.ok());
    port_ = *port;
  }
  ~Fixture() { finish(); }

  std::string url(std::string_view path) const { return "ws://127.0.0.1:" + std::to_string(port_) + std::string(path); }
  int port() const { return port_; }
  HttpServer& server() { return *server_; }

  // Runs the loop until `client`, on its own thread, returns.
  void runClient(const std::function<void()>& client) { REQUIRE(test::runLoopWhile(&loop_, client)); }

  // Runs the ws client script with `scenario` while the loop serves; its JSON lines.
  std::vector<nlohmann::json> runNodeClient(std::string_view path, std::string_view scenario) {
    const char* root = std::getenv("GUST_SOURCE_ROOT");
    REQUIRE(root != nullptr);
    std::string command = "node " + std::string(root) + "/tests/js/ws_transport_client.mjs " + url(path) + " " +
                          std::string(scenario);
    std::vector<nlohmann::json> lines;
    for (const std::string& line : runCommand(command)) {
      nlohmann::json value = nlohmann::json::parse(line, nullptr, false);
      if (!value.is_discarded()) lines.push_back(std::move(value));
    }
    return lines;
  }

  // Runs `command` (a shell line) while the loop serves; its output, a line an entry.
  std::vector<std::string> runCommand(const std::string& command) {
    std::vector<std::string> lines;
    runClient([&] {
      FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
      if (pipe == nullptr) return;
      char buf[8192];
      while (std::fgets(buf, sizeof buf, pipe) != nullptr) {
        std::string line(buf);
        if (!line.empty() && line.back() == '\n') line.pop_back();
        lines.push_back(line);
      }
      ::pclose(pipe);
    });
    return lines;
  }

  void finish() {
    if (server_ == nullptr) return;
    int closed = 0;
    server_->close([&closed] { ++closed; });
    test::runLoopToEnd(&loop_, "the server to close");
    CHECK(closed == 1);
    server_.reset();
    CHECK(uv_loop_close(&loop_) == 0);
  }

  Seen seen;
  WebSocketLimits limits;
  std::vector<std::string> offered_protocols;
  static constexpr size_t kBigEvent = 16u << 20;
  ResponseStream stream;
  int drained = 0;
  bool big_waited = false;
  bool drain_on_accept = false;

 private:
  void handle(HttpRequest&& request, HttpResponder&& responder) {
    if (request.path == "/plain") {
      HttpResponse plain;
      plain.body = "plain";
      return responder.send(std::move(plain));
    }
    if (request.path == "/events") {
      HttpResponse head;
      head.headers.emplace_back("Content-Type", "text/event-stream");
      stream = responder.startStream(std::move(head), 1 << 20);
      stream.write("data: one\n\n");
      stream.write("data: two\n\n");
      stream.end();
      return;
    }
    if (request.path == "/big") {
      // 16 MiB into an empty queue with a 64 KiB bound: it goes, however large. The client
      // reads nothing at first, so most of it waits in the host; once the kernel has taken
      // it all, the drained callback ends the stream with a last line.
      stream = responder.startStream(HttpResponse{}, 64 * 1024);
      stream.onDrained([this] {
        ++drained;
        stream.write("data: drained\n\n");
        stream.end();
      });
      CHECK(stream.write("data: " + std::string(kBigEvent, 'x') + "\n\n"));
      big_waited = stream.bufferedBytes() > 0;
      return;
    }
    auto checked = checkWebSocketHandshake(request);
    if (auto* refusal = std::get_if<HttpResponse>(&checked)) return responder.send(std::move(*refusal));
    const auto& handshake = std::get<WebSocketHandshake>(checked);
    offered_protocols = handshake.protocols;
    WebSocketAccept accept;
    accept.limits = limits;
    if (!handshake.protocols.empty()) accept.protocol = "chat";
    auto socket = std::make_shared<WebSocket>();
    *socket = responder.acceptWebSocket(handshake, std::move(accept), std::make_unique<EchoHandler>(seen, socket));
    if (drain_on_accept) server_->stopAccepting();
  }

  uv_loop_t loop_{};
  std::unique_ptr<HttpServer> server_;
  int port_ = 0;
};

bool has(const std::vector<nlohmann::json>& lines, const nlohmann::json& expected) {
  for (const auto& line : lines) {
    if (line == expected) return true;
  }
  return false;
}

// A plain TCP client for bytes no WebSocket library would send.
class RawClient {
 public:
  explicit RawClient(int port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    timeval tv{5, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~RawClient() { ::close(fd_); }
  bool connected() const { return connected_; }
  void send(std::string_view bytes) { (void)::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL); }
  // Reads until `marker` has been received (and drops what came before it); false if the
  // connection closes first.
  bool readUntil(std::string_view marker) {
    char buf[4096];
    for (;;) {
      size_t at = pending_.find(marker);
      if (at != std::string::npos) {
        pending_.erase(0, at + marker.size());
        return true;
      }
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return false;
      pending_.append(buf, static_cast<size_t>(n));
    }
  }
  // Everything until the server closes the connection (or 5 s pass).
  std::string readToClose() {
    std::string out = std::move(pending_);
    char buf[4096];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return out;
      out.append(buf, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
  std::string pending_;
};

std::string upgradeRequest(std::string_view key = "dGhlIHNhbXBsZSBub25jZQ==", std::string_view version = "13") {
  return "GET /raw HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
         std::string(key) + "\r\nSec-WebSocket-Version: " + std::string(version) + "\r\n\r\n";
}

// A masked client frame with the all-zero key, so that the payload reads as sent.
std::string zeroMaskedFrame(uint8_t first, std::string_view payload) {
  std::string out{static_cast<char>(first), static_cast<char>(0x80 | payload.size())};
  out.append(4, '\0');
  out.append(payload);
  return out;
}

TEST_CASE("npm's ws client gets text and binary echoed, a fragmented message whole, and a pong") {
  Fixture f;
  auto lines = f.runNodeClient("/echo", "echo");
  CHECK(has(lines, {{"open", true}, {"protocol", ""}}));
  CHECK(has(lines, {{"message", "hello"}, {"binary", false}}));
  CHECK(has(lines, {{"message", {1, 2, 3}}, {"binary", true}}));
  CHECK(has(lines, {{"message", "fragmented"}, {"binary", false}}));
  CHECK(has(lines, {{"pong", "are you there"}}));
  // The client closed with its own code, which the host echoed and told the handler.
  CHECK(has(lines, {{"close", 4000}, {"reason", ""}}));
  CHECK(f.seen.close_code == 4000);
  CHECK(f.seen.close_reason == "client says bye");
  CHECK(f.server().openWebSockets() == 0);
}

TEST_CASE("a close started by the host reaches the client with its code and reason") {
  Fixture f;
  auto lines = f.runNodeClient("/echo", "server-close");
  CHECK(has(lines, {{"close", 4001}, {"reason", "server says bye"}}));
  CHECK(f.seen.close_code == 4001);
}

TEST_CASE("the accepted subprotocol is one the client offered") {
  Fixture f;
  auto lines = f.runNodeClient("/echo", "protocol");
  CHECK(f.offered_protocols == std::vector<std::string>{"first", "chat"});
  CHECK(has(lines, {{"open", true}, {"protocol", "chat"}}));
}

TEST_CASE("a message past the limit closes the WebSocket with 1009") {
  Fixture f;
  f.limits.max_message_bytes = 1024;
  auto lines = f.runNodeClient("/echo", "oversize");
  CHECK(has(lines, {{"close", 1009}, {"reason", "message larger than the limit"}}));
  CHECK(f.seen.close_code == 1009);
  CHECK(f.seen.messages.empty());
}

TEST_CASE("a client that does not read is closed with 1008 instead of being buffered for") {
  Fixture f;
  f.limits.max_buffered_bytes = 256 * 1024;
  auto lines = f.runNodeClient("/echo", "slow");
  CHECK(f.seen.flood_refused);
  CHECK(f.seen.close_code == 1008);
  bool closed = false;
  for (const auto& line : lines) closed |= line.contains("close");
  CHECK(closed);
}

TEST_CASE("a WebSocket that receives nothing within the idle timeout is closed with 1001") {
  Fixture f;
  f.limits.idle_timeout_ms = 200;
  f.limits.ping_interval_ms = 60'000;  // no ping, so nothing comes back
  auto lines = f.runNodeClient("/echo", "idle");
  CHECK(has(lines, {{"close", 1001}, {"reason", "nothing received within the idle timeout"}}));
  CHECK(f.seen.close_code == 1001);
}

TEST_CASE("the host pings a quiet peer, whose pongs keep it open past the idle timeout") {
  Fixture f;
  // The idle timeout leaves room for a stalled sanitized test; the pings still span two.
  f.limits.idle_timeout_ms = 1000;
  f.limits.ping_interval_ms = 100;
  int pings = 0;
  f.runClient([&] {
    RawClient client(f.port());
    REQUIRE(client.connected());
    client.send(upgradeRequest());
    REQUIRE(client.readUntil("\r\n\r\n"));
    // 25 pings come at least 100 ms apart: over two idle timeouts, bridged by the pongs.
    while (pings < 25 && client.readUntil(std::string("\x89\x00", 2))) {
      ++pings;
      client.send(zeroMaskedFrame(0x8A, ""));
    }
    client.send(zeroMaskedFrame(0x88, std::string("\x03\xE8", 2)));
    client.readToClose();
  });
  CHECK(pings == 25);
  CHECK(f.seen.close_code == 1000);
}

TEST_CASE("an unmasked frame closes the WebSocket with 1002, and bytes sent with the upgrade reach it") {
  Fixture f;
  std::string received;
  f.runClient([&] {
    RawClient client(f.port());
    REQUIRE(client.connected());
    // A masked message pipelined right behind the request, then an unmasked one.
    client.send(upgradeRequest() + zeroMaskedFrame(0x81, "early"));
    client.send(std::string("\x81\x02hi", 4));
    received = client.readToClose();
  });
  CHECK(received.find("HTTP/1.1 101 Switching Protocols\r\n") == 0);
  CHECK(received.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") != std::string::npos);
  CHECK(received.find(std::string("\x81\x05" "early", 7)) != std::string::npos);  // echoed
  CHECK(received.find(std::string("\x03\xEA", 2) + "client frame not masked") != std::string::npos);
  REQUIRE(f.seen.messages.size() == 1);
  CHECK(f.seen.messages[0] == "early");
  CHECK(f.seen.close_code == 1002);
}

TEST_CASE("a handshake with a bad key gets 400 and one with another version 426, and each is closed") {
  Fixture f;
  std::string bad_key;
  std::string bad_version;
  f.runClient([&] {
    RawClient a(f.port());
    a.send(upgradeRequest("c2hvcnQ="));
    bad_key = a.readToClose();
    RawClient b(f.port());
    b.send(upgradeRequest("dGhlIHNhbXBsZSBub25jZQ==", "8"));
    bad_version = b.readToClose();
  });
  CHECK(bad_key.find("HTTP/1.1 400 ") == 0);
  CHECK(bad_key.find("Connection: close\r\n") != std::string::npos);
  CHECK(bad_version.find("HTTP/1.1 426 ") == 0);
  CHECK(bad_version.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(f.server().openWebSockets() == 0);
}

TEST_CASE("an upgrade the handler answers with send() (h2c) is served as HTTP/1.1, then the connection closes") {
  Fixture f;
  std::string received;
  f.runClient([&] {
    RawClient client(f.port());
    client.send("GET /plain HTTP/1.1\r\nHost: test\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n"
                "GET /plain HTTP/1.1\r\nHost: test\r\n\r\n");
    received = client.readToClose();
  });
  CHECK(received.find("HTTP/1.1 200 OK\r\n") == 0);
  CHECK(received.find("Connection: close\r\n") != std::string::npos);
  // The bytes behind the upgrade request were never read as a second request.
  CHECK(received.find("HTTP/1.1", 1) == std::string::npos);
}

TEST_CASE("past setMaxWebSockets a new WebSocket is answered 503, and the open one goes on") {
  Fixture f;
  f.server().setMaxWebSockets(1);
  std::string refused;
  std::string echoed;
  f.runClient([&] {
    RawClient first(f.port());
    first.send(upgradeRequest());
    REQUIRE(first.readUntil("\r\n\r\n"));
    RawClient second(f.port());
    second.send(upgradeRequest());
    refused = second.readToClose();
    first.send(zeroMaskedFrame(0x81, "still here"));
    REQUIRE(first.readUntil("still here"));
    first.send(zeroMaskedFrame(0x88, std::string("\x03\xE8", 2)));
    echoed = first.readToClose();
  });
  CHECK(refused.find("HTTP/1.1 503 ") == 0);
  CHECK(refused.find("Retry-After: 1\r\n") != std::string::npos);
  CHECK(echoed == std::string("\x88\x02\x03\xE8", 4));  // the close echoed, then the end
  CHECK(f.seen.close_code == 1000);
}

TEST_CASE("an event stream reaches curl -N as it is written, and ends with the connection") {
  Fixture f;
  auto lines = f.runCommand("curl -sN -D - http://127.0.0.1:" + std::to_string(f.port()) + "/events");
  std::string all;
  for (const auto& line : lines) all += line + "\n";
  CHECK(all.find("HTTP/1.1 200 OK") == 0);
  CHECK(all.find("Content-Type: text/event-stream") != std::string::npos);
  CHECK(all.find("Content-Length") == std::string::npos);
  CHECK(all.find("data: one\n\ndata: two\n") != std::string::npos);
  CHECK_FALSE(f.stream.open());
  CHECK(f.server().openStreams() == 0);
}

TEST_CASE("one write larger than the stream's bound goes out whole, and the drained callback says when it has") {
  Fixture f;
  std::string body;
  f.runClient([&] {
    RawClient client(f.port());
    client.send("GET /big HTTP/1.1\r\nHost: test\r\n\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // reads nothing meanwhile
    if (client.readUntil("\r\n\r\n")) body = client.readToClose();
  });
  CHECK(f.big_waited);  // 16 MiB is more than the kernel's buffers hold for a client not reading
  CHECK(body == "data: " + std::string(Fixture::kBigEvent, 'x') + "\n\ndata: drained\n\n");
  CHECK(f.drained == 1);
}

TEST_CASE("draining closes WebSockets with 1001 and the close handshake completes") {
  Fixture f;
  f.drain_on_accept = true;
  std::string received;
  f.runClient([&] {
    RawClient client(f.port());
    client.send(upgradeRequest());
    REQUIRE(client.readUntil(std::string("\x03\xE9", 2) + "the server is shutting down"));
    client.send(zeroMaskedFrame(0x88, std::string("\x03\xE9", 2)));
    received = client.readToClose();
  });
  CHECK(f.seen.close_code == 1001);
  CHECK(f.seen.close_reason == "the server is shutting down");
  CHECK(f.server().openWebSockets() == 0);
}

}  // namespace
}  // namespace gust
