// Gust SDK: the C++ layer over the C ABI in <gust/abi.h>. Header-only.
//
// A function is a plain C++ function plus one export macro:
//
//   #include <gust/gust.hpp>
//
//   gust::Response hello(const gust::Request& req, gust::Context& ctx) {
//     ctx.log("greeting {}", req.param("name"));
//     return gust::Response::text("hello " + std::string(req.param("name")) + "\n");
//   }
//   GUST_FUNCTION(hello)
//
// The exported name must match a function of the app's gust.json. Anything the function
// throws becomes a 500 response carrying the exception's message; nothing crosses the ABI.
#pragma once

#include <gust/abi.h>

#include <chrono>
#include <new>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if __has_include(<nlohmann/json.hpp>)
#include <nlohmann/json.hpp>
#define GUST_HAS_JSON 1
#endif

namespace gust {

namespace detail {
inline std::string_view view(gust_str s) { return {s.data, s.size}; }
inline gust_str str(std::string_view s) { return gust_str{s.data(), s.size()}; }
inline bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}
inline int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
// Decodes application/x-www-form-urlencoded text ('+' is a space; bad escapes kept as is).
inline std::string formDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 &&
               hexValue(s[i + 2]) >= 0) {
      out += static_cast<char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}
}  // namespace detail

enum class Trigger { kHttp = GUST_TRIGGER_HTTP, kTimer = GUST_TRIGGER_TIMER, kQueue = GUST_TRIGGER_QUEUE };

// The event a function runs for. Borrowed views: valid only during the call; copy what
// you keep.
class Request {
 public:
  explicit Request(const gust_request& raw) : raw_(raw) {}

  Trigger trigger() const { return static_cast<Trigger>(raw_.trigger); }
  std::string_view method() const { return detail::view(raw_.method); }
  std::string_view path() const { return detail::view(raw_.path); }
  // The raw query string, without '?'.
  std::string_view queryString() const { return detail::view(raw_.query); }
  std::string_view body() const { return detail::view(raw_.body); }

  // A path parameter of the route ("/hello/{name}"), or "" when absent.
  std::string_view param(std::string_view name) const {
    for (size_t i = 0; i < raw_.param_count; ++i) {
      if (detail::view(raw_.params[i].name) == name) return detail::view(raw_.params[i].value);
    }
    return {};
  }

  // The first header with this name (case-insensitive), or "" when absent.
  std::string_view header(std::string_view name) const {
    for (size_t i = 0; i < raw_.header_count; ++i) {
      if (detail::equalsIgnoreCase(detail::view(raw_.headers[i].name), name)) {
        return detail::view(raw_.headers[i].value);
      }
    }
    return {};
  }

  std::vector<std::pair<std::string_view, std::string_view>> headers() const {
    std::vector<std::pair<std::string_view, std::string_view>> out;
    out.reserve(raw_.header_count);
    for (size_t i = 0; i < raw_.header_count; ++i) {
      out.emplace_back(detail::view(raw_.headers[i].name), detail::view(raw_.headers[i].value));
    }
    return out;
  }

  // The first query parameter with this name, decoded; `fallback` when absent.
  std::string query(std::string_view name, std::string_view fallback = {}) const {
    std::string_view q = queryString();
    while (!q.empty()) {
      size_t amp = q.find('&');
      std::string_view pair = q.substr(0, amp);
      q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
      size_t eq = pair.find('=');
      std::string key = detail::formDecode(pair.substr(0, eq));
      if (key == name) {
        return eq == std::string_view::npos ? std::string{} : detail::formDecode(pair.substr(eq + 1));
      }
    }
    return std::string(fallback);
  }

#ifdef GUST_HAS_JSON
  // The body parsed as JSON; a discarded value (is_discarded()) when it is not valid JSON.
  nlohmann::json json() const { return nlohmann::json::parse(body(), nullptr, false); }
#endif

  const gust_request& raw() const { return raw_; }

 private:
  const gust_request& raw_;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  Response& header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  static Response text(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "text/plain; charset=utf-8");
    r.body = std::move(body);
    return r;
  }

#ifdef GUST_HAS_JSON
  static Response json(const nlohmann::json& value, int status = 200) {
    Response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = value.dump();
    return r;
  }
#endif

  static Response empty(int status = 204) {
    Response r;
    r.status = status;
    return r;
  }
};

// What the host tells a running function, and the way back to it.
class Context {
 public:
  explicit Context(const gust_context& raw) : raw_(raw) {}

  std::string_view invocationId() const { return detail::view(raw_.invocation_id); }
  std::string_view app() const { return detail::view(raw_.app); }
  std::string_view function() const { return detail::view(raw_.function); }
  // Time left before the host gives up on this invocation (504) and kills its worker.
  std::chrono::milliseconds remaining() const {
    return std::chrono::milliseconds(raw_.api->remaining_ms(raw_.host));
  }

  void log(std::string_view message) const { write(GUST_LOG_INFO, message); }
  void warn(std::string_view message) const { write(GUST_LOG_WARN, message); }
  void error(std::string_view message) const { write(GUST_LOG_ERROR, message); }
  void debug(std::string_view message) const { write(GUST_LOG_DEBUG, message); }

  const gust_context& raw() const { return raw_; }

 private:
  void write(int32_t level, std::string_view message) const {
    raw_.api->log(raw_.host, level, detail::str(message));
  }
  const gust_context& raw_;
};

namespace detail {

template <typename Fn>
void trampoline(Fn&& fn, const gust_request* raw_request, const gust_context* raw_context) noexcept {
  const gust_host_api* api = raw_context->api;
  try {
    Request request(*raw_request);
    Context context(*raw_context);
    Response response = fn(request, context);
    std::vector<gust_pair> headers;
    headers.reserve(response.headers.size());
    for (const auto& [name, value] : response.headers) headers.push_back({str(name), str(value)});
    api->respond(raw_context->host, response.status, headers.data(), headers.size(), str(response.body));
  } catch (const std::bad_alloc&) {
    api->fail(raw_context->host, str("out of memory: the function allocated past its memory limit (memory_mb)"));
  } catch (const std::exception& e) {
    api->fail(raw_context->host, str(e.what()));
  } catch (...) {
    api->fail(raw_context->host, str("function threw a non-standard exception"));
  }
}

}  // namespace detail
}  // namespace gust

// Every module reports the ABI it was built against. Weak, so that every translation unit
// of a module may include this header.
extern "C" GUST_EXPORT __attribute__((weak)) uint32_t gust_abi_version(void) { return GUST_ABI_VERSION; }

// Exports FN (gust::Response FN(const gust::Request&, gust::Context&)) as a function
// named FN in the app's gust.json.
#define GUST_FUNCTION(fn)                                                                    \
  extern "C" GUST_EXPORT void gust_fn_##fn(const gust_request* request,                     \
                                           const gust_context* context) {                   \
    ::gust::detail::trampoline(fn, request, context);                                        \
  }
