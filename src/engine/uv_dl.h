/*
 * uv_dl.h -- libuv, loaded when it is first needed. The library is opened
 * with dlopen by lgw__uv_load, so a program that loads llmgateway and
 * never makes an event loop (require "llmgateway", a script that only
 * reads JSON or configuration) does not map and relocate it. Included
 * after <uv.h> by the engine's and the Redis layer's libuv users (and,
 * in redis.c, before hiredis's libuv adapter, whose static functions call
 * through the table too): every uv_* call below goes through the table
 * lgw__uv_load fills. Each entry point that may be the first use of
 * libuv -- making a loop (lgw_loop_new, the engine's own loop), or being
 * given one (a gateway, a Redis connection or queue, a timer, idle or
 * wake-up handle on a foreign loop, running or polling it) -- calls
 * lgw__uv_load first; the others work on handles that exist only after
 * it. lgw_hrtime and the queue's random identifiers call the kernel
 * directly (clock_gettime, getrandom), as libuv does on Linux.
 */
#ifndef LGW_UV_DL_H
#define LGW_UV_DL_H

#include <uv.h>

#define LGW__UV_FUNCS(X)                                                     \
  X(int, loop_init, (uv_loop_t *))                                           \
  X(int, loop_close, (uv_loop_t *))                                          \
  X(int, loop_alive, (const uv_loop_t *))                                    \
  X(int, run, (uv_loop_t *, uv_run_mode))                                    \
  X(void, walk, (uv_loop_t *, uv_walk_cb, void *))                           \
  X(int, backend_fd, (const uv_loop_t *))                                    \
  X(int, backend_timeout, (const uv_loop_t *))                               \
  X(void, close, (uv_handle_t *, uv_close_cb))                               \
  X(int, is_closing, (const uv_handle_t *))                                  \
  X(int, is_active, (const uv_handle_t *))                                   \
  X(void, ref, (uv_handle_t *))                                              \
  X(void, unref, (uv_handle_t *))                                            \
  X(int, timer_init, (uv_loop_t *, uv_timer_t *))                            \
  X(int, timer_start, (uv_timer_t *, uv_timer_cb, uint64_t, uint64_t))       \
  X(int, timer_stop, (uv_timer_t *))                                         \
  X(int, idle_init, (uv_loop_t *, uv_idle_t *))                              \
  X(int, idle_start, (uv_idle_t *, uv_idle_cb))                              \
  X(int, idle_stop, (uv_idle_t *))                                           \
  X(int, check_init, (uv_loop_t *, uv_check_t *))                            \
  X(int, check_start, (uv_check_t *, uv_check_cb))                           \
  X(int, check_stop, (uv_check_t *))                                         \
  X(int, async_init, (uv_loop_t *, uv_async_t *, uv_async_cb))               \
  X(int, async_send, (uv_async_t *))                                         \
  X(int, poll_init, (uv_loop_t *, uv_poll_t *, int))                         \
  X(int, poll_init_socket, (uv_loop_t *, uv_poll_t *, uv_os_sock_t))         \
  X(int, poll_start, (uv_poll_t *, int, uv_poll_cb))                         \
  X(int, poll_stop, (uv_poll_t *))                                           \
  X(int, queue_work, (uv_loop_t *, uv_work_t *, uv_work_cb,                  \
                      uv_after_work_cb))

typedef struct lgw__uv_api {
#define LGW__UV_FIELD(ret, name, args) ret(*name) args;
  LGW__UV_FUNCS(LGW__UV_FIELD)
#undef LGW__UV_FIELD
} lgw__uv_api_t;

extern lgw__uv_api_t lgw__uv;

/* Opens libuv, once per process (thread-safe). 0, or -1 with the reason,
 * naming the library, in lgw__uv_error(). */
int lgw__uv_load(void);
const char *lgw__uv_error(void);

#ifndef LGW__UV_DL_IMPL
#define uv_loop_init (lgw__uv.loop_init)
#define uv_loop_close (lgw__uv.loop_close)
#define uv_loop_alive (lgw__uv.loop_alive)
#define uv_run (lgw__uv.run)
#define uv_walk (lgw__uv.walk)
#define uv_backend_fd (lgw__uv.backend_fd)
#define uv_backend_timeout (lgw__uv.backend_timeout)
#define uv_close (lgw__uv.close)
#define uv_is_closing (lgw__uv.is_closing)
#define uv_is_active (lgw__uv.is_active)
#define uv_ref (lgw__uv.ref)
#define uv_unref (lgw__uv.unref)
#define uv_timer_init (lgw__uv.timer_init)
#define uv_timer_start (lgw__uv.timer_start)
#define uv_timer_stop (lgw__uv.timer_stop)
#define uv_idle_init (lgw__uv.idle_init)
#define uv_idle_start (lgw__uv.idle_start)
#define uv_idle_stop (lgw__uv.idle_stop)
#define uv_check_init (lgw__uv.check_init)
#define uv_check_start (lgw__uv.check_start)
#define uv_check_stop (lgw__uv.check_stop)
#define uv_async_init (lgw__uv.async_init)
#define uv_async_send (lgw__uv.async_send)
#define uv_poll_init (lgw__uv.poll_init)
#define uv_poll_init_socket (lgw__uv.poll_init_socket)
#define uv_poll_start (lgw__uv.poll_start)
#define uv_poll_stop (lgw__uv.poll_stop)
#define uv_queue_work (lgw__uv.queue_work)
#endif

#endif
