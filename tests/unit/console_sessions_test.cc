#include "runtime/admin/console_sessions.h"

#include <doctest/doctest.h>

#include <vector>

#include "tests/support/manual_clock.h"

using namespace gust;
using namespace std::chrono_literals;

TEST_CASE("a login code opens one session, once, within its lifetime") {
  test::ManualClock clock;
  ConsoleSessions sessions(clock);
  std::string code = sessions.issueCode();
  CHECK(code.size() == 32);
  auto session = sessions.redeem(code);
  REQUIRE(session);
  CHECK(session->id.size() == 64);
  CHECK(session->token.size() == 64);
  CHECK(session->id != session->token);
  CHECK_FALSE(sessions.redeem(code));
  CHECK(sessions.find(session->id) != nullptr);

  std::string late = sessions.issueCode();
  clock.advance(ConsoleSessions::kCodeLifetime);
  CHECK_FALSE(sessions.redeem(late));
  CHECK_FALSE(sessions.redeem(""));
}

TEST_CASE("a console session ends when idle, at its hard deadline, or on logout") {
  test::ManualClock clock;
  ConsoleSessions sessions(clock);
  ConsoleSession idle = sessions.open();
  clock.advance(ConsoleSessions::kIdleLifetime - 1ms);
  REQUIRE(sessions.find(idle.id) != nullptr);  // a use moves the idle deadline on
  clock.advance(ConsoleSessions::kIdleLifetime - 1ms);
  REQUIRE(sessions.find(idle.id) != nullptr);
  clock.advance(ConsoleSessions::kIdleLifetime);
  CHECK(sessions.find(idle.id) == nullptr);

  ConsoleSession busy = sessions.open();
  for (auto used = 0min; used < ConsoleSessions::kMaxLifetime - 30min; used += 30min) {
    clock.advance(30min);
    REQUIRE(sessions.find(busy.id) != nullptr);
  }
  clock.advance(30min);
  CHECK(sessions.find(busy.id) == nullptr);

  ConsoleSession ended = sessions.open();
  sessions.close(ended.id);
  CHECK(sessions.find(ended.id) == nullptr);
  CHECK(sessions.find("") == nullptr);
}

TEST_CASE("the session table stays bounded: past it the session closest to its end goes") {
  test::ManualClock clock;
  ConsoleSessions sessions(clock);
  ConsoleSession first = sessions.open();
  clock.advance(1s);
  std::vector<ConsoleSession> later;
  for (size_t i = 0; i < ConsoleSessions::kMaxSessions; ++i) later.push_back(sessions.open());
  CHECK(sessions.find(first.id) == nullptr);
  for (const auto& s : later) CHECK(sessions.find(s.id) != nullptr);
}

TEST_CASE("the session cookie is found by name among others, and named by the listener's port") {
  CHECK(cookieValue("a=1; gust_console_8081=abc; b=2", "gust_console_8081") == "abc");
  CHECK(cookieValue("gust_console_80811=x; gust_console_8081=y", "gust_console_8081") == "y");
  CHECK(cookieValue("a=1", "gust_console_8081").empty());
  CHECK(cookieValue("", "gust_console_8081").empty());
  CHECK(sessionCookieName("127.0.0.1:8081") == "gust_console_8081");
  CHECK(sessionCookieName("[::1]:9000") == "gust_console_9000");
  CHECK(sessionCookieName("localhost") == "gust_console");
  CHECK(sessionCookieName("x:8a") == "gust_console");
}
