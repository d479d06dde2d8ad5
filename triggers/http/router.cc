#include "triggers/http/router.h"

#include "triggers/http/http_text.h"

#include <algorithm>
#include <array>
#include <map>

namespace gust {
namespace {

// Deeper patterns are refused; deeper paths cannot match and are refused before splitting.
constexpr size_t kMaxSegments = 64;

using http::isTokenChar;
using http::percentDecode;

bool isParamName(std::string_view name) {
  if (name.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return alpha(c) || (c >= '0' && c <= '9'); });
}

std::string describe(const std::vector<std::string>& methods, std::string_view pattern,
                     const RouteTarget& target) {
  std::string out = "'";
  if (methods.empty()) {
    out += "*";
  } else {
    for (size_t i = 0; i < methods.size(); ++i) {
      if (i > 0) out += ",";
      out += methods[i];
    }
  }
  out += " ";
  out += pattern;
  out += "' (";
  out += target.app;
  out += target.stream ? " stream" : "/" + target.function;
  out += ")";
  return out;
}

bool contains(const std::vector<std::string>& methods, std::string_view method) {
  return std::find(methods.begin(), methods.end(), method) != methods.end();
}

}  // namespace

struct Router::Endpoint {
  std::vector<std::string> methods;  // uppercased, unique; empty = any
  std::vector<std::string> param_names;
  std::string pattern;
  RouteTarget target;
};

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  // unique_ptr so RouteMatch::target stays put when more routes are added.
  std::vector<std::unique_ptr<Endpoint>> endpoints;

  const Endpoint* pick(std::string_view method) const {
    for (const auto& ep : endpoints) {
      if (contains(ep->methods, method)) return ep.get();
    }
    if (method == "HEAD") {
      for (const auto& ep : endpoints) {
        if (contains(ep->methods, "GET")) return ep.get();
      }
    }
    for (const auto& ep : endpoints) {
      if (ep->methods.empty()) return ep.get();
    }
    return nullptr;
  }
};

struct Router::MatchState {
  std::string_view method;
  std::array<std::string_view, kMaxSegments> segments;
  size_t segment_count = 0;
  std::array<std::string_view, kMaxSegments> values;  // parameter values on the current branch
  size_t value_count = 0;
  const Endpoint* found = nullptr;
  std::array<std::string_view, kMaxSegments> found_values;
  std::vector<std::string_view> allowed;  // methods seen at matching paths, for 405
  bool path_matched = false;
};

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

Result<void> Router::add(Route route) {
  const std::string& pattern = route.pattern;
  auto bad = [&](std::string_view why) {
    return Error{ErrorKind::kBadInput, "route pattern '" + pattern + "': " + std::string(why)};
  };
  if (pattern.empty() || pattern.front() != '/') return bad("must start with '/'");
  if (pattern.size() > 1 && pattern.back() == '/') return bad("must not end with '/'");

  auto endpoint = std::make_unique<Endpoint>();
  for (std::string& method : route.methods) {
    if (method.empty() || !std::all_of(method.begin(), method.end(), isTokenChar)) {
      return Error{ErrorKind::kBadInput, "route '" + pattern + "': invalid method '" + method + "'"};
    }
    for (char& c : method) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (!contains(endpoint->methods, method)) endpoint->methods.push_back(method);
  }

  // Walk (and grow) the tree one segment at a time; collect parameter names.
  std::vector<std::pair<std::string_view, bool>> segments;  // text, is parameter
  std::string_view rest = std::string_view(pattern).substr(1);
  while (!rest.empty()) {
    size_t slash = rest.find('/');
    std::string_view seg = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (seg.empty()) return bad("empty segment");
    if (seg.front() == '{') {
      if (seg.back() != '}') return bad("a parameter must be a whole segment");
      std::string_view name = seg.substr(1, seg.size() - 2);
      if (!isParamName(name)) return bad("invalid parameter name '" + std::string(name) + "'");
      if (contains(endpoint->param_names, name)) {
        return bad("duplicate parameter '" + std::string(name) + "'");
      }
      endpoint->param_names.emplace_back(name);
      segments.emplace_back(name, true);
    } else {
      if (seg.find_first_of("{}%?#") != std::string_view::npos) {
        return bad("literal segment '" + std::string(seg) + "' holds one of {}%?#");
      }
      segments.emplace_back(seg, false);
    }
  }
  if (segments.size() > kMaxSegments) return bad("too many segments");

  // Find the node first without changing the tree, so a conflict leaves it untouched.
  const Node* existing = root_.get();
  for (const auto& [text, is_param] : segments) {
    if (existing == nullptr) break;
    if (is_param) {
      existing = existing->param.get();
    } else {
      auto it = existing->literals.find(text);
      existing = it == existing->literals.end() ? nullptr : it->second.get();
    }
  }
  if (existing != nullptr) {
    for (const auto& other : existing->endpoints) {
      bool overlap = other->methods.empty() || endpoint->methods.empty();
      for (const std::string& m : endpoint->methods) overlap = overlap || contains(other->methods, m);
      if (overlap) {
        return Error{ErrorKind::kBadInput,
                     "route " + describe(endpoint->methods, pattern, route.target) +
                         " conflicts with " + describe(other->methods, other->pattern, other->target)};
      }
    }
  }

  Node* node = root_.get();
  for (const auto& [text, is_param] : segments) {
    std::unique_ptr<Node>* child = nullptr;
    if (is_param) {
      child = &node->param;
    } else {
      auto it = node->literals.find(text);
      if (it == node->literals.end()) it = node->literals.emplace(std::string(text), nullptr).first;
      child = &it->second;
    }
    if (*child == nullptr) *child = std::make_unique<Node>();
    node = child->get();
  }
  endpoint->pattern = std::move(route.pattern);
  endpoint->target = std::move(route.target);
  node->endpoints.push_back(std::move(endpoint));
  ++size_;
  max_depth_ = std::max(max_depth_, segments.size());
  return {};
}

// Depth-first in priority order (literal before parameter); stops at the first endpoint
// that accepts the method. Returns true when found.
bool Router::search(const Node& node, size_t depth, MatchState& state) const {
  if (depth == state.segment_count) {
    if (node.endpoints.empty()) return false;
    state.path_matched = true;
    if (const Endpoint* ep = node.pick(state.method)) {
      state.found = ep;
      std::copy_n(state.values.begin(), state.value_count, state.found_values.begin());
      return true;
    }
    for (const auto& ep : node.endpoints) {
      for (const std::string& m : ep->methods) {
        if (std::find(state.allowed.begin(), state.allowed.end(), m) == state.allowed.end()) {
          state.allowed.push_back(m);
        }
      }
    }
    return false;
  }
  std::string_view seg = state.segments[depth];
  auto it = node.literals.find(seg);
  if (it != node.literals.end() && search(*it->second, depth + 1, state)) return true;
  if (node.param != nullptr) {
    state.values[state.value_count++] = seg;
    if (search(*node.param, depth + 1, state)) return true;
    --state.value_count;
  }
  return false;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  if (path.empty() || path.front() != '/') return result;
  if (path.size() > 2 && path.back() == '/') path.remove_suffix(1);  // "/a/" is "/a"

  MatchState state;
  state.method = method;
  // Decoded segments live in `decoded`, reserved up front so views into it stay valid;
  // it allocates only for paths that hold a '%'.
  std::string decoded;
  bool has_escape = path.find('%') != std::string_view::npos;
  if (has_escape) decoded.reserve(path.size());
  if (path.size() > 1) {
    std::string_view rest = path.substr(1);
    for (;;) {
      size_t slash = rest.find('/');
      std::string_view seg = rest.substr(0, slash);
      if (seg.empty()) return result;  // "//" names nothing; no silent normalisation
      if (state.segment_count == max_depth_) return result;  // deeper than any pattern
      if (has_escape && seg.find('%') != std::string_view::npos) {
        size_t start = decoded.size();
        if (!percentDecode(seg, decoded)) return result;
        seg = std::string_view(decoded).substr(start);
      }
      state.segments[state.segment_count++] = seg;
      if (slash == std::string_view::npos) break;
      rest = rest.substr(slash + 1);
    }
  }

  if (!search(*root_, 0, state)) {
    if (state.path_matched) {
      result.kind = RouteMatch::kMethodNotAllowed;
      if (std::find(state.allowed.begin(), state.allowed.end(), "GET") != state.allowed.end() &&
          std::find(state.allowed.begin(), state.allowed.end(), "HEAD") == state.allowed.end()) {
        state.allowed.push_back("HEAD");
      }
      for (size_t i = 0; i < state.allowed.size(); ++i) {
        if (i > 0) result.allow += ", ";
        result.allow += state.allowed[i];
      }
    }
    return result;
  }
  result.kind = RouteMatch::kFound;
  result.target = &state.found->target;
  const auto& names = state.found->param_names;
  result.params.reserve(names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    result.params.emplace_back(names[i], std::string(state.found_values[i]));
  }
  return result;
}

}  // namespace gust
