#pragma once
// The browser console (docs/console.md): its page and files at / and /console/..., the
// two ways in, and what its page asks besides the admin API it calls like any client.
//   GET  /                      the page (index.html); a caller without a session is sent to /login
//   GET  /console/{file}        its script and style
//   GET  /login[?code=C]        the login form; with a code from POST /v1/console/links, a session
//   POST /login                 the form: token=ADMIN_TOKEN, a session
//   POST /logout                ends the session
//   POST /v1/console/links      a one-time login code (for `gust console`)
// Who may ask is decided by AdminApi on each request's head; every answer here carries the
// console's security headers (a strict Content-Security-Policy: no inline script, no eval).

#include "runtime/admin/admin_api.h"

namespace gust {

// The Content-Security-Policy of every console answer.
inline constexpr std::string_view kConsoleCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

void addConsoleRoutes(AdminApi& api);

}  // namespace gust
