/*
 * hiredis_dl.h -- hiredis, loaded when it is first needed. The library is
 * opened with dlopen by lgw__hiredis_load (by the soname of the hiredis
 * the library was built against) when the first Redis connection is made,
 * so a program that uses no Redis (state, rate limits, queues) does not
 * map it. Included by redis.c, the only user of hiredis, after
 * <hiredis/hiredis.h> and <hiredis/async.h> and before the libuv adapter
 * (whose static functions call through the table too).
 */
#ifndef LGW_HIREDIS_DL_H
#define LGW_HIREDIS_DL_H

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

/* 1: opened at first use (hiredis 0.x); 0: linked (1.x), see the
 * Makefile's HIREDIS_DL */
#ifndef LGW_HIREDIS_DL
#define LGW_HIREDIS_DL 1
#endif

#if !LGW_HIREDIS_DL
static inline int lgw__hiredis_load(void) { return 0; }
static inline const char *lgw__hiredis_error(void) { return ""; }
#else

#define LGW__HIREDIS_FUNCS(X)                                                \
  X(redisAsyncContext *, AsyncConnect, (const char *, int))                  \
  X(int, AsyncSetConnectCallback,                                            \
    (redisAsyncContext *, redisConnectCallback *))                           \
  X(int, AsyncSetDisconnectCallback,                                         \
    (redisAsyncContext *, redisDisconnectCallback *))                        \
  X(void, AsyncFree, (redisAsyncContext *))                                  \
  X(void, AsyncHandleRead, (redisAsyncContext *))                            \
  X(void, AsyncHandleWrite, (redisAsyncContext *))                           \
  X(int, AsyncCommandArgv,                                                   \
    (redisAsyncContext *, redisCallbackFn *, void *, int, const char **,     \
     const size_t *))

typedef struct lgw__hiredis_api {
#define LGW__HIREDIS_FIELD(ret, name, args) ret(*name) args;
  LGW__HIREDIS_FUNCS(LGW__HIREDIS_FIELD)
#undef LGW__HIREDIS_FIELD
} lgw__hiredis_api_t;

extern lgw__hiredis_api_t lgw__hiredis;

/* Opens hiredis, once per process (thread-safe). 0, or -1 with the
 * reason, naming the library, in lgw__hiredis_error(). */
int lgw__hiredis_load(void);
const char *lgw__hiredis_error(void);

#ifndef LGW__HIREDIS_DL_IMPL
#define redisAsyncConnect (lgw__hiredis.AsyncConnect)
#define redisAsyncSetConnectCallback (lgw__hiredis.AsyncSetConnectCallback)
#define redisAsyncSetDisconnectCallback \
  (lgw__hiredis.AsyncSetDisconnectCallback)
#define redisAsyncFree (lgw__hiredis.AsyncFree)
#define redisAsyncHandleRead (lgw__hiredis.AsyncHandleRead)
#define redisAsyncHandleWrite (lgw__hiredis.AsyncHandleWrite)
#define redisAsyncCommandArgv (lgw__hiredis.AsyncCommandArgv)
#endif

#endif /* LGW_HIREDIS_DL */

#endif
