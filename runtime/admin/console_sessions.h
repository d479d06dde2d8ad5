#pragma once
// The browser console's credentials (docs/console.md): one-time login codes and the
// sessions they open. A code is made by an admin call (`gust console`), lives
// kCodeLifetime and opens one session. A session has two halves, both random: its id
// travels only in an HttpOnly cookie, and its token, handed to the page once at login and
// kept in the page's own storage, goes in a header on every API call. The cookie alone
// opens the page but reads no data: browsers send a cookie to every port of its host, so a
// function served on the same machine may see it, but never the token (and a cross-site
// request never carries the header: the token is the CSRF token as well). Everything is
// kept in memory: a restart logs every browser out, which is the safe side.
//
// Ids are compared by their SHA-256 digest, so the lookup's timing tells nothing about how
// much of a guessed id was right. Owning thread: the loop thread. Time from the injected Clock.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "runtime/base/clock.h"
#include "runtime/base/ids.h"

namespace gust {

struct ConsoleSession {
  std::string id;    // the cookie's value
  std::string token;  // sent back by the page in X-Gust-Console-Token
  std::chrono::steady_clock::time_point expires;  // idle deadline, moved on by each use
  std::chrono::steady_clock::time_point ends;     // hard deadline from its login
};

class ConsoleSessions {
 public:
  static constexpr std::chrono::seconds kCodeLifetime{60};
  static constexpr std::chrono::minutes kIdleLifetime{60};
  static constexpr std::chrono::hours kMaxLifetime{12};
  // Bounds against a caller that makes codes or logs in in a loop: past them, the entry
  // closest to its end goes first.
  static constexpr size_t kMaxCodes = 64;
  static constexpr size_t kMaxSessions = 64;

  explicit ConsoleSessions(const Clock& clock) : clock_(clock) {}

  // A new one-time login code.
  std::string issueCode();
  // Uses up `code` and opens a session; nothing when the code is unknown, used or expired.
  std::optional<ConsoleSession> redeem(std::string_view code);
  // Opens a session for a caller that showed the admin token.
  ConsoleSession open();
  // The live session named `id` (and keeps it alive), or null. The pointer lasts until the
  // next call.
  const ConsoleSession* find(std::string_view id);
  void close(std::string_view id);

 private:
  void sweep();

  const Clock& clock_;
  IdGenerator ids_;
  // Keyed by the digest of the code or id.
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> codes_;
  std::unordered_map<std::string, ConsoleSession> sessions_;
};

// The value of cookie `name` in a Cookie header field, or empty.
std::string_view cookieValue(std::string_view cookie_header, std::string_view name);

// The name of the session cookie for a request addressed to `host` (its Host field):
// "gust_console_PORT". Cookies are kept per host name, not per port, so two hosts' consoles
// on one machine would otherwise take each other's cookie.
std::string sessionCookieName(std::string_view host);

// The header that carries a session's token.
inline constexpr std::string_view kConsoleTokenHeader = "x-gust-console-token";

}  // namespace gust
