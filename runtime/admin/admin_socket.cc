#include "runtime/admin/admin_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace gust {

Result<void> claimAdminSocket(const std::filesystem::path& path, const std::filesystem::path& data_dir) {
  sockaddr_un addr{};
  const std::string& name = path.native();
  // bind would cut a longer path short without a word and create a socket somewhere else.
  if (name.size() >= sizeof addr.sun_path) {
    return makeError(ErrorKind::kBadInput, "the admin socket path " + name + " is " + std::to_string(name.size()) +
                                               " bytes, longer than the " + std::to_string(sizeof addr.sun_path - 1) +
                                               " a Unix socket allows; choose a shorter one with --admin-socket");
  }
  struct stat st {};
  if (::lstat(name.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return makeError(ErrorKind::kIo, "cannot look at the admin socket " + name + ": " + std::strerror(errno) +
                                         " (choose another with --admin-socket)");
  }
  if (!S_ISSOCK(st.st_mode)) {
    return makeError(ErrorKind::kBadInput, name + " exists and is not a socket; remove it, or choose another path "
                                                  "for the admin socket with --admin-socket");
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.c_str(), name.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return makeError(ErrorKind::kIo, std::string("socket: ") + std::strerror(errno));
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (rc == 0) {
    return makeError(ErrorKind::kConflict, "another host serves " + data_dir.string() + " (it answers on " + name +
                                               "); stop it or use another --data-dir");
  }
  if (err != ECONNREFUSED) {
    return makeError(ErrorKind::kIo, "cannot tell whether a host still serves " + name + ": connect: " +
                                         std::strerror(err) + " (choose another path with --admin-socket)");
  }
  // Nobody listens: the file was left by a host that did not exit cleanly.
  if (::unlink(name.c_str()) != 0 && errno != ENOENT) {
    return makeError(ErrorKind::kIo, "cannot remove the stale admin socket " + name + ": " + std::strerror(errno));
  }
  return {};
}

}  // namespace gust
