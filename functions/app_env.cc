#include "functions/app_env.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>

#include "functions/durable_file.h"
#include "runtime/base/text.h"

namespace gust {
namespace {

// Room for kMaxEnvBytes of values once JSON has escaped them (at most 6 bytes for one).
constexpr size_t kMaxEnvFileBytes = 8 * kMaxEnvBytes;

bool isKeyChar(char c, bool first) {
  bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  return letter || (!first && c >= '0' && c <= '9');
}

bool startsWith(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

}  // namespace

Result<void> validateEnvKey(std::string_view key) {
  auto refuse = [&](const std::string& why) {
    return makeError(ErrorKind::kBadInput, "variable " + quote(key) + " " + why);
  };
  if (key.empty()) return makeError(ErrorKind::kBadInput, "a variable needs a name, as in API_KEY=value");
  if (key.size() > kMaxEnvKeyBytes) {
    return refuse("has a name of " + std::to_string(key.size()) + " bytes; at most " +
                  std::to_string(kMaxEnvKeyBytes) + " are allowed");
  }
  for (size_t i = 0; i < key.size(); ++i) {
    if (!isKeyChar(key[i], i == 0)) {
      return refuse("is not a valid name: use letters, digits and _, not starting with a digit (e.g. API_KEY)");
    }
  }
  if (startsWith(key, "GUST_")) return refuse("is refused: names starting with GUST_ are the host's own");
  if (startsWith(key, "LD_")) {
    return refuse("is refused: names starting with LD_ steer the dynamic linker before the worker is contained");
  }
  if (key == "PATH" || key == "HOME") return refuse("is refused: the host sets PATH and HOME for every worker");
  return {};
}

Result<void> validateEnvValue(std::string_view key, std::string_view value) {
  auto refuse = [&](const std::string& why) {
    return makeError(ErrorKind::kBadInput, "the value of " + std::string(key) + " " + why);
  };
  if (value.size() > kMaxEnvValueBytes) {
    return refuse("has " + std::to_string(value.size()) + " bytes; at most " + std::to_string(kMaxEnvValueBytes) +
                  " (32 KiB) are allowed");
  }
  if (value.find('\0') != std::string_view::npos) return refuse("contains a NUL byte, which no environment can hold");
  if (!isValidUtf8(value)) return refuse("is not UTF-8 text; encode binary secrets, e.g. as base64");
  return {};
}

Result<void> validateEnv(const AppEnv& env) {
  size_t bytes = 0;
  for (const auto& [key, value] : env) {
    if (auto ok = validateEnvKey(key); !ok) return ok;
    if (auto ok = validateEnvValue(key, value); !ok) return ok;
    bytes += key.size() + value.size();
  }
  if (env.size() > kMaxEnvVars) {
    return makeError(ErrorKind::kBadInput, "an app may have at most " + std::to_string(kMaxEnvVars) +
                                               " variables; this would make " + std::to_string(env.size()) +
                                               " (remove some with `gust env rm`)");
  }
  if (bytes > kMaxEnvBytes) {
    return makeError(ErrorKind::kBadInput, "an app's variables may take at most " + std::to_string(kMaxEnvBytes) +
                                               " bytes (256 KiB, names and values); this would make " +
                                               std::to_string(bytes));
  }
  return {};
}

Result<void> checkRequiredEnv(const Manifest& manifest, const AppEnv& env) {
  std::string missing, example;
  for (const auto& key : manifest.requiredEnv()) {
    if (env.count(key) > 0) continue;
    missing += (missing.empty() ? "" : ", ") + key;
    example += " " + key + "=...";
  }
  if (missing.empty()) return {};
  return makeError(ErrorKind::kBadInput, "app " + manifest.name + " requires environment variables that are not set: " +
                                             missing + "; set them with `gust env set " + manifest.name + example +
                                             "`");
}

std::filesystem::path AppEnvStore::fileOf(std::string_view app) const { return dir_ / (std::string(app) + ".json"); }

Result<AppEnv> AppEnvStore::load(std::string_view app) const {
  std::filesystem::path file = fileOf(app);
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return AppEnv{};
    return ioError("read", file, errno);
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxEnvFileBytes) return makeError(ErrorKind::kBadInput, file.string() + " is too large");
  }
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return makeError(ErrorKind::kBadInput, file.string() + " is not a JSON object of strings; fix or delete it");
  }
  AppEnv env;
  for (const auto& [key, value] : doc.items()) {
    if (!value.is_string()) {
      return makeError(ErrorKind::kBadInput, file.string() + ": " + quote(key) + " is not a string; fix or delete it");
    }
    env[key] = value.get<std::string>();
  }
  if (auto ok = validateEnv(env); !ok) {
    return makeError(ErrorKind::kBadInput, file.string() + ": " + ok.error().message);
  }
  return env;
}

Result<AppEnv> AppEnvStore::changed(std::string_view app, const AppEnv& set,
                                     const std::vector<std::string>& unset) const {
  auto env = load(app);
  if (!env) return env;
  for (const auto& key : unset) {
    if (env->erase(key) == 0) {
      return makeError(ErrorKind::kNotFound, "app " + std::string(app) + " has no variable " + quote(key) +
                                                 " (list them with `gust env ls " + std::string(app) + "`)");
    }
  }
  for (const auto& [key, value] : set) (*env)[key] = value;
  if (auto ok = validateEnv(*env); !ok) return ok.error();
  return env;
}

Result<void> AppEnvStore::store(std::string_view app, const AppEnv& env) {
  std::filesystem::path file = fileOf(app);
  if (env.empty()) {
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) return ioError("delete", file, errno);
    return {};
  }
  // Only the host's user may read the secrets: the folder and every file are its alone.
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) return ioError("create", dir_, errno);
  if (::chmod(dir_.c_str(), 0700) != 0) return ioError("restrict", dir_, errno);
  nlohmann::json doc = nlohmann::json::object();
  for (const auto& [key, value] : env) doc[key] = value;
  return replaceFileSynced(file, doc.dump(2) + "\n", 0600);
}

}  // namespace gust
