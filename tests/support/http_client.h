#pragma once
// HTTP clients for tests, each with explicit deadlines: cpp-httplib waits 300 s for a
// connection by default, longer than meson lets a test run, so a peer that never accepts
// would end the test without saying why.

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>
#include <string>

namespace gust::test {

// A client of 127.0.0.1:`port` that gives up after 5 s connecting and after `timeout`
// reading or writing (long enough for the slowest answer the test expects).
inline httplib::Client localClient(int port, std::chrono::seconds timeout = std::chrono::seconds(10)) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(timeout.count(), 0);
  client.set_write_timeout(timeout.count(), 0);
  return client;
}

// The same for the Unix socket at `path` (the admin API's).
inline httplib::Client unixClient(const std::string& path, std::chrono::seconds timeout = std::chrono::seconds(10)) {
  httplib::Client client(path);
  client.set_address_family(AF_UNIX);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(timeout.count(), 0);
  client.set_write_timeout(timeout.count(), 0);
  return client;
}

}  // namespace gust::test
