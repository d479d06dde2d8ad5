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
// 32 bytes is the least that makes guessing hopeless even without the login slow-down;
// the generated token is 64 hex digits.
constexpr size_t kMinTokenBytes = 32;
constexpr std::string_view kMakeToken = "make one with 'openssl rand -hex 32'";

Result<std::string> longEnough(Result<std::string> token, const std::string& where, std::string_view fix) {
  if (token && token->size() < kMinTokenBytes) {
    return makeError(ErrorKind::kBadInput, where + " holds a token of " + std::to_string(token->size()) +
                                               " bytes; the admin token must have at least " +
                                               std::to_string(kMinTokenBytes) + ": " + std::string(fix));
  }
  return token;
}

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

Result<std::string> loadOrCreateAdminToken(const fs::path& data_dir) {
  if (const char* env = std::getenv("GUST_ADMIN_TOKEN"); env && *env) {
    if (std::strlen(env) > kMaxTokenBytes) return makeError(ErrorKind::kBadInput, "GUST_ADMIN_TOKEN is too long");
    return longEnough(std::string(env), "GUST_ADMIN_TOKEN", kMakeToken);
  }
  fs::path file = data_dir / "admin.token";
  std::string fix_file = std::string(kMakeToken) + ", or delete " + file.string() + " and the host makes one";
  std::error_code ec;
  if (fs::exists(file, ec)) return longEnough(readTokenFile(file), file.string(), fix_file);
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
    if (errno == EEXIST) return longEnough(readTokenFile(file), file.string(), fix_file);
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
