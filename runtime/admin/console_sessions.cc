#include "runtime/admin/console_sessions.h"

#include <algorithm>

#include "runtime/base/digest.h"

namespace gust {
namespace {

// Removes the entry of `map` whose deadline (read by `end_of`) comes first.
template <typename Map, typename EndOf>
void dropEarliest(Map& map, EndOf end_of) {
  auto first = std::min_element(map.begin(), map.end(),
                                [&end_of](const auto& a, const auto& b) { return end_of(a.second) < end_of(b.second); });
  if (first != map.end()) map.erase(first);
}

}  // namespace

void ConsoleSessions::sweep() {
  auto now = clock_.now();
  std::erase_if(codes_, [now](const auto& entry) { return entry.second <= now; });
  std::erase_if(sessions_, [now](const auto& entry) { return entry.second.expires <= now || entry.second.ends <= now; });
}

std::string ConsoleSessions::issueCode() {
  sweep();
  if (codes_.size() >= kMaxCodes) dropEarliest(codes_, [](const auto& expires) { return expires; });
  std::string code = ids_.next();
  codes_.emplace(sha256(code), clock_.now() + kCodeLifetime);
  return code;
}

std::optional<ConsoleSession> ConsoleSessions::redeem(std::string_view code) {
  sweep();
  auto it = codes_.find(sha256(code));
  if (it == codes_.end()) return std::nullopt;
  codes_.erase(it);
  return open();
}

ConsoleSession ConsoleSessions::open() {
  sweep();
  if (sessions_.size() >= kMaxSessions) dropEarliest(sessions_, [](const ConsoleSession& s) { return s.expires; });
  auto now = clock_.now();
  // Two ids each: 256 bits, as much as the admin token itself.
  ConsoleSession session{ids_.next() + ids_.next(), ids_.next() + ids_.next(), now + kIdleLifetime, now + kMaxLifetime};
  sessions_.emplace(sha256(session.id), session);
  return session;
}

const ConsoleSession* ConsoleSessions::find(std::string_view id) {
  if (id.empty()) return nullptr;
  sweep();
  auto it = sessions_.find(sha256(id));
  if (it == sessions_.end()) return nullptr;
  it->second.expires = std::min(it->second.ends, clock_.now() + kIdleLifetime);
  return &it->second;
}

void ConsoleSessions::close(std::string_view id) { sessions_.erase(sha256(id)); }

std::string_view cookieValue(std::string_view cookie_header, std::string_view name) {
  // "a=1; b=2" (RFC 6265 section 4.2.1); the first pair of that name wins.
  while (!cookie_header.empty()) {
    size_t end = cookie_header.find(';');
    std::string_view pair = cookie_header.substr(0, end);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (end == std::string_view::npos) break;
    cookie_header.remove_prefix(end + 1);
  }
  return {};
}

std::string sessionCookieName(std::string_view host) {
  size_t colon = host.rfind(':');
  std::string_view port = colon == std::string_view::npos ? std::string_view() : host.substr(colon + 1);
  bool digits = !port.empty() && port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits ? "gust_console_" + std::string(port) : "gust_console";
}

}  // namespace gust
