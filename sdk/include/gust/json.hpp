// Gust SDK: gust.hpp with its JSON helpers, req.json(), msg.json() and Response::json(),
// which take and return nlohmann::json:
//
//   #include <gust/json.hpp>
//
//   gust::Response echo(const gust::Request& req, gust::Context&) {
//     nlohmann::json body = req.json();
//     if (body.is_discarded()) return gust::Response::json({{"error", "not JSON"}}, 400);
//     return gust::Response::json({{"echo", body}});
//   }
//   GUST_FUNCTION(echo)
//
// A separate header because compiling nlohmann/json is most of the build time of a small
// app: a source that does not use JSON includes <gust/gust.hpp> alone and builds in a
// third of the time.
#pragma once

#include <gust/gust.hpp>

#include <nlohmann/json.hpp>

#define GUST_HAS_JSON 1
