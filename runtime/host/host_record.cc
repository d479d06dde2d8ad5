#include "runtime/host/host_record.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace gust {

namespace fs = std::filesystem;

namespace {

std::optional<fs::path> absoluteEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || value[0] != '/') return std::nullopt;
  return fs::path(value);
}

// The folder is this user's alone: a real directory (not a link someone could point
// elsewhere), owned by this user, which nobody else may write to.
Result<void> checkSafe(const fs::path& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    return makeError(ErrorKind::kIo, "cannot look at " + dir.string() + ": " + std::strerror(errno));
  }
  std::string problem;
  if (!S_ISDIR(st.st_mode)) problem = "is not a directory";
  else if (st.st_uid != ::geteuid()) problem = "is owned by uid " + std::to_string(st.st_uid) + ", not by you";
  else if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) problem = "may be written by other users";
  if (problem.empty()) return {};
  return makeError(ErrorKind::kBadInput, "the host records' folder " + dir.string() + " " + problem +
                                             ", so a record there could be planted; remove it (a host recreates "
                                             "it, mode 0700) or set XDG_RUNTIME_DIR to a folder of your own");
}

// A host listens on it: connect succeeds. Refused, missing or too long is no host.
bool answers(const fs::path& socket) {
  sockaddr_un addr{};
  const std::string& name = socket.native();
  if (name.empty() || name.size() >= sizeof addr.sun_path) return false;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.c_str(), name.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::close(fd);
  return rc == 0;
}

// Written whole into a temp file of the same folder, then renamed: a reader sees the old
// record or the new one, never half of one.
Result<void> writeAtomically(const fs::path& temp, const fs::path& file, const std::string& text) {
  ::unlink(temp.c_str());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return makeError(ErrorKind::kIo, "cannot create " + temp.string() + ": " + std::strerror(errno));
  bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = errno;
  ::close(fd);
  if (!written || ::rename(temp.c_str(), file.c_str()) != 0) {
    if (written) err = errno;
    ::unlink(temp.c_str());
    return makeError(ErrorKind::kIo, "cannot write " + file.string() + ": " + std::strerror(err));
  }
  return {};
}

std::optional<std::string> readSmallFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

bool processExists(pid_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM); }

std::optional<HostRecord> parseRecord(const std::string& text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  auto pid = json.find("pid");
  auto socket = json.find("admin_socket");
  auto data_dir = json.find("data_dir");
  if (pid == json.end() || !pid->is_number_integer() || socket == json.end() || !socket->is_string() ||
      data_dir == json.end() || !data_dir->is_string()) {
    return std::nullopt;
  }
  HostRecord record;
  record.pid = pid->get<pid_t>();
  record.admin_socket = socket->get<std::string>();
  record.data_dir = data_dir->get<std::string>();
  if (auto url = json.find("admin_url"); url != json.end() && url->is_string()) record.admin_url = url->get<std::string>();
  return record;
}

}  // namespace

std::optional<fs::path> hostRecordDir() {
  if (auto runtime = absoluteEnv("XDG_RUNTIME_DIR")) return *runtime / "gust";
  if (auto state = absoluteEnv("XDG_STATE_HOME")) return *state / "gust" / "hosts";
  if (auto home = absoluteEnv("HOME")) return *home / ".local" / "state" / "gust" / "hosts";
  return std::nullopt;
}

Result<fs::path> writeHostRecord(const fs::path& dir, const HostRecord& record) {
  std::error_code ec;
  // Parents as the user's umask makes them (they are the user's own XDG folders); the
  // records' folder itself 0700.
  fs::create_directories(dir.parent_path(), ec);
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return makeError(ErrorKind::kIo, "cannot create " + dir.string() + ": " + std::strerror(errno));
  }
  if (auto safe = checkSafe(dir); !safe) return safe.error();
  nlohmann::json json = {{"pid", record.pid},
                         {"admin_socket", record.admin_socket.string()},
                         {"admin_url", record.admin_url},
                         {"data_dir", record.data_dir.string()}};
  fs::path file = dir / ("host-" + std::to_string(record.pid) + ".json");
  fs::path temp = dir / (".host-" + std::to_string(record.pid) + ".json.tmp");
  if (auto written = writeAtomically(temp, file, json.dump() + "\n"); !written) return written.error();
  return file;
}

Result<std::vector<HostRecord>> liveHostRecords(const fs::path& dir) {
  std::vector<HostRecord> live;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) return live;
  if (auto safe = checkSafe(dir); !safe) return safe.error();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path& file = entry.path();
    std::string name = file.filename().string();
    if (name.rfind("host-", 0) != 0 || file.extension() != ".json") continue;
    if (!entry.is_regular_file(ec) || entry.is_symlink(ec)) continue;
    auto text = readSmallFile(file);
    std::optional<HostRecord> record = text ? parseRecord(*text) : std::nullopt;
    if (record && processExists(record->pid) && answers(record->admin_socket)) {
      live.push_back(std::move(*record));
    } else if (text) {
      // A host that died without its clean exit (or a file no host wrote): nobody answers.
      fs::remove(file, ec);
    }
  }
  std::sort(live.begin(), live.end(), [](const HostRecord& a, const HostRecord& b) { return a.pid < b.pid; });
  return live;
}

}  // namespace gust
