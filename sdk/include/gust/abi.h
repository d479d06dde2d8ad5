/*
 * Gust function ABI: the only things that cross between the host's worker process and a
 * user module are the plain structs and function pointers below.
 *
 * A module exports:
 *   uint32_t gust_abi_version(void);       -- GUST_ABI_VERSION the module was built with;
 *                                             the worker calls it first and refuses a mismatch.
 *   void gust_fn_NAME(const gust_request*, const gust_context*);
 *                                          -- one per function NAME of the manifest.
 *
 * Compatibility: GUST_ABI_VERSION changes whenever a struct below changes layout. The host
 * API table only ever grows at its end; `size` tells a module which entries exist (use
 * GUST_HOST_HAS). gust_message starts with its own `size`, set by the module, so that it
 * may grow the same way.
 *
 * Queue invocations (trigger GUST_TRIGGER_QUEUE) carry a batch of messages instead of a
 * request body: message_count() and message() read it, settle() decides each message's
 * fate. A message the function does not settle is acked when it returns normally; when it
 * fails (fail(), a thrown exception in the C++ layer), crashes or times out, the whole
 * batch is retried and nothing it published is kept. A queue function need not call
 * respond(); returning is enough.
 */
#ifndef GUST_ABI_H
#define GUST_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef GUST_ABI_VERSION
#define GUST_ABI_VERSION 1
#endif

#define GUST_ENTRY_SYMBOL "gust_abi_version"
#define GUST_FUNCTION_SYMBOL_PREFIX "gust_fn_"

#define GUST_EXPORT __attribute__((visibility("default")))

/* A byte string that is not NUL-terminated. Borrowed: valid only during the call. */
typedef struct gust_str {
  const char* data;
  size_t size;
} gust_str;

typedef struct gust_pair {
  gust_str name;
  gust_str value;
} gust_pair;

typedef enum gust_trigger {
  GUST_TRIGGER_HTTP = 1,
  GUST_TRIGGER_TIMER = 2,
  GUST_TRIGGER_QUEUE = 3,
  GUST_TRIGGER_WEBSOCKET = 4
} gust_trigger;

typedef enum gust_log_level {
  GUST_LOG_DEBUG = 0,
  GUST_LOG_INFO = 1,
  GUST_LOG_WARN = 2,
  GUST_LOG_ERROR = 3
} gust_log_level;

/* The event a function is invoked with. For HTTP it is the request; for a timer the body
 * is the timer event as JSON and method/path are empty.
 *
 * For a WebSocket route (trigger GUST_TRIGGER_WEBSOCKET) `method` is the event: "CONNECT"
 * (the client asks to connect: a 2xx response accepts, its headers join the 101; any other
 * status refuses, and the client gets that response), "MESSAGE" (one whole message from the
 * client is the body; a response with a non-empty body is sent back to the client as one
 * message) or "DISCONNECT" (the connection ended; its response is ignored). path, query,
 * headers and params are those of the upgrade request on every event. connection_id() and
 * websocket_info() tell the rest. Events of one connection come one at a time, in order. */
typedef struct gust_request {
  uint32_t trigger; /* gust_trigger */
  gust_str method;
  gust_str path;
  gust_str query; /* raw, without the '?' */
  const gust_pair* headers;
  size_t header_count;
  const gust_pair* params; /* path parameters, percent-decoded */
  size_t param_count;
  gust_str body;
} gust_request;

/* Status codes of the host API calls that can refuse. */
typedef enum gust_status {
  GUST_OK = 0,
  GUST_E_INVALID = 1,     /* a bad argument: queue name, message id, delay, action, header count */
  GUST_E_LIMIT = 2,       /* a per-invocation limit is reached (publishes: count or bytes) */
  GUST_E_RANGE = 3,       /* no message of the batch has this index (or there is no batch) */
  GUST_E_SETTLED = 4,     /* this message was settled already; the first settlement stands */
  GUST_E_UNSUPPORTED = 5, /* the host is older than the SDK and lacks this call (C++ layer) */
  GUST_E_NOT_FOUND = 6,   /* state_get: the app's state holds no such key (or it expired) */
  GUST_E_UNAVAILABLE = 7, /* state_get: the host could not read the state now; the host logs why */
  GUST_E_UNVERIFIED = 8   /* a webhook signature is missing, malformed, stale or does not match */
} gust_status;

/* The webhook signature schemes webhook_verify() checks (docs/security.md). */
typedef enum gust_webhook_scheme {
  GUST_WEBHOOK_STANDARD = 1, /* Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature */
  GUST_WEBHOOK_GITHUB = 2,   /* GitHub: X-Hub-Signature-256: sha256=<hex> (no timestamp) */
  GUST_WEBHOOK_STRIPE = 3    /* Stripe: Stripe-Signature: t=<unix>,v1=<hex> */
} gust_webhook_scheme;

typedef enum gust_settle_action {
  GUST_SETTLE_ACK = 1,         /* done: the message is removed */
  GUST_SETTLE_RETRY = 2,       /* redeliver it, after delay_ms at the earliest */
  GUST_SETTLE_DEAD_LETTER = 3  /* move it to the queue's dead-letter queue with the reason */
} gust_settle_action;

/* One message of a queue invocation's batch. Borrowed: valid only during the call. */
typedef struct gust_message {
  uint32_t size; /* set by the caller to sizeof(gust_message) before calling message() */
  gust_str id;
  gust_str queue;
  gust_str body;
  const gust_pair* headers;
  size_t header_count;
  uint32_t attempt;       /* 1 on the first delivery */
  int64_t enqueued_at_ms; /* Unix time in milliseconds */
} gust_message;

/* Services the host offers a running function. Every pointer is valid for the call. */
typedef struct gust_host_api {
  uint32_t size; /* sizeof(gust_host_api) as the host knows it */
  /* Sets the response; everything is copied. Only the first call of respond or fail counts. */
  void (*respond)(void* host, int32_t status, const gust_pair* headers, size_t header_count,
                  gust_str body);
  /* Ends the invocation as an error: the caller gets 500 carrying the message. */
  void (*fail)(void* host, gust_str message);
  void (*log)(void* host, int32_t level, gust_str message);
  /* Milliseconds until the invocation's deadline; 0 when it has passed. */
  int64_t (*remaining_ms)(void* host);

  /* ---- Since the queue and trace entries; check GUST_HOST_HAS(api, message_count). ---- */

  /* Messages in this invocation's batch; 0 unless the trigger is GUST_TRIGGER_QUEUE. */
  size_t (*message_count)(void* host);
  /* Fills `out` (whose `size` the caller set) with message `index`. GUST_E_RANGE past the
   * end; GUST_E_INVALID when out->size is smaller than the host's gust_message. */
  int32_t (*message)(void* host, size_t index, gust_message* out);
  /* Settles message `index` with a gust_settle_action. `delay_ms` counts for a retry (at
   * most 7 days); `reason` for a dead letter (cut at 4 KiB). A message is settled once:
   * later calls return GUST_E_SETTLED. */
  int32_t (*settle)(void* host, size_t index, int32_t action, uint32_t delay_ms, gust_str reason);
  /* Publishes a message to `queue` ([A-Za-z0-9._-], 1..100 chars, not ending in ".dead"),
   * delivered after `delay_ms` (at most 7 days). `message_id` (at most 256 bytes) dedupes;
   * empty lets the host choose one. At most 64 headers. Everything is copied. Publishes
   * are held until the function returns and committed with its outcome: an invocation that
   * fails publishes nothing. At most 1000 messages and 8 MiB per invocation (GUST_E_LIMIT).
   * The host adds the invocation's trace context to every message. */
  int32_t (*publish)(void* host, gust_str queue, gust_str body, const gust_pair* headers, size_t header_count,
                     gust_str message_id, uint32_t delay_ms);
  /* The invocation's W3C trace context (`traceparent`, `tracestate` headers); empty when
   * the host has none. */
  gust_str (*traceparent)(void* host);
  gust_str (*tracestate)(void* host);

  /* ---- Since the state entries; check GUST_HOST_HAS(api, state_get). ----
   * App state: a key-value store per app, shared by all its functions and kept by the host
   * in gust.db. Keys are 1..512 bytes of UTF-8 without control characters; values at most
   * 256 KiB. Each key has a version: 1 when created, +1 per put.
   * Reads are synchronous (the function waits for the host) and see this invocation's own
   * writes. Writes are held until the function returns and committed with its outcome, in
   * one transaction with its queue settlements and publishes: an invocation that fails,
   * crashes or times out writes nothing, and a retried one writes once. A write with
   * `if_version` N applies only if the key is still at version N when the host commits
   * (0: only if it does not exist; GUST_STATE_ANY_VERSION: whatever it holds); if any
   * such check fails, nothing of the invocation is committed: an HTTP caller gets 409
   * and a queue batch is retried with backoff. At most 1000 reads and 1000 writes (8 MiB)
   * per invocation; an app holds at most 10,000 keys and 64 MiB. */

  /* Reads `key`: GUST_OK with its value (borrowed until the next state call or the end of
   * the invocation) and version; GUST_E_NOT_FOUND when absent or expired;
   * GUST_E_INVALID for a bad key; GUST_E_LIMIT past 1000 reads; GUST_E_UNAVAILABLE when
   * the host could not read it. A key this invocation put reads back with version
   * if_version + 1 when the put had a condition, and 0 (assigned at commit) when not. */
  int32_t (*state_get)(void* host, gust_str key, gust_str* value_out, uint64_t* version_out);
  /* Sets `key` to `value` (copied) when the invocation commits. `ttl_ms` > 0: the key reads
   * as absent that long after the commit (at most 365 days); 0: it never expires. */
  int32_t (*state_put)(void* host, gust_str key, gust_str value, uint64_t if_version, uint64_t ttl_ms);
  /* Deletes `key` when the invocation commits (nothing happens if it is absent). */
  int32_t (*state_remove)(void* host, gust_str key, uint64_t if_version);

  /* ---- Since the webhook entry; check GUST_HOST_HAS(api, webhook_verify). ---- */

  /* Checks the webhook signature of a request given by its headers and body (the
   * invocation's own, or a queued message's), as the host checks a route's "verify":
   * `scheme` is a gust_webhook_scheme, `secret` as the sender shows it (whsec_... for
   * Standard Webhooks), `tolerance_s` (1 to 86400) how far a signature's timestamp may be
   * from now, either way. GUST_OK when a signature matches; GUST_E_UNVERIFIED when none
   * does; GUST_E_INVALID for a bad scheme, secret, tolerance or header count (at most 4096).
   * Unless `error_out` is null it gets what was wrong (empty on GUST_OK), valid until the
   * next webhook_verify call of the invocation or its end. The secret is never in it. */
  int32_t (*webhook_verify)(void* host, int32_t scheme, gust_str secret, int64_t tolerance_s,
                            const gust_pair* headers, size_t header_count, gust_str body, gust_str* error_out);

  /* ---- Since the WebSocket entries; check GUST_HOST_HAS(api, connection_send). ----
   * A connection id names one open WebSocket connection of the app: 32 lowercase hex
   * characters (128 random bits), never reused. Any invocation of the app (of any trigger)
   * may send to or close any of its app's connections; another app's connection is
   * indistinguishable from none. At most 10,000 calls and 16 MiB sent per invocation
   * (GUST_E_LIMIT). A send is queued to the client at once, whatever the invocation's
   * outcome; a client that does not read is disconnected (close 1008) rather than buffered
   * without bound. */

  /* The connection of this WebSocket invocation; empty for every other trigger. */
  gust_str (*connection_id)(void* host);
  /* For a WebSocket invocation: `binary_out` 1 when the MESSAGE was a binary one,
   * `close_code_out` the close code a DISCONNECT saw (1006 when the connection ended without
   * one). GUST_E_INVALID for another trigger. Either pointer may be null. */
  int32_t (*websocket_info)(void* host, uint32_t* binary_out, uint32_t* close_code_out);
  /* Sends `data` (copied) as one message, binary when `binary` is non-zero, else text (which
   * must be UTF-8). GUST_OK once queued; GUST_E_NOT_FOUND when the app has no open
   * connection of that id; GUST_E_INVALID for text that is not UTF-8; GUST_E_LIMIT. */
  int32_t (*connection_send)(void* host, gust_str connection_id, gust_str data, int32_t binary);
  /* Starts the close handshake with `code` (1000, or 3000..4999) and `reason` (at most 123
   * bytes of UTF-8). GUST_OK, GUST_E_NOT_FOUND, GUST_E_INVALID or GUST_E_LIMIT as above. */
  int32_t (*connection_close)(void* host, gust_str connection_id, int32_t code, gust_str reason);
} gust_host_api;

/* if_version of a state write without a condition. */
#define GUST_STATE_ANY_VERSION UINT64_MAX

/* Whether the host's API table has `entry` (a member name of gust_host_api). */
#define GUST_HOST_HAS(api, entry) \
  ((api)->size >= offsetof(gust_host_api, entry) + sizeof(((gust_host_api*)0)->entry))

typedef struct gust_context {
  const gust_host_api* api;
  void* host;
  gust_str invocation_id;
  gust_str app;
  gust_str function;
} gust_context;

typedef void (*gust_function_fn)(const gust_request* request, const gust_context* context);
typedef uint32_t (*gust_abi_version_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* GUST_ABI_H */
