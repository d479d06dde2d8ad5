#include "runtime/store/redis_tls_tunnel.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <utility>
#include <vector>

namespace gust {

// One connection from hiredis, carried to Redis over TLS. The TLS engine works on memory
// buffers: what the server sends goes into `from_server`, and what OpenSSL writes for the
// server is taken from `to_server` and written to the socket, so everything stays on the loop.
struct RedisTlsTunnel::Session {
  RedisTlsTunnel* tunnel = nullptr;
  uv_pipe_t local{};  // hiredis's side
  uv_tcp_t remote{};  // the server's side, once its address is known
  bool remote_open = false;
  uv_getaddrinfo_t resolve{};
  bool resolving = false;
  uv_connect_t connecting{};
  SSL* ssl = nullptr;
  BIO* from_server = nullptr;  // owned by ssl
  BIO* to_server = nullptr;    // owned by ssl
  bool handshake_done = false;
  bool ending = false;
  std::string early;  // what hiredis sent before the handshake ended
  int open_handles = 0;
};

namespace {

// hiredis's handshake and commands before TLS is up; far more is a client gone wrong.
constexpr size_t kMaxEarlyBytes = 16u << 20;

struct WriteRequest {
  uv_write_t req{};
  std::string data;
};

std::string opensslReason() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof text);
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "no reason given" : out;
}

bool isAddress(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void allocate(uv_handle_t*, size_t suggested, uv_buf_t* buf) {
  buf->base = static_cast<char*>(std::malloc(suggested));
  buf->len = buf->base == nullptr ? 0 : suggested;
}

void write(uv_stream_t* to, std::string data) {
  auto* w = new WriteRequest;
  w->data = std::move(data);
  uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
  if (uv_write(&w->req, to, &buf, 1, [](uv_write_t* req, int) { delete reinterpret_cast<WriteRequest*>(req); }) != 0) {
    delete w;  // the stream is closing; its session ends with it
  }
}

// A directory only this user may enter, for the socket: $XDG_RUNTIME_DIR when it is short
// enough for a socket path, else /tmp.
Result<std::string> privateDir() {
  std::string base = "/tmp";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR"); runtime != nullptr && runtime[0] == '/') {
    struct stat st {};
    if (std::string(runtime).size() < 70 && ::stat(runtime, &st) == 0 && S_ISDIR(st.st_mode)) base = runtime;
  }
  std::string templ = base + "/gust-redis-tls-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr) {
    return Error{ErrorKind::kIo, "cannot make a private directory for the Redis TLS tunnel in " + base + ": " +
                                     std::string(uv_strerror(uv_translate_sys_error(errno)))};
  }
  return templ;
}

}  // namespace

// The TLS settings of every connection: what is checked, and what this host presents.
Result<ssl_ctx_st*> RedisTlsTunnel::makeContext(const RedisTlsFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return Error{ErrorKind::kBadInput, "--backend-tls-cert and --backend-tls-key go together: give both, or neither"};
  }
  ERR_clear_error();
  std::unique_ptr<SSL_CTX, void (*)(SSL_CTX*)> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
  if (!ctx) return Error{ErrorKind::kIo, "cannot set up TLS: " + opensslReason()};
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  if (!files.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), files.ca_file.c_str(), nullptr) != 1) {
      return Error{ErrorKind::kBadInput, "cannot use --backend-tls-ca " + files.ca_file +
                                             " (PEM certificates of the CAs that sign Redis's certificate): " +
                                             opensslReason()};
    }
  } else if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
    return Error{ErrorKind::kIo, "cannot load the system's CA certificates (give --backend-tls-ca): " + opensslReason()};
  }
  if (!files.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert_file.c_str()) != 1) {
      return Error{ErrorKind::kBadInput,
                   "cannot use --backend-tls-cert " + files.cert_file + " (a PEM certificate): " + opensslReason()};
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx.get()) != 1) {
      return Error{ErrorKind::kBadInput, "cannot use --backend-tls-key " + files.key_file +
                                             " (the PEM private key of --backend-tls-cert): " + opensslReason()};
    }
  }
  return ctx.release();
}

Result<void> RedisTlsTunnel::check(const RedisTlsFiles& files) {
  auto ctx = makeContext(files);
  if (!ctx) return ctx.error();
  SSL_CTX_free(*ctx);
  return {};
}

Result<std::unique_ptr<RedisTlsTunnel>> RedisTlsTunnel::open(uv_loop_t* loop, const RedisEndpoint& endpoint) {
  std::unique_ptr<RedisTlsTunnel> t(new RedisTlsTunnel(loop, endpoint));
  auto ctx = makeContext(endpoint.tls_files);
  if (!ctx) return ctx.error();
  t->ctx_ = *ctx;
  auto dir = privateDir();
  if (!dir) return dir.error();
  t->dir_ = std::move(*dir);
  t->path_ = t->dir_ + "/redis.sock";
  t->listener_ = new uv_pipe_t;
  uv_pipe_init(loop, t->listener_, 0);
  t->listener_->data = t.get();
  t->listening_ = true;
  int rc = uv_pipe_bind(t->listener_, t->path_.c_str());
  if (rc == 0) {
    rc = uv_listen(reinterpret_cast<uv_stream_t*>(t->listener_), 16,
                   [](uv_stream_t* server, int status) {
                     if (status == 0) static_cast<RedisTlsTunnel*>(server->data)->accept();
                   });
  }
  if (rc != 0) {
    // Closed on the loop, after this tunnel is gone: the handle frees itself.
    uv_close(reinterpret_cast<uv_handle_t*>(std::exchange(t->listener_, nullptr)),
              [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    t->listening_ = false;
    ::unlink(t->path_.c_str());
    ::rmdir(t->dir_.c_str());
    return Error{ErrorKind::kIo, "cannot listen on " + t->path_ + " for the Redis TLS tunnel: " + uv_strerror(rc)};
  }
  return t;
}

RedisTlsTunnel::~RedisTlsTunnel() {
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

std::string RedisTlsTunnel::takeError() { return std::exchange(last_error_, std::string()); }

void RedisTlsTunnel::accept() {
  auto* s = new Session;
  s->tunnel = this;
  uv_pipe_init(loop_, &s->local, 0);
  s->local.data = s;
  s->open_handles = 1;
  sessions_.insert(s);
  if (closing_ || uv_accept(reinterpret_cast<uv_stream_t*>(listener_), reinterpret_cast<uv_stream_t*>(&s->local)) != 0) {
    end(s);
    return;
  }
  uv_read_start(reinterpret_cast<uv_stream_t*>(&s->local), allocate, [](uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
    auto* s = static_cast<Session*>(stream->data);
    if (n > 0 && !s->ending) {
      if (s->handshake_done) {
        SSL_write(s->ssl, buf->base, static_cast<int>(n));  // into memory: all of it, or an error the read sees
        s->tunnel->sendToServer(s);
      } else if (s->early.size() + static_cast<size_t>(n) <= kMaxEarlyBytes) {
        s->early.append(buf->base, static_cast<size_t>(n));
      } else {
        s->tunnel->failed(s, "the Redis client sent more than 16 MiB before TLS was up");
      }
    } else if (n < 0) {
      // hiredis let go: when before TLS was up, its deadline passed first.
      RedisTlsTunnel* t = s->tunnel;
      if (s->handshake_done) {
        t->end(s);
      } else if (s->ssl != nullptr) {
        t->failed(s, "the TLS handshake with " + t->endpoint_.where() + " did not finish in time (is it Redis's TLS "
                     "port?)");
      } else {
        t->failed(s, "could not connect to " + t->endpoint_.where() + " in time");
      }
    }
    std::free(buf->base);
  });
  s->resolve.data = s;
  s->resolving = true;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  const std::string port = std::to_string(endpoint_.port);
  const int rc = uv_getaddrinfo(
      loop_, &s->resolve,
      [](uv_getaddrinfo_t* req, int status, addrinfo* res) {
        auto* s = static_cast<Session*>(req->data);
        s->resolving = false;
        RedisTlsTunnel* t = s->tunnel;
        if (s->ending) {
          if (res != nullptr) uv_freeaddrinfo(res);
          t->end(s);  // frees it now that nothing is pending
          return;
        }
        if (status != 0) {
          t->failed(s, "cannot resolve " + t->endpoint_.host + ": " + uv_strerror(status));
          return;
        }
        uv_tcp_init(t->loop_, &s->remote);
        s->remote.data = s;
        s->remote_open = true;
        ++s->open_handles;
        uv_tcp_nodelay(&s->remote, 1);
        uv_tcp_keepalive(&s->remote, 1, 30);  // a cut cable is found even while nothing is sent
        s->connecting.data = s;
        const int connected = uv_tcp_connect(&s->connecting, &s->remote, res->ai_addr, [](uv_connect_t* req, int status) {
          auto* s = static_cast<Session*>(req->data);
          if (s->ending) return;
          RedisTlsTunnel* t = s->tunnel;
          if (status != 0) {
            t->failed(s, "cannot connect to " + t->endpoint_.where() + ": " + uv_strerror(status));
            return;
          }
          ERR_clear_error();
          s->ssl = SSL_new(t->ctx_);
          s->from_server = BIO_new(BIO_s_mem());
          s->to_server = BIO_new(BIO_s_mem());
          SSL_set_bio(s->ssl, s->from_server, s->to_server);
          SSL_set_connect_state(s->ssl);
          const std::string& host = t->endpoint_.host;
          if (isAddress(host)) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), host.c_str());
          } else {
            SSL_set_tlsext_host_name(s->ssl, host.c_str());
            SSL_set1_host(s->ssl, host.c_str());
          }
          uv_read_start(reinterpret_cast<uv_stream_t*>(&s->remote), allocate,
                        [](uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
                          auto* s = static_cast<Session*>(stream->data);
                          RedisTlsTunnel* t = s->tunnel;
                          if (n > 0 && !s->ending) {
                            BIO_write(s->from_server, buf->base, static_cast<int>(n));
                            t->pump(s);
                          } else if (n < 0 && !s->ending) {
                            if (s->handshake_done) {
                              t->end(s);
                            } else {
                              t->failed(s, t->endpoint_.where() +
                                               " closed the connection during the TLS handshake (is it Redis's TLS "
                                               "port? does it want a client certificate, --backend-tls-cert?)");
                            }
                          }
                          std::free(buf->base);
                        });
          t->pump(s);  // the ClientHello
        });
        uv_freeaddrinfo(res);
        if (connected != 0) t->failed(s, "cannot connect to " + t->endpoint_.where() + ": " + uv_strerror(connected));
      },
      endpoint_.host.c_str(), port.c_str(), &hints);
  if (rc != 0) {
    s->resolving = false;
    failed(s, "cannot resolve " + endpoint_.host + ": " + uv_strerror(rc));
  }
}

void RedisTlsTunnel::pump(Session* s) {
  ERR_clear_error();
  if (!s->handshake_done) {
    const int r = SSL_do_handshake(s->ssl);
    if (r == 1) {
      s->handshake_done = true;
      if (!s->early.empty()) {
        SSL_write(s->ssl, s->early.data(), static_cast<int>(s->early.size()));
        s->early.clear();
      }
    } else if (const int e = SSL_get_error(s->ssl, r); e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      const long verified = SSL_get_verify_result(s->ssl);
      std::string why = verified != X509_V_OK
                            ? "the certificate of " + endpoint_.where() + " was refused: " +
                                  X509_verify_cert_error_string(verified) +
                                  " (give the CA that signed it with --backend-tls-ca)"
                            : "TLS with " + endpoint_.where() + " failed: " + opensslReason() +
                                  " (is it Redis's TLS port?)";
      failed(s, std::move(why));
      return;
    }
  }
  if (s->handshake_done) {
    std::string plain;
    char chunk[16384];
    for (;;) {
      const int n = SSL_read(s->ssl, chunk, sizeof chunk);
      if (n > 0) {
        plain.append(chunk, static_cast<size_t>(n));
        continue;
      }
      const int e = SSL_get_error(s->ssl, n);
      if (e == SSL_ERROR_WANT_READ) break;
      if (!plain.empty()) write(reinterpret_cast<uv_stream_t*>(&s->local), std::move(plain));
      if (e == SSL_ERROR_ZERO_RETURN) {
        end(s);  // the server ended TLS
      } else {
        failed(s, "TLS with " + endpoint_.where() + " failed: " + opensslReason());
      }
      return;
    }
    if (!plain.empty()) write(reinterpret_cast<uv_stream_t*>(&s->local), std::move(plain));
  }
  sendToServer(s);
}

// Writes to the server what OpenSSL has for it.
void RedisTlsTunnel::sendToServer(Session* s) {
  if (size_t pending = BIO_ctrl_pending(s->to_server); pending > 0) {
    std::string out(pending, '\0');
    BIO_read(s->to_server, out.data(), static_cast<int>(pending));
    write(reinterpret_cast<uv_stream_t*>(&s->remote), std::move(out));
  }
}

void RedisTlsTunnel::failed(Session* s, std::string why) {
  if (s->ending) return;
  last_error_ = std::move(why);
  end(s);
}

void RedisTlsTunnel::end(Session* s) {
  if (!s->ending) {
    s->ending = true;
    if (s->resolving) uv_cancel(reinterpret_cast<uv_req_t*>(&s->resolve));
    auto closed = [](uv_handle_t* h) {
      auto* s = static_cast<Session*>(h->data);
      --s->open_handles;
      s->tunnel->end(s);  // frees it once nothing is left
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&s->local), closed);
    if (s->remote_open) uv_close(reinterpret_cast<uv_handle_t*>(&s->remote), closed);
    return;
  }
  if (s->open_handles > 0 || s->resolving) return;
  sessions_.erase(s);
  if (s->ssl != nullptr) SSL_free(s->ssl);
  delete s;
  finishClose();
}

void RedisTlsTunnel::close(std::function<void()> on_closed) {
  closing_ = true;
  on_closed_ = std::move(on_closed);
  std::vector<Session*> open(sessions_.begin(), sessions_.end());
  for (Session* s : open) end(s);
  if (listening_) {
    uv_close(reinterpret_cast<uv_handle_t*>(listener_), [](uv_handle_t* h) {
      auto* t = static_cast<RedisTlsTunnel*>(h->data);
      delete reinterpret_cast<uv_pipe_t*>(h);
      t->listener_ = nullptr;
      t->listening_ = false;
      ::unlink(t->path_.c_str());
      ::rmdir(t->dir_.c_str());
      t->finishClose();
    });
  } else {
    finishClose();
  }
}

void RedisTlsTunnel::finishClose() {
  if (!closing_ || listening_ || !sessions_.empty() || !on_closed_) return;
  std::exchange(on_closed_, nullptr)();
}

}  // namespace gust
