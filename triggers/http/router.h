#pragma once
// Maps an HTTP method and path to the function that serves it.
//
// Patterns are absolute paths whose segments are either literal or a whole-segment
// parameter, "/users/{id}/posts". Rules (checked by add()):
//  - a pattern starts with '/'; it has no empty segment and no trailing slash, except the
//    root "/" itself. A request path may end with one extra '/', which is ignored: "/a/"
//    matches "/a".
//  - parameter names match [A-Za-z_][A-Za-z0-9_]* and are unique within a pattern; a
//    literal segment holds none of "{}%?#".
//  - methods are HTTP tokens, stored uppercased; an empty list means any method. Two
//    routes with the same shape ("/a/{x}" and "/a/{y}" have one shape) and a common
//    method (or an any-method route) conflict, and add() names both targets.
// Matching: segments are compared after percent-decoding; a literal segment wins over a
// parameter at the same depth, and when the literal branch has no route for the method a
// parameter branch that has one is used. HEAD is served by a GET route unless a HEAD
// route exists. A path that matches some pattern but no method gives kMethodNotAllowed
// with every method the path allows. A path with invalid percent-encoding or an encoded
// NUL names no resource: kNotFound. The query is not part of matching.
//
// Thread: built by one thread, then match() is const and may run on any thread.
// RouteMatch::target points into the router and stays valid while the router lives.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/base/result.h"

namespace gust {

struct RouteTarget {
  std::string app;
  std::string function;  // empty for a stream or a GraphQL endpoint
  bool stream = false;   // a stream of the app's manifest (triggers/http/topic_streams.h)
  bool graphql = false;  // the app's GraphQL endpoint (triggers/http/graphql_endpoint.h)
};

struct Route {
  std::vector<std::string> methods;  // empty = any method
  std::string pattern;               // "/hello/{name}"
  RouteTarget target;
};

struct RouteMatch {
  enum Kind { kFound, kNotFound, kMethodNotAllowed };
  Kind kind = kNotFound;
  const RouteTarget* target = nullptr;                       // kFound
  std::vector<std::pair<std::string, std::string>> params;  // kFound: decoded, in pattern order
  std::string allow;                                         // kMethodNotAllowed: "GET, HEAD"
};

class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  Result<void> add(Route route);
  RouteMatch match(std::string_view method, std::string_view path) const;
  size_t size() const { return size_; }

 private:
  struct Endpoint;
  struct Node;
  struct MatchState;

  bool search(const Node& node, size_t depth, MatchState& state) const;

  std::unique_ptr<Node> root_;
  size_t size_ = 0;
  size_t max_depth_ = 0;
};

}  // namespace gust
