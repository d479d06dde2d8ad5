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
  // Queues bytes of the body. False when the stream is gone, or when bytes the client has
  // not taken yet wait and these would take them past the stream's bound: the stream is then
  // closed, so a client that does not read is dropped rather than buffered for. Bytes into
  // an empty queue always go, however many.
  bool write(std::string_view bytes);
  // Flushes what is queued, then closes the connection.
  void end();
  // Bytes queued to the peer and not yet taken by the kernel; 0 once closed.
  size_t bufferedBytes() const;
  // `callback` runs each time bytes that had to wait for the client have all been taken by
  // the kernel (bufferedBytes() is 0 again), while the stream is open: a writer that paused
  // for a slow client goes on then. A later call replaces it.
  void onDrained(std::function<void()> callback);
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
