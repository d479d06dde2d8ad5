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
 * API table only ever grows at its end; `size` tells a module which entries exist.
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
  GUST_TRIGGER_QUEUE = 3
} gust_trigger;

typedef enum gust_log_level {
  GUST_LOG_DEBUG = 0,
  GUST_LOG_INFO = 1,
  GUST_LOG_WARN = 2,
  GUST_LOG_ERROR = 3
} gust_log_level;

/* The event a function is invoked with. For HTTP it is the request; for a timer the body
 * is the timer event as JSON and method/path are empty. */
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
} gust_host_api;

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
