#include "runtime/admin/admin_console.h"

#include "runtime/admin/console_assets.h"
#include "triggers/http/http_text.h"

namespace gust {
namespace {

using json = nlohmann::json;

const ConsoleAsset* assetNamed(std::string_view name) {
  for (const ConsoleAsset& asset : consoleAssets()) {
    if (asset.name == name) return &asset;
  }
  return nullptr;
}

// What every console answer carries: the page may run only its own script, load only its
// own files, be framed by nobody, and leak no URL in a Referer.
void addConsoleHeaders(HttpResponse& r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kConsoleCsp));
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  // same-origin, not no-referrer: under no-referrer a browser sends "Origin: null" on a
  // form's POST (the login form), which the listener's Origin check refuses (console_test
  // saw it). Either way no other origin learns a console URL.
  r.headers.emplace_back("Referrer-Policy", "same-origin");
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Cross-Origin-Opener-Policy", "same-origin");
  r.headers.emplace_back("Cache-Control", "no-store");
}

HttpResponse assetResponse(const ConsoleAsset& asset, int status = 200) {
  HttpResponse r;
  r.status = status;
  r.headers.emplace_back("Content-Type", std::string(asset.content_type));
  r.body = std::string(asset.body);
  addConsoleHeaders(r);
  return r;
}

// The login page; `message`, our own fixed text, in place of its <!--message--> mark.
HttpResponse loginPage(int status, std::string_view message) {
  const ConsoleAsset* page = assetNamed("login.html");
  HttpResponse r = assetResponse(*page, status);
  if (!message.empty()) {
    size_t mark = r.body.find("<!--message-->");
    if (mark != std::string::npos) {
      r.body.replace(mark, 14, "<p class=\"error\">" + std::string(message) + "</p>");
    }
  }
  return r;
}

// The session's cookie and its token (console_sessions.h). The cookie is HttpOnly, so no
// script can carry it away, and SameSite=Strict, so no other site's request carries it. Not
// Secure: the admin listener speaks plain HTTP, where a browser drops a Secure cookie
// (docs/console.md says why that is sound for a loopback listener). No Max-Age: it ends
// with the browser, and the host forgets it sooner. The token goes to the page in the body
// of this one answer (no-store), whose script keeps it and replaces the address, so the
// used code leaves the address bar and the history.
HttpResponse sessionOpened(const HttpRequest& request, const ConsoleSession& session) {
  const ConsoleAsset* page = assetNamed("opened.html");
  HttpResponse r = assetResponse(*page);
  size_t mark = r.body.find("{{token}}");
  if (mark != std::string::npos) r.body.replace(mark, 9, session.token);
  r.headers.emplace_back("Set-Cookie", sessionCookieName(request.header("host")) + "=" + session.id +
                                           "; HttpOnly; SameSite=Strict; Path=/");
  return r;
}

constexpr std::string_view kCodeRefused =
    "This login link was used already or has expired (a link opens one session, within 60 seconds). "
    "Run gust console again, or log in with the admin token.";
constexpr std::string_view kTokenRefused = "That is not the admin token.";

}  // namespace

void addConsoleRoutes(AdminApi& api) {
  api.route({"GET"}, "/", [](AdminCall&& call) { call.responder.send(assetResponse(*assetNamed("index.html"))); });

  api.route({"GET"}, "/console/{file}", [](AdminCall&& call) {
    const ConsoleAsset* asset = assetNamed(call.param("file"));
    if (!asset || asset->name.ends_with(".html")) {
      HttpResponse r = problemResponse(404, "Not Found", "the console has no file " + call.param("file"));
      addConsoleHeaders(r);
      call.responder.send(std::move(r));
      return;
    }
    call.responder.send(assetResponse(*asset));
  });

  api.route({"GET"}, "/login", [&api](AdminCall&& call) {
    auto code = http::queryParam(call.request.query, "code");
    if (!code) {
      call.responder.send(loginPage(200, {}));
      return;
    }
    auto session = api.consoleSessions().redeem(*code);
    if (!session) {
      api.loginFailed(call.request);
      call.responder.send(loginPage(401, kCodeRefused));
      return;
    }
    call.responder.send(sessionOpened(call.request, *session));
  });

  api.route({"POST"}, "/login", [&api](AdminCall&& call) {
    // The token comes in a form body, never a URL, which servers, proxies and browser
    // histories keep.
    auto token = http::queryParam(call.request.body, "token");
    if (!token || !api.tokenLogin(call.request, *token)) {
      call.responder.send(loginPage(401, kTokenRefused));
      return;
    }
    call.responder.send(sessionOpened(call.request, api.consoleSessions().open()));
  });

  api.route({"POST"}, "/logout", [&api](AdminCall&& call) {
    std::string cookie = sessionCookieName(call.request.header("host"));
    api.consoleSessions().close(cookieValue(call.request.header("cookie"), cookie));
    HttpResponse r;
    r.status = 303;
    r.headers.emplace_back("Location", "/login");
    r.headers.emplace_back("Set-Cookie", cookie + "=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    addConsoleHeaders(r);
    call.responder.send(std::move(r));
  });

  api.route({"POST"}, "/v1/console/links", [&api](AdminCall&& call) {
    std::string code = api.consoleSessions().issueCode();
    json body = {{"code", code},
                 {"path", "/login?code=" + code},
                 {"expires_in_s", ConsoleSessions::kCodeLifetime.count()},
                 {"admin_url", api.tcpUrl()}};
    call.responder.send(jsonResponse(body, 201));
  });
}

}  // namespace gust
