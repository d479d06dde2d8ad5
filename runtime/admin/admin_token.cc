#include "runtime/admin/admin_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace gust {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxTokenBytes = 4096;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

Result<std::string> readTokenFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return makeError(ErrorKind::kNotFound, "cannot read " + file.string());
  std::string token(kMaxTokenBytes + 1, '\0');
  in.read(token.data(), static_cast<std::streamsize>(token.size()));
  token.resize(static_cast<size_t>(in.gcount()));
  token = trim(token);
  if (token.empty() || token.size() > kMaxTokenBytes) {
    return makeError(ErrorKind::kBadInput, file.string() + " does not hold a token; delete it and restart the host");
  }
  return token;
}

}  // namespace

bool constantTimeEquals(std::string_view a, std::string_view b) {
  // The length is not secret (tokens have a fixed form); the bytes are.
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Result<std::string> loadOrCreateAdminToken(const fs::path& data_dir) {
  if (const char* env = std::getenv("GUST_ADMIN_TOKEN"); env && *env) {
    if (std::strlen(env) > kMaxTokenBytes) return makeError(ErrorKind::kBadInput, "GUST_ADMIN_TOKEN is too long");
    return std::string(env);
  }
  fs::path file = data_dir / "admin.token";
  std::error_code ec;
  if (fs::exists(file, ec)) return readTokenFile(file);
  fs::create_directories(data_dir, ec);
  if (ec) return makeError(ErrorKind::kIo, "cannot create the data dir " + data_dir.string() + ": " + ec.message());
  unsigned char bytes[32];
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    return makeError(ErrorKind::kIo, std::string("cannot get random bytes for the admin token: ") + strerror(errno));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string token;
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 0xf];
  }
  // O_EXCL: two hosts starting at once must not both write a token.
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return readTokenFile(file);
    return makeError(ErrorKind::kIo, "cannot create " + file.string() + ": " + strerror(errno));
  }
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return makeError(ErrorKind::kIo, "cannot write " + file.string());
  return token;
}

Result<std::string> readAdminToken(const fs::path& data_dir) {
  if (const char* env = std::getenv("GUST_ADMIN_TOKEN"); env && *env) return std::string(env);
  auto token = readTokenFile(data_dir / "admin.token");
  if (!token) {
    return makeError(ErrorKind::kNotFound, "no admin token: set GUST_ADMIN_TOKEN, or run this where the host keeps its "
                                           "data (" + (data_dir / "admin.token").string() + ", or --data-dir)");
  }
  return token;
}

}  // namespace gust
