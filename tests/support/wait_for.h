#pragma once
// The one way a test waits for something another thread or process does: with a deadline,
// failing the test with what it was waiting for. A wait without one turns a regression
// into a hang that meson kills minutes later without saying what never happened.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

namespace gust::test {

// "20 s", "1.5 s": how long a deadline was, for failure messages.
inline std::string secondsText(std::chrono::milliseconds d) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(d.count()) / 1000.0);
  return text;
}

// The message of a wait that ran out of time, with what the caller knows about why
// (`context`, such as a process's last output) when there is something.
inline std::string timedOut(std::string_view what, std::chrono::milliseconds limit, const std::string& context = "") {
  std::string message = "timed out after " + secondsText(limit) + " waiting for " + std::string(what);
  if (!context.empty()) message += "\n" + context;
  return message;
}

// Polls `done` until it holds. Past `limit`, fails the test (and ends it) with "timed out
// after N s waiting for <what>", followed by `context()` when given. `done` runs on this
// thread, so it may use doctest's assertions; each call of it must itself be bounded.
inline void waitFor(std::string_view what, const std::function<bool()>& done, std::chrono::milliseconds limit,
                    const std::function<std::string()>& context = {}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) FAIL(timedOut(what, limit, context ? context() : ""));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace gust::test
