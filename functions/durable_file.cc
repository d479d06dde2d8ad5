#include "functions/durable_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace gust {
namespace fs = std::filesystem;

Error ioError(const std::string& what, const fs::path& path, int err) {
  return makeError(ErrorKind::kIo, "cannot " + what + " " + path.string() + ": " + std::strerror(err));
}

Error ioError(const std::string& what, const fs::path& path, const std::error_code& ec) {
  return makeError(ErrorKind::kIo, "cannot " + what + " " + path.string() + ": " + ec.message());
}

Result<void> writeFileSynced(const fs::path& path, std::string_view data, mode_t mode) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return ioError("create", path, errno);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ioError("write", path, err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    int err = errno;
    ::close(fd);
    return ioError("fsync", path, err);
  }
  if (::close(fd) != 0) return ioError("close", path, errno);
  return {};
}

Result<void> syncDir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ioError("open", dir, errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ioError("fsync", dir, err);
  return {};
}

std::string randomSuffix() {
  std::random_device random;
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08x%08x", random(), random());
  return buf;
}

Result<void> replaceFileSynced(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path temp = path;
  temp += ".tmp-" + randomSuffix();
  if (auto written = writeFileSynced(temp, data, mode); !written) {
    ::unlink(temp.c_str());
    return written;
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return ioError("rename " + temp.string() + " to", path, err);
  }
  return syncDir(path.parent_path());
}

}  // namespace gust
