#include <doctest/doctest.h>

#include <string>

#include "triggers/http/router.h"

namespace gust {
namespace {

Route route(std::vector<std::string> methods, std::string pattern, std::string function,
            std::string app = "app") {
  return Route{std::move(methods), std::move(pattern), RouteTarget{std::move(app), std::move(function)}};
}

std::string functionOf(const RouteMatch& m) {
  return m.kind == RouteMatch::kFound && m.target != nullptr ? m.target->function : std::string();
}

}  // namespace

TEST_CASE("a literal route matches its path and no other") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/hello", "hello")).ok());
  RouteMatch m = router.match("GET", "/hello");
  CHECK(m.kind == RouteMatch::kFound);
  CHECK(functionOf(m) == "hello");
  CHECK(m.target->app == "app");
  CHECK(m.params.empty());
  CHECK(router.match("GET", "/hell").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "/hello/x").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "/").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "hello").kind == RouteMatch::kNotFound);
}

TEST_CASE("the root route matches only the root path") {
  Router router;
  REQUIRE(router.add(route({}, "/", "root")).ok());
  CHECK(functionOf(router.match("GET", "/")) == "root");
  CHECK(router.match("GET", "/x").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "//").kind == RouteMatch::kNotFound);
}

TEST_CASE("parameters capture whole segments in pattern order") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/users/{id}/posts/{post_id}", "post")).ok());
  RouteMatch m = router.match("GET", "/users/42/posts/abc");
  REQUIRE(m.kind == RouteMatch::kFound);
  REQUIRE(m.params.size() == 2);
  CHECK(m.params[0] == std::pair<std::string, std::string>{"id", "42"});
  CHECK(m.params[1] == std::pair<std::string, std::string>{"post_id", "abc"});
  CHECK(router.match("GET", "/users/42/posts").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "/users//posts/abc").kind == RouteMatch::kNotFound);
}

TEST_CASE("path parameters are percent-decoded and invalid encodings match nothing") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/hello/{name}", "hello")).ok());
  RouteMatch m = router.match("GET", "/hello/J%C3%B6rg%20M%2fx");
  REQUIRE(m.kind == RouteMatch::kFound);
  CHECK(m.params[0].second == "J\xC3\xB6rg M/x");
  CHECK(router.match("GET", "/hello/bad%zz").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "/hello/bad%4").kind == RouteMatch::kNotFound);
  CHECK(router.match("GET", "/hello/nul%00").kind == RouteMatch::kNotFound);
  // Literal segments are compared decoded too.
  CHECK(router.match("GET", "/h%65llo/x").kind == RouteMatch::kFound);
}

TEST_CASE("literal segments win over parameters") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/users/{id}", "byId")).ok());
  REQUIRE(router.add(route({"GET"}, "/users/me", "me")).ok());
  CHECK(functionOf(router.match("GET", "/users/me")) == "me");
  CHECK(functionOf(router.match("GET", "/users/you")) == "byId");
}

TEST_CASE("a parameter branch is used when the literal branch ends without a match") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/files/{name}/raw", "raw")).ok());
  REQUIRE(router.add(route({"GET"}, "/files/special/meta", "meta")).ok());
  CHECK(functionOf(router.match("GET", "/files/special/raw")) == "raw");
  CHECK(functionOf(router.match("GET", "/files/special/meta")) == "meta");
}

TEST_CASE("a parameter route serves a method the literal route does not allow") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/users/me", "me")).ok());
  REQUIRE(router.add(route({"DELETE"}, "/users/{id}", "remove")).ok());
  CHECK(functionOf(router.match("DELETE", "/users/me")) == "remove");
  RouteMatch m = router.match("PUT", "/users/me");
  CHECK(m.kind == RouteMatch::kMethodNotAllowed);
  CHECK(m.allow == "GET, DELETE, HEAD");
}

TEST_CASE("HEAD is served by a GET route unless a HEAD route exists") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/a", "getA")).ok());
  REQUIRE(router.add(route({"GET"}, "/b", "getB")).ok());
  REQUIRE(router.add(route({"HEAD"}, "/b", "headB")).ok());
  CHECK(functionOf(router.match("HEAD", "/a")) == "getA");
  CHECK(functionOf(router.match("HEAD", "/b")) == "headB");
  CHECK(functionOf(router.match("GET", "/b")) == "getB");
}

TEST_CASE("a path with a wrong method gets 405 listing the allowed methods") {
  Router router;
  REQUIRE(router.add(route({"GET", "POST"}, "/items", "items")).ok());
  RouteMatch m = router.match("DELETE", "/items");
  CHECK(m.kind == RouteMatch::kMethodNotAllowed);
  CHECK(m.target == nullptr);
  CHECK(m.allow == "GET, POST, HEAD");
}

TEST_CASE("a route without methods accepts any method") {
  Router router;
  REQUIRE(router.add(route({}, "/any", "any")).ok());
  CHECK(functionOf(router.match("PATCH", "/any")) == "any");
  CHECK(functionOf(router.match("M-SEARCH", "/any")) == "any");
}

TEST_CASE("methods are matched case-sensitively after being uppercased at add") {
  Router router;
  REQUIRE(router.add(route({"get"}, "/x", "x")).ok());
  CHECK(functionOf(router.match("GET", "/x")) == "x");
  CHECK(router.match("get", "/x").kind == RouteMatch::kMethodNotAllowed);
}

TEST_CASE("the query is not part of matching and one trailing slash is ignored") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/hello/{name}", "hello")).ok());
  CHECK(functionOf(router.match("GET", "/hello/bob/")) == "hello");
  CHECK(router.match("GET", "/hello/bob//").kind == RouteMatch::kNotFound);
  // The server passes the path without the query; a raw '?' is just a character.
  RouteMatch m = router.match("GET", "/hello/a?b");
  REQUIRE(m.kind == RouteMatch::kFound);
  CHECK(m.params[0].second == "a?b");
}

TEST_CASE("invalid patterns are refused with a reason") {
  Router router;
  auto refused = [&](std::string pattern) {
    Result<void> r = router.add(route({"GET"}, pattern, "f"));
    CAPTURE(pattern);
    CHECK_FALSE(r.ok());
    if (!r.ok()) CHECK(r.error().kind == ErrorKind::kBadInput);
    return !r.ok();
  };
  refused("");
  refused("hello");
  refused("/hello/");
  refused("/a//b");
  refused("/{1abc}");
  refused("/{}");
  refused("/{a-b}");
  refused("/x{a}");
  refused("/{a}x");
  refused("/{a}/{a}");
  refused("/a%20b");
  refused("/a?b");
  CHECK_FALSE(router.add(route({"GE T"}, "/m", "f")).ok());
  CHECK_FALSE(router.add(route({""}, "/m", "f")).ok());
  CHECK(router.size() == 0);
}

TEST_CASE("a conflicting route is refused with an error naming both targets") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/a/{x}", "first", "app1")).ok());
  Result<void> same_shape = router.add(route({"POST", "GET"}, "/a/{y}", "second", "app2"));
  REQUIRE_FALSE(same_shape.ok());
  CHECK(same_shape.error().message.find("app1/first") != std::string::npos);
  CHECK(same_shape.error().message.find("app2/second") != std::string::npos);
  CHECK_FALSE(router.add(route({}, "/a/{z}", "any")).ok());
  CHECK(router.add(route({"POST"}, "/a/{y}", "post")).ok());
  CHECK(router.add(route({"GET"}, "/a/lit", "literal")).ok());
  // The refused routes left nothing behind.
  CHECK(functionOf(router.match("GET", "/a/1")) == "first");
  CHECK(functionOf(router.match("POST", "/a/1")) == "post");
  CHECK(router.size() == 3);
}

TEST_CASE("different parameter names at the same position work for different methods") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/u/{id}", "get")).ok());
  REQUIRE(router.add(route({"PUT"}, "/u/{name}", "put")).ok());
  CHECK(router.match("GET", "/u/1").params[0].first == "id");
  CHECK(router.match("PUT", "/u/1").params[0].first == "name");
}

TEST_CASE("a path deeper than every pattern is not found") {
  Router router;
  REQUIRE(router.add(route({"GET"}, "/{a}/{b}", "two")).ok());
  std::string deep;
  for (int i = 0; i < 1000; ++i) deep += "/x";
  CHECK(router.match("GET", deep).kind == RouteMatch::kNotFound);
  CHECK(functionOf(router.match("GET", "/x/y")) == "two");
}

}  // namespace gust
