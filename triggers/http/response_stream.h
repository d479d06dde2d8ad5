#pragma once
// A response written over time (server-sent events): a weak handle to a connection the
// HttpServer gave over to one streamed answer (HttpResponder::startStream).
//
// Contract:
//  - Thread: the loop's thread of the HttpServer that made it.
//  - Lifetime: weak, copyable; every call is safe after the connection is gone (write()
//    answers false, open() is false).
//  - The body ends when the connection does (no Content-Length, "Connection: close").
//    Whatever the client sends is read and dropped, so that its going away is seen.

#include <cstddef>
#include <functional>
#include <memory>
#include <string_view>
#include <utility>

namespace gust {

struct ResponseStreamLink;  // internal to the server

class ResponseStream {
 public:
  ResponseStream() = default;  // never open
  bool open() const;
  // Queues bytes of the body. False when the stream is gone, or when they would take the
  // bytes queued past the stream's bound: the stream is then closed, so a client that does
  // not read is dropped rather than buffered for.
  bool write(std::string_view bytes);
  // Flushes what is queued, then closes the connection.
  void end();
  // Bytes queued to the peer and not yet taken by the kernel; 0 once closed.
  size_t bufferedBytes() const;
  // `callback` runs once when the stream closes for any reason (the peer went away, end(),
  // a bound, the server closing); at once if it is closed already. A later call replaces an
  // earlier callback.
  void onClose(std::function<void()> callback);

 private:
  friend class HttpConnection;
  explicit ResponseStream(std::shared_ptr<ResponseStreamLink> link) : link_(std::move(link)) {}
  std::shared_ptr<ResponseStreamLink> link_;
};

}  // namespace gust
