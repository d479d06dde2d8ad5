#include "runtime/store/backend_url.h"

#include <charconv>
#include <optional>

namespace gust {
namespace {

constexpr std::string_view kForm = "redis[s]://[[user]:password@]host[:port][/db]";

Error bad(std::string_view what) {
  return Error{ErrorKind::kBadInput, "the backend URL " + std::string(what) + "; write it as " + std::string(kForm)};
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes, as a password with '@', ':' or '/' must be written.
Result<std::string> percentDecoded(std::string_view text, std::string_view part) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return bad("has a cut-off %-escape in its " + std::string(part));
    int hi = hexValue(text[i + 1]);
    int lo = hexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return bad("has a %-escape that is not two hex digits in its " + std::string(part));
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::optional<int> number(std::string_view text, int max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0 || value > max) return std::nullopt;
  return value;
}

}  // namespace

std::string RedisEndpoint::where() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<RedisEndpoint> parseBackendUrl(std::string_view url) {
  constexpr std::string_view kScheme = "redis://";
  constexpr std::string_view kTlsScheme = "rediss://";
  RedisEndpoint endpoint;
  std::string_view rest;
  if (url.substr(0, kScheme.size()) == kScheme) {
    rest = url.substr(kScheme.size());
  } else if (url.substr(0, kTlsScheme.size()) == kTlsScheme) {
    rest = url.substr(kTlsScheme.size());
    endpoint.tls = true;
  } else {
    return bad("must start with redis:// (or rediss:// for TLS)");
  }
  // The userinfo ends at the last '@' before the path, so that an unescaped '@' in a
  // password is still read as the user meant.
  const size_t path_at = rest.find('/');
  const std::string_view authority = rest.substr(0, path_at);
  const std::string_view path = path_at == std::string_view::npos ? std::string_view() : rest.substr(path_at + 1);
  std::string_view hostport = authority;
  if (const size_t at = authority.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = authority.substr(0, at);
    hostport = authority.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return bad("has a user without a password (write :password@ for the default user)");
    }
    auto user = percentDecoded(userinfo.substr(0, colon), "user");
    if (!user) return user.error();
    auto password = percentDecoded(userinfo.substr(colon + 1), "password");
    if (!password) return password.error();
    if (password->empty()) return bad("has an empty password");
    endpoint.username = std::move(*user);
    endpoint.password = std::move(*password);
  }
  std::string_view port_text;
  if (!hostport.empty() && hostport.front() == '[') {
    const size_t close = hostport.find(']');
    if (close == std::string_view::npos) return bad("has an IPv6 address without its closing ]");
    endpoint.host = std::string(hostport.substr(1, close - 1));
    std::string_view after = hostport.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("has something after its IPv6 address that is not :port");
      port_text = after.substr(1);
      if (port_text.empty()) return bad("has an empty port");
    }
  } else {
    const size_t colon = hostport.find(':');
    endpoint.host = std::string(hostport.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = hostport.substr(colon + 1);
      if (port_text.empty()) return bad("has an empty port");
    }
  }
  if (endpoint.host.empty()) return bad("names no host");
  for (char c : endpoint.host) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '_' || c == ':';
    if (!ok) return bad("has a host with a character that is not a letter, digit, '.', '-', '_' or ':'");
  }
  if (!port_text.empty()) {
    auto port = number(port_text, 65535);
    if (!port || *port == 0) return bad("has a port that is not a number from 1 to 65535");
    endpoint.port = *port;
  }
  if (!path.empty()) {
    auto db = number(path, 1'000'000);
    if (!db) return bad("has a database that is not a number (/0, /1, ...)");
    endpoint.db = *db;
  }
  return endpoint;
}

}  // namespace gust
