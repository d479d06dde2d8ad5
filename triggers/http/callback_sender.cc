#include "triggers/http/callback_sender.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace gust {
namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool startsWithIgnoreCase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (lower(s[i]) != prefix[i]) return false;
  }
  return true;
}

bool validPort(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return value >= 1 && value <= 65535;
}

#ifdef CPPHTTPLIB_OPENSSL_SUPPORT
constexpr bool kHttps = true;
#else
constexpr bool kHttps = false;
#endif

// "scheme://authority" and "/path?query" of a URL checkCallbackUrl accepted.
std::pair<std::string, std::string> splitUrl(const std::string& url) {
  size_t after_scheme = url.find("://") + 3;
  size_t slash = url.find_first_of("/?", after_scheme);
  if (slash == std::string::npos) return {url, "/"};
  std::string path = url.substr(slash);
  if (path.front() == '?') path.insert(0, "/");
  return {url.substr(0, slash), path};
}

}  // namespace

Result<void> checkCallbackUrl(std::string_view url, size_t max_bytes) {
  auto bad = [](const std::string& why) {
    return makeError(ErrorKind::kBadInput, "X-Callback-Url " + why);
  };
  if (url.size() > max_bytes) return bad("is longer than " + std::to_string(max_bytes) + " bytes");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return bad("holds a space, control or non-ASCII character; percent-encode it");
    }
  }
  size_t scheme_end = 0;
  if (startsWithIgnoreCase(url, "http://")) {
    scheme_end = 7;
  } else if (startsWithIgnoreCase(url, "https://")) {
    if (!kHttps) return bad("is https, but this host was built without TLS support; use an http URL");
    scheme_end = 8;
  } else {
    return bad("must be an absolute http:// or https:// URL");
  }
  std::string_view rest = url.substr(scheme_end);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (url.find('#') != std::string_view::npos) return bad("must not hold a fragment (#...)");
  if (authority.find('@') != std::string_view::npos) {
    return bad("must not hold user info (user:password@); put credentials in the path or query");
  }
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 address ([...)");
    std::string h;
    for (char c : host.substr(1, close - 1)) h += lower(c);
    if (h.rfind("fe8", 0) == 0 || h.rfind("fe9", 0) == 0 || h.rfind("fea", 0) == 0 || h.rfind("feb", 0) == 0) {
      return bad("points at a link-local address (fe80::/10), which the host refuses to call");
    }
    host = host.substr(0, close + 1);
    std::string_view port = authority.substr(close + 1);
    if (!port.empty() && (port.front() != ':' || !validPort(port.substr(1)))) {
      return bad("has a malformed port (want 1 to 65535)");
    }
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      std::string_view port = host.substr(colon + 1);
      if (!validPort(port)) return bad("has a malformed port (want 1 to 65535)");
      host = host.substr(0, colon);
    }
    if (host.rfind("169.254.", 0) == 0) {
      return bad("points at a link-local address (169.254.0.0/16), which the host refuses to call");
    }
  }
  if (host.empty()) return bad("has no host");
  return {};
}

CallbackSender::CallbackSender(const Clock& clock, CallbackSenderOptions options) : clock_(clock), options_(options) {
  thread_ = std::thread([this] { deliveryMain(); });
}

CallbackSender::~CallbackSender() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
  if (!pending_.empty()) {
    spdlog::warn("dropping {} undelivered callback(s) at shutdown; their results stay readable at "
                 "GET /v1/invocations/{{id}}",
                 pending_.size());
  }
}

Result<void> CallbackSender::send(std::string url, std::string json_body) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return makeError(ErrorKind::kUnavailable, "the callback sender is stopping");
    if (pending_.size() >= options_.max_queued) {
      return makeError(ErrorKind::kOverloaded,
                       "callback queue full (" + std::to_string(options_.max_queued) + " deliveries waiting)");
    }
    pending_.push_back(Delivery{std::move(url), std::move(json_body), 1, clock_.now()});
  }
  wake_.notify_all();
  return {};
}

uint64_t CallbackSender::delivered() const {
  std::lock_guard lock(mutex_);
  return delivered_;
}

uint64_t CallbackSender::abandoned() const {
  std::lock_guard lock(mutex_);
  return abandoned_;
}

size_t CallbackSender::queued() const {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void CallbackSender::tick() {
  // Under the lock, so that the thread is either waiting (and woken) or has not read the
  // clock yet.
  { std::lock_guard lock(mutex_); }
  wake_.notify_all();
}

CallbackSender::Attempt CallbackSender::post(const Delivery& delivery, std::string& why) const {
  auto [base, path] = splitUrl(delivery.url);
  httplib::Client client(base);
  client.set_connection_timeout(options_.connect_timeout);
  client.set_read_timeout(options_.read_timeout);
  client.set_write_timeout(options_.read_timeout);
  client.set_follow_location(false);  // a redirect must not steer the host elsewhere
  httplib::Headers headers = {{"User-Agent", std::string("gust/") + GUST_VERSION}};
  auto res = client.Post(path, headers, delivery.body, "application/json");
  if (!res) {
    why = httplib::to_string(res.error());
    return Attempt::kRetry;
  }
  if (res->status >= 200 && res->status < 300) return Attempt::kDelivered;
  why = "the receiver answered " + std::to_string(res->status);
  if (res->status == 408 || res->status == 429 || res->status >= 500) return Attempt::kRetry;
  return Attempt::kRefused;
}

void CallbackSender::deliveryMain() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    if (pending_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto next = std::min_element(pending_.begin(), pending_.end(),
                                 [](const Delivery& a, const Delivery& b) { return a.due < b.due; });
    auto now = clock_.now();
    if (next->due > now) {
      wake_.wait_for(lock, next->due - now);
      continue;
    }
    Delivery delivery = std::move(*next);
    pending_.erase(next);
    lock.unlock();
    std::string why;
    Attempt attempt = post(delivery, why);
    lock.lock();
    if (attempt == Attempt::kDelivered) {
      ++delivered_;
    } else if (attempt == Attempt::kRefused || delivery.attempt >= options_.max_attempts) {
      ++abandoned_;
      spdlog::warn("callback to {} abandoned after {} attempt(s): {}", delivery.url, delivery.attempt, why);
    } else {
      auto backoff = options_.first_backoff * (1 << std::min(delivery.attempt - 1, 16));
      spdlog::info("callback to {} failed ({}); retrying in {} ms", delivery.url, why, backoff.count());
      ++delivery.attempt;
      delivery.due = clock_.now() + backoff;
      pending_.push_back(std::move(delivery));
    }
  }
}

}  // namespace gust
