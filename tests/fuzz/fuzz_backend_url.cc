// libFuzzer target: any bytes as a --backend URL must give an endpoint or an error that says
// what is wrong, never a crash; what parses keeps its promises (a host, a port in range) and
// reads back as itself when written out again.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

#include "runtime/store/backend_url.h"

namespace {

std::string escaped(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    char hex[4];
    std::snprintf(hex, sizeof hex, "%%%02X", c);
    out += hex;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto endpoint = gust::parseBackendUrl(text);
  if (!endpoint) {
    if (endpoint.error().message.empty()) __builtin_trap();
    return 0;
  }
  if (endpoint->host.empty() || endpoint->port < 1 || endpoint->port > 65535 || endpoint->db < 0) __builtin_trap();
  std::string again = endpoint->tls ? "rediss://" : "redis://";
  if (!endpoint->password.empty()) again += escaped(endpoint->username) + ":" + escaped(endpoint->password) + "@";
  again += endpoint->where() + "/" + std::to_string(endpoint->db);
  auto reread = gust::parseBackendUrl(again);
  if (!reread || reread->host != endpoint->host || reread->port != endpoint->port ||
      reread->username != endpoint->username || reread->password != endpoint->password || reread->db != endpoint->db ||
      reread->tls != endpoint->tls) {
    __builtin_trap();
  }
  return 0;
}
