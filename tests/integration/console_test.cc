// The browser console (docs/console.md) against a real host: its security answers with
// plain HTTP, then its pages in headless Chromium through WebDriver (tests/integration/
// webdriver.h). Screenshots of each page go to meson-logs/console-screenshots/ in the build.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "tests/integration/harness.h"
#include "tests/integration/webdriver.h"

using namespace gust::test;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

// A function that logs its body, a queue consumer that dead-letters "poison", a timer.
constexpr const char* kManifest = R"({"name": "web", "publishes": ["out"], "functions": {
  "shout": {"routes": [{"path": "/shout", "methods": ["POST"]}]},
  "batch": {"queue": {"name": "in", "max_attempts": 1}},
  "printevent": {"timer": {"schedule": "@yearly"}}}})";

// Markup a function might write: had it become markup, the image's handler or the script
// would change the title or set a global.
constexpr const char* kHostile =
    R"(<img src=x onerror="document.title='pwned';window.pwned=1"><script>window.pwned=2</script>)";

// The session's code from POST /v1/console/links.
std::string loginCode(httplib::Client& admin, const std::string& token) {
  auto r = admin.Post("/v1/console/links", {{"Authorization", "Bearer " + token}}, "", "application/json");
  REQUIRE(r);
  REQUIRE(r->status == 201);
  return json::parse(r->body)["code"];
}

std::string cookieOf(const httplib::Result& r) {
  std::string set = r->get_header_value("Set-Cookie");
  return set.substr(0, set.find(';'));
}

// The token the login answer hands its page (opened.html's meta field).
std::string pageToken(const std::string& body) {
  std::string mark = "name=\"gust-console-token\" content=\"";
  size_t at = body.find(mark);
  REQUIRE(at != std::string::npos);
  at += mark.size();
  return body.substr(at, body.find('"', at) - at);
}

fs::path screenshotDir() { return fs::path(env("GUST_BUILD_ROOT")) / "meson-logs" / "console-screenshots"; }

}  // namespace

TEST_CASE("the console lets in only a session, with its token for data, and answers with a strict CSP") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "web", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--admin-listen", "127.0.0.1:0"});
  httplib::Client admin = localClient(host.adminTcpPort());
  std::string origin = "http://127.0.0.1:" + std::to_string(host.adminTcpPort());

  // Without a session the page sends the browser to the login form, which carries the CSP.
  auto page = admin.Get("/");
  REQUIRE(page);
  CHECK(page->status == 303);
  CHECK(page->get_header_value("Location") == "/login");
  auto login = admin.Get("/login");
  REQUIRE(login);
  CHECK(login->status == 200);
  std::string csp = login->get_header_value("Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("default-src 'none'") != std::string::npos);
  CHECK(csp.find("frame-ancestors 'none'") != std::string::npos);
  CHECK(csp.find("unsafe") == std::string::npos);
  CHECK(login->get_header_value("X-Content-Type-Options") == "nosniff");
  CHECK(login->get_header_value("Referrer-Policy") == "same-origin");

  // A code opens one session, once.
  std::string code = loginCode(admin, host.adminToken());
  auto opened = admin.Get("/login?code=" + code);
  REQUIRE(opened);
  CHECK(opened->status == 200);
  std::string set_cookie = opened->get_header_value("Set-Cookie");
  CHECK(set_cookie.find("HttpOnly") != std::string::npos);
  CHECK(set_cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(set_cookie.find("Path=/") != std::string::npos);
  CHECK(opened->get_header_value("Cache-Control") == "no-store");
  std::string cookie = cookieOf(opened);
  std::string token = pageToken(opened->body);
  auto again = admin.Get("/login?code=" + code);
  REQUIRE(again);
  CHECK(again->status == 401);
  CHECK(again->get_header_value("Set-Cookie").empty());

  // The cookie opens the page, but reads nothing without the token: a copy of it (browsers
  // send it to every port of the host) is no key to the data.
  auto with_cookie = admin.Get("/", {{"Cookie", cookie}});
  REQUIRE(with_cookie);
  CHECK(with_cookie->status == 200);
  auto apps_no_token = admin.Get("/v1/apps", {{"Cookie", cookie}});
  REQUIRE(apps_no_token);
  CHECK(apps_no_token->status == 403);
  auto apps = admin.Get("/v1/apps", {{"Cookie", cookie}, {"X-Gust-Console-Token", token}});
  REQUIRE(apps);
  CHECK(apps->status == 200);
  CHECK(apps->get_header_value("Cache-Control") == "no-store");

  // A state-changing call without the token, or with another, is refused (CSRF), and so is
  // one that another site's page starts.
  auto purge_no_token = admin.Delete("/v1/queues/in/messages", {{"Cookie", cookie}});
  REQUIRE(purge_no_token);
  CHECK(purge_no_token->status == 403);
  auto purge_wrong = admin.Delete("/v1/queues/in/messages", {{"Cookie", cookie}, {"X-Gust-Console-Token", code}});
  REQUIRE(purge_wrong);
  CHECK(purge_wrong->status == 403);
  auto cross_site = admin.Delete("/v1/queues/in/messages",
                                 {{"Cookie", cookie}, {"X-Gust-Console-Token", token}, {"Origin", "http://evil.example"}});
  REQUIRE(cross_site);
  CHECK(cross_site->status == 403);
  auto purge = admin.Delete("/v1/queues/in/messages", {{"Cookie", cookie}, {"X-Gust-Console-Token", token}, {"Origin", origin}});
  REQUIRE(purge);
  CHECK(purge->status == 200);

  // The token form: a wrong token opens nothing, the right one a session.
  auto wrong = admin.Post("/login", "token=not-the-token", "application/x-www-form-urlencoded");
  REQUIRE(wrong);
  CHECK(wrong->status == 401);
  CHECK(wrong->body.find("not the admin token") != std::string::npos);
  auto by_form = admin.Post("/login", "token=" + host.adminToken(), "application/x-www-form-urlencoded");
  REQUIRE(by_form);
  CHECK(by_form->status == 200);
  CHECK(!cookieOf(by_form).empty());

  // Logging out ends the session.
  auto out = admin.Post("/logout", {{"Cookie", cookie}, {"X-Gust-Console-Token", token}}, "", "text/plain");
  REQUIRE(out);
  CHECK(out->status == 303);
  auto after = admin.Get("/v1/apps", {{"Cookie", cookie}, {"X-Gust-Console-Token", token}});
  REQUIRE(after);
  CHECK(after->status == 401);
}

TEST_CASE("in a real browser the console shows apps, invocations, logs and queues, and a hostile log line stays text") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "web", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  Host host({app}, tmp.path(), {"--admin-listen", "127.0.0.1:0"});
  httplib::Client admin = localClient(host.adminTcpPort());
  httplib::Client pub = localClient(host.port());
  std::string base = "http://127.0.0.1:" + std::to_string(host.adminTcpPort());
  Browser browser(tmp.path());
  auto page = [&browser](const std::string& what, const std::string& condition) {
    waitFor(what, [&] { return browser.run("return Boolean(" + condition + ");").get<bool>(); }, 20s,
            [&] { return "page: " + browser.run("return location.href + '\\n' + document.body.innerText;").dump(); });
  };

  // The token form opens a session; logging out ends it.
  browser.go(base + "/");
  page("the login form", "document.getElementById('token')");
  CHECK(browser.url() == base + "/login");
  browser.run("document.getElementById('token').value = '" + host.adminToken() + "'; document.querySelector('form').submit();");
  page("the apps page after the form", "document.querySelector('[data-app=\"web\"]')");
  browser.click("#logout button");
  page("the login form after logging out", "document.getElementById('token')");
  CHECK(browser.run("return localStorage.getItem('gust-console-token');").is_null());

  // The login link opens a session and leaves the address for the page.
  browser.go(base + "/login?code=" + loginCode(admin, host.adminToken()));
  page("the apps page", "document.querySelector('[data-app=\"web\"]')");
  CHECK(browser.url() == base + "/");
  CHECK(browser.run("return document.cookie;").get<std::string>().empty());  // HttpOnly
  browser.screenshot(screenshotDir() / "apps.png");

  // An invocation appears after a request; its record shows the hostile line as text.
  auto shouted = pub.Post("/shout", kHostile, "text/plain");
  REQUIRE(shouted);
  REQUIRE_MESSAGE(shouted->status == 200, shouted->body);
  browser.go(base + "/#/invocations?app=web&trigger=http");
  page("the invocation in the list", "document.querySelector('[data-invocation] a')");
  browser.screenshot(screenshotDir() / "invocations.png");
  browser.click("[data-invocation] a");
  page("the invocation's log line", "document.getElementById('log') && document.getElementById('log').textContent.includes('onerror')");
  CHECK(browser.run("return document.getElementById('log').textContent;").get<std::string>().find(kHostile) !=
        std::string::npos);
  CHECK(browser.run("return document.querySelector('[data-field=\"trace_id\"]').textContent.length;").get<int>() == 32);
  browser.screenshot(screenshotDir() / "invocation.png");

  // Live logs follow: a line written after the page opened arrives without a reload.
  browser.go(base + "/#/logs/web");
  page("the hostile line in the logs", "document.getElementById('log').textContent.includes('window.pwned=2')");
  auto later = pub.Post("/shout", "followed line", "text/plain");
  REQUIRE(later);
  page("the followed line", "document.getElementById('log').textContent.includes('followed line')");
  browser.screenshot(screenshotDir() / "logs.png");
  // Nothing the function wrote became markup, and no script of it ran.
  CHECK(browser.run("return document.querySelectorAll('#view img, #view script').length;").get<int>() == 0);
  CHECK(browser.run("return document.title;").get<std::string>() == "Gust console");
  CHECK(browser.run("return typeof window.pwned;").get<std::string>() == "undefined");

  // A dead letter, redriven from its queue's page.
  auto sent = admin.Post("/v1/queues/in/messages",
                         {{"Authorization", "Bearer " + host.adminToken()}, {"Gust-Header-X-K", kHostile}}, "poison",
                         "application/octet-stream");
  REQUIRE(sent);
  REQUIRE(sent->status == 201);
  browser.go(base + "/#/queues");
  page("the dead letter counted", "document.querySelector('[data-queue=\"in\"] a[href=\"#/queue/in.dead\"]')");
  browser.screenshot(screenshotDir() / "queues.png");
  browser.click("[data-queue=\"in\"] a[href=\"#/queue/in.dead\"]");
  page("the dead letter listed", "document.querySelector('[data-message]')");
  CHECK(browser.run("return document.querySelector('[data-message]').textContent;").get<std::string>().find(kHostile) !=
        std::string::npos);
  browser.screenshot(screenshotDir() / "dead-letters.png");
  browser.click("#redrive");
  waitFor("the redrive's confirm()", [&] { return browser.acceptDialog(); }, 10s);
  page("the redrive's answer", "document.getElementById('done') && document.getElementById('done').textContent.includes('\"moved\":1')");

  // Timers, the app's own page with its deploy history, and the charts.
  browser.go(base + "/#/timers");
  page("the timer's next fire time", "[...document.querySelectorAll('#view td')].some((td) => /^\\d{4}-01-01 00:00/.test(td.textContent))");
  browser.screenshot(screenshotDir() / "timers.png");
  // Deploy history: two versions of another app, the first brought back from its page.
  for (int i = 0; i < 2; ++i) {
    httplib::MultipartFormDataItems items = {
        {"manifest", R"({"name": "shop", "functions": {"echo": {"routes": ["/echo"]}}})", "gust.json", "application/json"},
        {"module", readFile(env("GUST_FIXTURE_MISBEHAVE")), "shop.so", "application/octet-stream"}};
    httplib::Client deployer = localClient(host.adminTcpPort(), 60s);
    deployer.set_bearer_token_auth(host.adminToken());
    auto deployed = deployer.Post("/v1/apps/shop/versions", items);
    REQUIRE(deployed);
    REQUIRE_MESSAGE(deployed->status == 201, deployed->body);
  }
  browser.go(base + "/#/app/shop");
  page("the deploy history", "document.querySelectorAll('[data-version]').length === 2");
  std::string first = browser.run("return document.querySelector('[data-version] .rollback').closest('tr').dataset.version;");
  browser.screenshot(screenshotDir() / "app.png");
  browser.click("[data-version] .rollback");
  waitFor("the rollback's confirm()", [&] { return browser.acceptDialog(); }, 10s);
  page("the first version active again",
       "document.querySelector('[data-version=\"" + first + "\"]')?.textContent.includes('active')");
  auto shop = admin.Get("/v1/apps/shop", {{"Authorization", "Bearer " + host.adminToken()}});
  REQUIRE(shop);
  CHECK(json::parse(shop->body)["version"] == first);
  browser.go(base + "/#/charts");
  // Requests keep coming until a sample sees them: the rate drawn is above zero.
  waitFor("a chart of invocations per second above zero", [&] {
    pub.Post("/shout", "charted", "text/plain");
    return browser.run("return parseFloat(document.querySelector('.chart .muted')?.textContent.slice(4)) > 0;").get<bool>();
  }, 20s);
  CHECK(browser.run("return document.querySelectorAll('.chart svg polyline').length;").get<int>() > 0);
  browser.screenshot(screenshotDir() / "charts.png");
  CHECK(browser.run("return typeof window.pwned;").get<std::string>() == "undefined");
}

TEST_CASE("gust console links to the TCP listener, or serves a host that has only its socket on 127.0.0.1") {
  TempDir tmp;
  fs::path app = makeApp(tmp.path(), "web", kManifest, env("GUST_FIXTURE_MISBEHAVE"));
  fs::create_directories(tmp.path() / "tcp");
  fs::create_directories(tmp.path() / "socket");
  Host with_tcp({app}, tmp.path() / "tcp", {"--admin-listen", "127.0.0.1:0"});
  Host socket_only({app}, tmp.path() / "socket");

  // With a TCP listener: the link, and done.
  Process linked({env("GUST_BIN"), "console", "--no-open", "--data-dir", (tmp.path() / "tcp" / "data").string()},
                 tmp.path() / "linked.stderr");
  std::string link = linked.waitForLine("/login?code=");
  CHECK(link.starts_with("http://127.0.0.1:" + std::to_string(with_tcp.adminTcpPort()) + "/login?code="));
  CHECK(linked.wait().status == 0);

  // A browser cannot reach a socket: the CLI serves the console itself.
  Process proxy({env("GUST_BIN"), "console", "--no-open", "--data-dir", (tmp.path() / "socket" / "data").string()},
                tmp.path() / "proxy.stderr");
  std::string url = proxy.waitForLine("/login?code=");
  proxy.waitForLine("until Ctrl-C");
  REQUIRE(url.starts_with("http://127.0.0.1:"));
  int port = std::stoi(url.substr(17));
  httplib::Client client = localClient(port);
  auto opened = client.Get(url.substr(url.find("/login")));
  REQUIRE(opened);
  CHECK(opened->status == 200);
  std::string cookie = cookieOf(opened);
  std::string token = pageToken(opened->body);
  auto apps = client.Get("/v1/apps", {{"Cookie", cookie}, {"X-Gust-Console-Token", token}});
  REQUIRE(apps);
  CHECK(apps->status == 200);
  CHECK(json::parse(apps->body)["apps"][0]["name"] == "web");
  // It adds no credential of its own, and answers only requests addressed to it.
  auto bare = client.Get("/v1/apps");
  REQUIRE(bare);
  CHECK(bare->status == 401);
  auto rebound = client.Get("/", {{"Host", "evil.example:" + std::to_string(port)}, {"Cookie", cookie}});
  REQUIRE(rebound);
  CHECK(rebound->status == 403);
}
