#pragma once
// Errors as values (STYLE 8): every fallible call above the loop layer returns Result<T>.
// An ErrorKind maps to the outside world in one place (runtime/protocol/http_status.h for HTTP).

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace gust {

enum class ErrorKind {
  kBadInput,     // the caller sent something invalid: 400, a refused manifest, a bad flag
  kNotFound,     // no such route, app, function or file
  kOverloaded,   // no capacity now; try again later: 503 with Retry-After
  kTimeout,      // a deadline passed: 504
  kCrashed,      // a worker died: 502
  kFunctionError,  // user code reported or threw an error: 500
  kUnavailable,  // a dependency cannot serve (e.g. a worker that fails to start): 503
  kConflict,     // the request clashes with the current state (e.g. a route another app owns): 409
  kTooLarge,     // a size limit was passed: 413
  kLimitReached,  // a storage bound of the app was reached (pending async, queue bytes): 429
                  // with Retry-After; it passes once work drains
  kStorageFull,   // the host's disk is full (SQLITE_FULL): 507 with Retry-After; it passes
                  // once the operator frees space
  kIo,           // the operating system said no (file, socket, process)
  kInternal,     // our own bug; should not happen
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

inline Error makeError(ErrorKind kind, std::string message) { return Error{kind, std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { assert(ok()); return std::get<0>(v_); }
  const T& value() const& { assert(ok()); return std::get<0>(v_); }
  T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { assert(!ok()); return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { assert(!ok_); return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

}  // namespace gust
