#pragma once
// A headless Chromium driven through chromedriver's W3C WebDriver HTTP API
// (https://www.w3.org/TR/webdriver2/), for the console's test: the commands it needs and
// nothing more. Each instance starts its own chromedriver on a free port and its own
// browser with a fresh profile in `work`; both end with the object.

#include <httplib.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "tests/integration/harness.h"
#include "tests/support/free_port.h"

namespace gust::test {

class Browser {
 public:
  explicit Browser(const fs::path& work)
      : port_(freeLoopbackPort()),
        driver_({driverPath(), "--port=" + std::to_string(port_)}, work / "chromedriver.stderr"),
        client_("127.0.0.1", port_) {
    driver_.waitForLine("started successfully");
    client_.set_read_timeout(std::chrono::seconds(60));
    nlohmann::json options = {{"binary", "/usr/bin/chromium"},
                              {"args",
                               {"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                "--window-size=1280,900", "--user-data-dir=" + (work / "profile").string()}}};
    nlohmann::json session = command("POST", "/session",
                                     {{"capabilities", {{"alwaysMatch", {{"browserName", "chrome"},
                                                                         {"goog:chromeOptions", options}}}}}});
    session_ = "/session/" + session["sessionId"].get<std::string>();
  }
  ~Browser() {
    if (!session_.empty()) client_.Delete(session_);
  }
  Browser(const Browser&) = delete;
  Browser& operator=(const Browser&) = delete;

  // chromedriver, or a failure that says how to install it (the test does not skip: the
  // full suite must run it).
  static std::string driverPath() {
    for (const char* path : {"/usr/bin/chromedriver", "/usr/bin/chromium"}) {
      if (!fs::exists(path)) {
        throw std::runtime_error(std::string(path) + " is missing: install chromium and chromium-driver "
                                 "(scripts/setup.sh test)");
      }
    }
    return "/usr/bin/chromedriver";
  }

  void go(const std::string& url) { command("POST", session_ + "/url", {{"url", url}}); }
  std::string url() { return command("GET", session_ + "/url"); }
  // Runs `body` as a function in the page and answers what it returns.
  nlohmann::json run(const std::string& body) {
    return command("POST", session_ + "/execute/sync", {{"script", body}, {"args", nlohmann::json::array()}});
  }
  // Clicks the first element matching the CSS `selector`.
  void click(const std::string& selector) {
    nlohmann::json found = command("POST", session_ + "/element", {{"using", "css selector"}, {"value", selector}});
    command("POST", session_ + "/element/" + found.begin().value().get<std::string>() + "/click",
            nlohmann::json::object());
  }
  // Accepts an open confirm() or alert(); false when none is open.
  bool acceptDialog() {
    auto r = client_.Post(session_ + "/alert/accept", "{}", "application/json");
    return r && r->status == 200;
  }
  // The page as PNG, written to `file`.
  void screenshot(const fs::path& file) {
    std::string base64 = command("GET", session_ + "/screenshot");
    fs::create_directories(file.parent_path());
    writeFile(file, decodeBase64(base64));
  }

 private:
  nlohmann::json command(const std::string& method, const std::string& path, const nlohmann::json& body = nullptr) {
    httplib::Result r = method == "GET" ? client_.Get(path) : client_.Post(path, body.dump(), "application/json");
    if (!r) throw std::runtime_error("chromedriver did not answer " + method + " " + path);
    auto answer = nlohmann::json::parse(r->body, nullptr, false);
    if (r->status != 200 || answer.is_discarded()) {
      throw std::runtime_error("WebDriver " + method + " " + path + ": " + std::to_string(r->status) + " " +
                               tail(r->body, 1000) + "\n" + driver_.lastOutput());
    }
    return answer["value"];
  }

  static std::string decodeBase64(const std::string& in) {
    std::string out;
    int bits = 0;
    unsigned value = 0;
    for (char c : in) {
      int digit = c >= 'A' && c <= 'Z'   ? c - 'A'
                  : c >= 'a' && c <= 'z' ? c - 'a' + 26
                  : c >= '0' && c <= '9' ? c - '0' + 52
                  : c == '+'             ? 62
                  : c == '/'             ? 63
                                         : -1;
      if (digit < 0) continue;
      value = (value << 6) | static_cast<unsigned>(digit);
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        out.push_back(static_cast<char>((value >> bits) & 0xff));
      }
    }
    return out;
  }

  int port_;
  Process driver_;
  httplib::Client client_;
  std::string session_;
};

}  // namespace gust::test
