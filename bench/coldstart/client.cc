// Cold-start client: for an app whose pool scales to zero, times the request that has to
// start an instance (arrival to complete response, on an open keep-alive connection) and,
// right after it, the same request on the now warm instance.
//
// usage: coldstart_client PORT PATH RUNS IDLE_MS
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int connectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("connect");
    std::exit(1);
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Sends one GET and reads its whole response; returns microseconds and whether the host
// said it was a cold start.
std::pair<double, bool> timedGet(int fd, const std::string& path) {
  std::string request = "GET " + path + " HTTP/1.1\r\nHost: bench\r\n\r\n";
  auto start = Clock::now();
  if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) std::exit(1);
  std::string response;
  char buf[4096];
  for (;;) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      std::fprintf(stderr, "connection closed\n");
      std::exit(1);
    }
    response.append(buf, static_cast<size_t>(n));
    size_t head_end = response.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    size_t cl = response.find("Content-Length: ");
    size_t length = cl == std::string::npos ? 0 : std::strtoul(response.c_str() + cl + 16, nullptr, 10);
    if (response.size() >= head_end + 4 + length) break;
  }
  double us = std::chrono::duration<double, std::micro>(Clock::now() - start).count();
  if (response.rfind("HTTP/1.1 200", 0) != 0) {
    std::fprintf(stderr, "unexpected response: %.80s\n", response.c_str());
    std::exit(1);
  }
  return {us, response.find("X-Gust-Cold-Start: 1") != std::string::npos};
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: coldstart_client PORT PATH RUNS IDLE_MS\n");
    return 2;
  }
  int port = std::atoi(argv[1]);
  std::string path = argv[2];
  int runs = std::atoi(argv[3]);
  int idle_ms = std::atoi(argv[4]);
  int fd = connectTo(port);
  std::vector<double> cold, warm;
  int not_cold = 0;
  for (int i = 0; i < runs; ++i) {
    // Wait for the pool to reap its instance (idle timeout plus the stop).
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms));
    auto [cold_us, was_cold] = timedGet(fd, path);
    if (!was_cold) ++not_cold;
    else cold.push_back(cold_us);
    warm.push_back(timedGet(fd, path).first);
  }
  close(fd);
  if (cold.empty()) {
    std::fprintf(stderr, "no request was a cold start: is the app's idle_timeout shorter than %d ms?\n", idle_ms);
    return 1;
  }
  std::printf("cold start: p50 %.0f us  p99 %.0f us  (%zu runs%s)\n", percentile(cold, 0.5), percentile(cold, 0.99),
              cold.size(), not_cold ? ", some runs found a warm instance and were left out" : "");
  std::printf("warm:       p50 %.0f us  p99 %.0f us\n", percentile(warm, 0.5), percentile(warm, 0.99));
  std::printf("cold/warm p50 ratio: %.1fx\n", percentile(cold, 0.5) / percentile(warm, 0.5));
  return 0;
}
