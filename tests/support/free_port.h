#pragma once
// A TCP port on 127.0.0.1 that nothing listens on now, for a server a test starts itself
// (redis-server, nginx). Another process may take it before the server binds it; the tests
// that use it start their servers at once.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace gust::test {

inline int freeLoopbackPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace gust::test
