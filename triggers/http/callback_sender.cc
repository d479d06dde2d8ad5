#include "triggers/http/callback_sender.h"

#include <httplib.h>
#include <netdb.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

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

// The parts of a callback URL.
struct UrlParts {
  bool https = false;
  std::string host;  // lowercased; an IPv6 address without its brackets
  bool bracketed = false;
  std::string port;  // empty: the scheme's
  std::string target;  // "/path?query"

  std::string endpoint() const {
    std::string h = bracketed ? "[" + host + "]" : host;
    return std::string(https ? "https://" : "http://") + h + ":" + (port.empty() ? (https ? "443" : "80") : port);
  }
};

// kBadInput (without the "X-Callback-Url" prefix) naming what is wrong, or the parts.
Result<UrlParts> parseUrl(std::string_view url, size_t max_bytes) {
  auto bad = [](const std::string& why) { return makeError(ErrorKind::kBadInput, why); };
  if (url.size() > max_bytes) return bad("is longer than " + std::to_string(max_bytes) + " bytes");
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      return bad("holds a space, control or non-ASCII character; percent-encode it");
    }
  }
  UrlParts parts;
  size_t scheme_end = 0;
  if (startsWithIgnoreCase(url, "http://")) {
    scheme_end = 7;
  } else if (startsWithIgnoreCase(url, "https://")) {
    if (!kHttps) return bad("is https, but this host was built without TLS support; use an http URL");
    scheme_end = 8;
    parts.https = true;
  } else {
    return bad("must be an absolute http:// or https:// URL");
  }
  std::string_view rest = url.substr(scheme_end);
  size_t authority_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, authority_end);
  if (url.find('#') != std::string_view::npos) return bad("must not hold a fragment (#...)");
  if (authority.find('@') != std::string_view::npos) {
    return bad("must not hold user info (user:password@); put credentials in the path or query");
  }
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return bad("has an unterminated IPv6 address ([...)");
    port = authority.substr(close + 1);
    host = host.substr(1, close - 1);
    parts.bracketed = true;
    if (!port.empty() && port.front() != ':') return bad("has a malformed port (want 1 to 65535)");
  } else {
    size_t colon = host.find(':');
    port = colon == std::string_view::npos ? std::string_view() : host.substr(colon);
    host = host.substr(0, colon);
  }
  if (!port.empty() && !validPort(port.substr(1))) return bad("has a malformed port (want 1 to 65535)");
  if (host.empty()) return bad("has no host");
  for (char c : host) parts.host += lower(c);
  if (parts.bracketed && !parseIpLiteral(parts.host)) {
    return bad("has [" + parts.host + "], which is not an IPv6 address");
  }
  if (!port.empty()) parts.port = std::string(port.substr(1));
  std::string target = authority_end == std::string_view::npos ? "/" : std::string(rest.substr(authority_end));
  if (target.front() == '?') target.insert(0, "/");
  parts.target = std::move(target);
  return parts;
}

std::string refusal(const std::string& host, const IpAddress& address, const std::string& rule) {
  std::string where = host == address.text() ? "is" : "resolves to " + address.text() + ",";
  const char* article = std::string_view("aeiou").find(rule.front()) == std::string_view::npos ? " a " : " an ";
  return host + " " + where + article + rule + " address, which the host does not call back unless " +
         "--callback-allow lists it";
}

}  // namespace

Result<void> checkCallbackUrl(std::string_view url, size_t max_bytes, const std::vector<IpRange>& allowed,
                              std::string_view what) {
  auto parts = parseUrl(url, max_bytes);
  if (!parts) return makeError(ErrorKind::kBadInput, std::string(what) + " " + parts.error().message);
  if (auto literal = parseIpLiteral(parts->host)) {
    if (auto rule = refusedCallbackAddress(*literal, allowed)) {
      return makeError(ErrorKind::kBadInput, std::string(what) + " host " + refusal(parts->host, *literal, *rule));
    }
  }
  return {};
}

std::string callbackEndpoint(std::string_view url) {
  auto parts = parseUrl(url, url.size());
  return parts ? parts->endpoint() : std::string("(a malformed URL)");
}

CallbackSender::CallbackSender(const Clock& clock, CallbackSenderOptions options) : clock_(clock), options_(options) {
  for (size_t i = 0; i < std::max<size_t>(1, options_.threads); ++i) {
    threads_.emplace_back([this] { deliveryMain(); });
  }
  watchdog_ = std::thread([this] { watchdogMain(); });
}

CallbackSender::~CallbackSender() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  watchdog_wake_.notify_all();  // shuts down the connections in progress
  for (auto& t : threads_) t.join();
  {
    std::lock_guard lock(mutex_);
    workers_joined_ = true;
  }
  watchdog_wake_.notify_all();
  watchdog_.join();
  size_t once = std::count_if(pending_.begin(), pending_.end(), [](const Delivery& d) { return bool(d.once); });
  if (pending_.size() > once) {
    spdlog::warn("dropping {} undelivered callback(s) at shutdown; their results stay readable at "
                 "GET /v1/invocations/{{id}}",
                 pending_.size() - once);
  }
  if (once > 0) spdlog::info("dropping {} webhook attempt(s) at shutdown; their events are retried", once);
}

Result<void> CallbackSender::send(std::string id, std::string url, std::string json_body) {
  std::string endpoint = callbackEndpoint(url);
  return enqueue(Delivery{std::move(id), std::move(url), std::move(endpoint), std::move(json_body), 1, clock_.now()});
}

Result<void> CallbackSender::enqueue(Delivery delivery) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return makeError(ErrorKind::kUnavailable, "the callback sender is stopping");
    if (pending_.size() >= options_.max_queued) {
      return makeError(ErrorKind::kOverloaded,
                       "callback queue full (" + std::to_string(options_.max_queued) + " deliveries waiting)");
    }
    pending_.push_back(std::move(delivery));
  }
  wake_.notify_one();
  return {};
}

Result<void> CallbackSender::postOnce(std::string label, std::string url,
                                      std::vector<std::pair<std::string, std::string>> headers, std::string body,
                                      std::function<void(const std::string& why)> done) {
  std::string endpoint = callbackEndpoint(url);
  return enqueue(Delivery{std::move(label), std::move(url), std::move(endpoint), std::move(body), 1, clock_.now(),
                          std::move(headers), std::move(done)});
}

void CallbackSender::onAbandoned(std::function<void(const std::string& id, const std::string& why)> report) {
  std::lock_guard lock(mutex_);
  on_abandoned_ = std::move(report);
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
  // Under the lock, so that each thread is either waiting (and woken) or has not read the
  // clock yet.
  { std::lock_guard lock(mutex_); }
  wake_.notify_all();
}

CallbackSender::Attempt CallbackSender::post(const Delivery& delivery, std::string& why) {
  auto parts = parseUrl(delivery.url, delivery.url.size());
  if (!parts) {
    why = "the URL " + parts.error().message;
    return Attempt::kRefused;
  }
  // Resolve once, check every address, and connect to the one checked: a second lookup by
  // the client could answer otherwise (DNS rebinding).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(parts->host.c_str(), nullptr, &hints, &found); rc != 0) {
    why = "cannot resolve " + parts->host + ": " + gai_strerror(rc);
    return Attempt::kRetry;
  }
  std::optional<IpAddress> chosen;
  std::string refused;
  for (addrinfo* ai = found; ai != nullptr && refused.empty(); ai = ai->ai_next) {
    auto address = IpAddress::of(ai->ai_addr);
    if (!address) continue;
    if (auto rule = refusedCallbackAddress(*address, options_.allowed)) refused = refusal(parts->host, *address, *rule);
    if (!chosen) chosen = address;
  }
  freeaddrinfo(found);
  if (!refused.empty()) {
    why = refused;
    return Attempt::kRefused;
  }
  if (!chosen) {
    why = "cannot resolve " + parts->host + ": no IPv4 or IPv6 address";
    return Attempt::kRetry;
  }

  auto client = std::make_shared<httplib::Client>(parts->endpoint());
  client->set_hostname_addr_map({{parts->host, chosen->text()}});
  client->set_connection_timeout(options_.connect_timeout);
  client->set_read_timeout(options_.read_timeout);
  client->set_write_timeout(options_.read_timeout);
  client->set_follow_location(false);  // a redirect must not steer the host elsewhere
  client->set_decompress(false);
  client->set_keep_alive(false);
  const auto deadline = std::chrono::steady_clock::now() + options_.attempt_deadline;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      why = "the host is stopping";
      return Attempt::kRetry;
    }
    in_flight_.push_back(InFlight{client, deadline});
  }
  watchdog_wake_.notify_one();

  httplib::Request req;
  req.method = "POST";
  req.path = parts->target;
  req.headers = {{"User-Agent", std::string("gust/") + GUST_VERSION}, {"Accept-Encoding", "identity"}};
  if (delivery.headers.empty()) req.headers.emplace("Content-Type", "application/json");
  for (const auto& [name, value] : delivery.headers) req.headers.emplace(name, value);
  req.body = delivery.body;
  int status = 0;  // as soon as the head is read: a cut answer has no Response
  size_t answer_bytes = 0;
  bool cut = false;
  req.response_handler = [&status](const httplib::Response& r) {
    status = r.status;
    return true;
  };
  req.content_receiver = [&](const char*, size_t n, uint64_t, uint64_t) {
    answer_bytes += n;
    if (answer_bytes > options_.max_answer_bytes) cut = true;
    return !cut && std::chrono::steady_clock::now() < deadline;
  };
  auto res = client->send(req);
  if (res) status = res->status;
  {
    std::lock_guard lock(mutex_);
    in_flight_.remove_if([&](const InFlight& f) { return f.client == client; });
  }
  if (cut) {
    spdlog::info("callback to {}: its answer passed {} bytes and was cut there", delivery.endpoint,
                 options_.max_answer_bytes);
  } else if (!res && std::chrono::steady_clock::now() >= deadline) {
    why = "no answer within the attempt deadline of " + std::to_string(options_.attempt_deadline.count()) + " ms";
    return Attempt::kRetry;
  } else if (!res && status == 0) {
    why = httplib::to_string(res.error());
    return Attempt::kRetry;
  }
  if (status >= 200 && status < 300) return Attempt::kDelivered;
  why = "the receiver answered " + std::to_string(status);
  if (status == 0 || status == 408 || status == 429 || status >= 500) return Attempt::kRetry;
  return Attempt::kRefused;
}

void CallbackSender::settle(Delivery delivery, Attempt attempt, const std::string& why) {
  if (attempt == Attempt::kDelivered) ++delivered_;
  if (delivery.once) {
    if (attempt != Attempt::kDelivered) ++abandoned_;
    delivery.once(attempt == Attempt::kDelivered ? std::string() : why);
    return;
  }
  if (attempt == Attempt::kDelivered) return;
  if (attempt == Attempt::kRefused || delivery.attempt >= options_.max_attempts) {
    ++abandoned_;
    std::string reason = "callback given up after " + std::to_string(delivery.attempt) + " attempt(s): " + why;
    spdlog::warn("invocation {}: {} ({})", delivery.id, reason, delivery.endpoint);
    if (on_abandoned_) on_abandoned_(delivery.id, reason);
    return;
  }
  auto backoff = options_.first_backoff * (1 << std::min(delivery.attempt - 1, 16));
  spdlog::info("invocation {}: callback to {} failed ({}); retrying in {} ms", delivery.id, delivery.endpoint, why,
               backoff.count());
  ++delivery.attempt;
  delivery.due = clock_.now() + backoff;
  pending_.push_back(std::move(delivery));
}

void CallbackSender::deliveryMain() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) return;
    // The earliest due among the deliveries whose endpoint has a free slot.
    auto next = pending_.end();
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      auto busy = busy_endpoints_.find(it->endpoint);
      if (busy != busy_endpoints_.end() && busy->second >= options_.per_endpoint) continue;
      if (next == pending_.end() || it->due < next->due) next = it;
    }
    if (next == pending_.end()) {
      wake_.wait(lock);
      continue;
    }
    auto now = clock_.now();
    if (next->due > now) {
      wake_.wait_for(lock, next->due - now);
      continue;
    }
    Delivery delivery = std::move(*next);
    pending_.erase(next);
    ++busy_endpoints_[delivery.endpoint];
    lock.unlock();
    std::string why;
    Attempt attempt = post(delivery, why);
    lock.lock();
    if (--busy_endpoints_[delivery.endpoint] == 0) busy_endpoints_.erase(delivery.endpoint);
    settle(std::move(delivery), attempt, why);
    wake_.notify_all();  // a slot of this endpoint is free, or a retry waits
  }
}

void CallbackSender::watchdogMain() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (workers_joined_) return;
    const auto now = std::chrono::steady_clock::now();
    std::vector<std::shared_ptr<httplib::Client>> overdue;
    auto next = now + std::chrono::hours(1);
    for (const auto& f : in_flight_) {
      if (stopping_ || f.deadline <= now) overdue.push_back(f.client);
      else next = std::min(next, f.deadline);
    }
    if (!overdue.empty()) {
      // Outside the lock: stop() waits for a connect in progress (bounded by its timeout).
      // Repeated until the attempt ends, in case it came before the request was sent.
      lock.unlock();
      for (auto& client : overdue) client->stop();
      lock.lock();
      next = std::min(next, std::chrono::steady_clock::now() + std::chrono::milliseconds(50));
    }
    watchdog_wake_.wait_until(lock, next);
  }
}

}  // namespace gust
