/*
 * lua_priv.h -- internals shared by the Lua binding files (lua_module.c,
 * lua_gateway.c, lua_task.c, lua_convert.c ...): the per-state module
 * record, the task scheduler and the conversions between
 * Lua values and the C core's types.
 */
#ifndef LGW_LUA_PRIV_H
#define LGW_LUA_PRIV_H

#include <lua.h>
#include <lauxlib.h>

#include "lua_compat.h"

#include "lgw_lua.h"
#include "list.h"
#include "llmgateway.h"

#if defined(__GNUC__)
#define LGWL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LGWL_PRINTF(a, b)
#endif

#define LGWL_MODULE "llmgateway.module"   /* registry key of the module */
#define LGWL_LOOP "llmgateway.loop"       /* registry key, lgw_lua_set_loop */
#define LGWL_ERROR "llmgateway.Error"     /* metatable names */
#define LGWL_RUNTIME "llmgateway.Runtime"
#define LGWL_GATEWAY "llmgateway.Gateway"
#define LGWL_TASK "llmgateway.Task"

typedef struct lgwL_task lgwL_task_t;
typedef struct lgwL_call lgwL_call_t;
typedef struct lgwL_gw lgwL_gw_t;
typedef struct lgwL_sleep lgwL_sleep_t;
typedef struct lgwL_logline lgwL_logline_t;
typedef struct lgwL_budget lgwL_budget_t;
typedef struct lgwL_op lgwL_op_t;
typedef struct lgwL_queue lgwL_queue_t;

/* The element of type T whose lgw_link_t field f is l, in the list at
 * head h; NULL at the end (l is h). LGWL_EACH walks the list with e. */
#define LGWL_AT(l, h, T, f) ((l) == (h) ? NULL : LGW_CONTAINER_OF(l, T, f))
#define LGWL_EACH(e, h, T, f)                                               \
  for ((e) = LGWL_AT((h)->next, h, T, f); (e);                              \
       (e) = LGWL_AT((e)->f.next, h, T, f))

/* A C observer of every event of every gateway of a module
 * (lgw_lua_set_event_hook); runs before the gateway's on_event function. */
typedef lgw_event_fn lgwL_event_hook_fn;

/* One per lua_State, a full userdata anchored in the registry. It is
 * created first, so at lua_close its __gc runs after every gateway's and
 * task's. */
typedef struct lgwL_module {
  lua_State *L;             /* main thread */
  struct uv_loop_s *loop;   /* the module's or the embedder's; NULL until
                             * first needed (lgwL_loop) and after __gc */
  struct uv_loop_s *shared; /* the embedder's (lgw_lua_set_loop), or NULL */
  int own_loop;             /* 1: created here, closed in __gc */
  int closed;               /* __gc has run: no loop any more */
  lgw_idle_t *idle;         /* drains the ready list */
  lgw_link_t ready;         /* tasks to resume, FIFO */
  lgwL_task_t *current;     /* task being resumed, NULL otherwise */
  lgwL_task_t *resuming;    /* task being started, resumed or finished
                               by lgwL_dispatch, NULL otherwise */
  int nomem;                /* lgwL_dispatch ran out of memory: the wait
                               running the loop (lgwL_run_once, step())
                               raises it */
  lua_State *from;          /* thread that entered the loop (lua_resume) */
  int depth;                /* >0 inside a loop run or a dispatch from here */
  int dispatching;          /* inside lgwL_dispatch */
  int nready;               /* length of the ready list */
  lgw_link_t held;          /* tasks not started, held back while the
                               gateways' queues are long (lua_task.c),
                               in spawn order */
  int nheld;                /* length of that list */
  int start_limit;          /* llm.set_start_limit: requests queued in
                               the gateways (beyond max_concurrent) at
                               which no new task starts; 0: no limit */
  int ntasks;               /* tasks spawned and not finished */
  int unobserved;           /* failed tasks whose error nobody took */
  int ngateways;            /* open gateways */
  int closing;              /* lua_close in progress: resume nothing */
  int interrupted;          /* SIGINT seen by the host */
  int host_signals;         /* the host handles SIGINT itself */
  volatile int sigint;      /* SIGINT during a synchronous wait */
  volatile int interrupting;/* lgwL_interrupt was called */
  lgw_async_t *wake;        /* wakes the loop from a signal handler */
  lua_State *volatile running;  /* thread running Lua code for us (a
                                   task or the callback thread), or NULL */
  lgw_link_t gateways;      /* open gateways (newest first), for
                               cancel-all */
  lgw_link_t calls;         /* outstanding call records, newest first */
  lgw_link_t loglines;      /* lines for llm.set_log's function, FIFO */
  int budget_pool_n;        /* free time-limit records kept (lua_task.c) */
  int co_pool_n;            /* coroutines of finished tasks kept for new
                               ones (lua_task.c) */
  int budget_pool_ref;      /* registry refs of those two lists, 0 until */
  int co_pool_ref;          /* made (lua_task.c) */
  int task_mt_ref;          /* registry ref of the task metatable (made
                               by lgwL_task_open) */
  int keys_ref;             /* registry ref of the result keys' table
                               (lua_convert.c), 0 until made */
  int nlog;                 /* length of that list */
  unsigned long log_dropped;/* lines lost because the list was full */
  int log_flushing;         /* inside lgwL_log_flush */
  lgw_link_t budgets;       /* time limits of running validators,
                               innermost first */
  int jit_paused;           /* LuaJIT's compiler is off for them */
  lua_State *cb;            /* thread on_delta and on_event run in */
  int cb_ref;               /* its registry anchor */
  lgwL_event_hook_fn event_hook;  /* NULL: none */
  void *event_hook_ud;
  lgw_link_t queues;        /* open queues (lua_queue.c), newest first */
  long batch_items;         /* batch items started (for an ETA) */
  long batch_done;          /* ... and finished */
  lgw_timer_t *tick;        /* lgw_lua_set_tick's timer, or NULL */
  lgw_lua_tick_fn tick_fn;  /* NULL: none */
  void *tick_ud;
} lgwL_module_t;

/* A gateway call's record: filled by the completion callback, consumed by
 * the waiting task's continuation (or by a synchronous wait). Owned by the
 * module's list until consumed; freed at module teardown otherwise. 72
 * bytes: one waits for every queued request of a task; what only a call
 * with on_delta or on_tool_delta needs is in its own record (x). */
typedef struct lgwL_result lgwL_result_t;
typedef struct lgwL_callx {
  lgwL_module_t *m;
  int delta_ref;            /* registry ref of on_delta, or LUA_NOREF */
  int tool_delta_ref;       /* registry ref of on_tool_delta, or
                               LUA_NOREF */
  double limit;             /* time limit of on_delta (seconds) */
  int cb_failed;            /* on_delta raised: request canceled */
  lgw_error_t *cb_err;      /* ... and why (code "callback"), or NULL */
  size_t delivered;         /* bytes handed to on_delta */
} lgwL_callx_t;
struct lgwL_call {
  lgw_link_t link;          /* in the module's calls */
  lgwL_task_t *task;        /* waiting task; NULL: synchronous or orphaned */
  lgw_gateway_t *gw;        /* NULL once the gateway was closed */
  uint64_t id;
  lgw_error_t *err;         /* why it failed (allocated then), or NULL */
  lgwL_result_t *res;       /* deep copy of the result, may be NULL */
  lgwL_callx_t *x;          /* the callbacks' part, or NULL: none */
  int status;               /* 0 or LGW_E* */
  unsigned char done;
  unsigned char form;       /* how the result is pushed: LGWL_PUSH_* */
};

/* Gateway userdata. */
struct lgwL_gw {
  lgw_gateway_t *gw;        /* NULL when closed */
  lgwL_module_t *m;
  lgw_link_t link;          /* in m->gateways while open */
  double validator_timeout; /* seconds; default LGWL_VALIDATOR_TIMEOUT */
  size_t max_concurrent;    /* its runtime's settings.max_concurrent */
  int event_ref;            /* registry ref of options.on_event, or
                               LUA_NOREF */
  double cost_total;        /* the engine's totals, kept at close */
  lgw_usage_t usage_total;
};

/* Default time limit of a validator (seconds of running time). */
#define LGWL_VALIDATOR_TIMEOUT 10.0

/* ---- module (lua_module.c) ------------------------------------------- */

/* The module record of L's state; raises when the module is not open. */
lgwL_module_t *lgwL_module(lua_State *L);
/* Same, NULL when not open (no error). */
lgwL_module_t *lgwL_module_peek(lua_State *L);
/* The module's loop, with its idle and wake-up handles, made at the first
 * need (a task, a sleep, a wait, a gateway, a queue, fd(), the host's
 * tick), not at require: lgwL_loop_open returns 0 when it is there, -1
 * when it cannot be (closed module, no memory); lgwL_loop raises then. */
int lgwL_loop_open(lgwL_module_t *m);
struct uv_loop_s *lgwL_loop(lua_State *L, lgwL_module_t *m);

/* Hands the log lines collected since the last call to the function of
 * llm.set_log, called in L (a running thread, never from inside the
 * engine). Errors of that function are ignored. Never raises: out of
 * memory, the lines wait for the next call. */
void lgwL_log_flush(lua_State *L, lgwL_module_t *m);

/* Callbacks from the engine (on_delta, on_event) run in the module's own
 * thread under pcall: never on a task's stack, never able to yield, and
 * unable to wait (the loop counts as running). lgwL_cb_run calls the
 * function of registry reference ref with the arguments push(L, data)
 * pushes (it returns their number); NULL when it returned (or the module
 * is closing), else the error text, copied into buf (size n). Calls
 * nest. */
typedef int (*lgwL_push_fn)(lua_State *L, const void *data);
/* limit: seconds of wall-clock time the function may run (raises
 * "time limit ... exceeded" after). */
const char *lgwL_cb_run(lgwL_module_t *m, int ref, double limit,
                        lgwL_push_fn push, const void *data, char *buf,
                        size_t n);

/* Module teardown of what lua_host.c keeps: the tick timer, the module
 * that signal handlers reach. */
void lgwL_host_teardown(lgwL_module_t *m);

/* ---- scheduler (lua_task.c) ------------------------------------------ */

void lgwL_task_open(lua_State *L);  /* the Task metatable */
/* Registers spawn, sleep, run, _is_task in the table on top. */
void lgwL_task_register(lua_State *L);
/* Spawn: function and nargs arguments on top of L are moved into a new
 * task; pushes the task userdata. */
lgwL_task_t *lgwL_spawn(lua_State *L, lgwL_module_t *m, int nargs);
/* The task L is running in, when it is managed and may yield; else NULL. */
lgwL_task_t *lgwL_current(lgwL_module_t *m, lua_State *L);
/* Queue a blocked task for resumption from the loop. */
void lgwL_ready(lgwL_task_t *t);
/* Block the current task t on something; the caller then yields. */
void lgwL_block_call(lgwL_task_t *t, lgwL_call_t *c);
/* Any other operation a task can wait for (queue operations): whoever
 * completes it calls lgwL_ready(task) when task is not NULL. cancel (may
 * be NULL) runs when the waiting task is canceled and must complete the
 * operation soon; task becomes NULL when the task is dropped at
 * lua_close. */
struct lgwL_op {
  lgwL_task_t *task;
  void (*cancel)(lgwL_op_t *op);
};
void lgwL_block_op(lgwL_task_t *t, lgwL_op_t *op);
int lgwL_task_canceled(const lgwL_task_t *t);
lgwL_module_t *lgwL_task_module(const lgwL_task_t *t);
/* Run the loop once for a synchronous wait in L (not a managed task);
 * raises when that would re-enter the loop. Returns 0 when nothing is
 * left that could ever wake anyone (no active handles, no ready task),
 * -1 when the wait must end (SIGINT in plain Lua, or the time limit of a
 * call running in L is spent, or m->nomem): the caller then releases
 * what it waits for and calls lgwL_stop_error. */
int lgwL_run_once(lua_State *L, lgwL_module_t *m);
/* Raises the error that ended a wait: "not enough memory" (m->nomem),
 * the time limit's, or "interrupted!". */
int lgwL_stop_error(lua_State *L, lgwL_module_t *m);
/* Raises when a time limit of a call running in L is spent. */
void lgwL_check_budget(lua_State *L, lgwL_module_t *m);
/* lua_pcall of the function below nargs arguments on L (which must not
 * yield) with a limit of secs of wall-clock time; an error object with
 * __tostring is converted within the limit. The error of an exceeded
 * limit names the source:line of the function at stack index named. */
int lgwL_pcall_limited(lua_State *L, lgwL_module_t *m, double secs,
                       int named, int nargs, int nres);
/* Async-signal-safe (lua.c's technique): the thread running Lua code for
 * the module, the main thread and the callback thread raise
 * "interrupted!" at their next instruction. lgwL_interrupt_clear removes
 * that hook from the main and callback threads. */
void lgwL_interrupt(lgwL_module_t *m);
/* Replaces the global xpcall with one whose message handler does not
 * run for those errors (Lua runs it with hooks off). */
void lgwL_guard_xpcall(lua_State *L);
void lgwL_interrupt_clear(lgwL_module_t *m);
/* Raises unless L may wait synchronously (the loop is not running). */
void lgwL_check_block(lua_State *L, lgwL_module_t *m);
/* Resume every ready task (also runs from the idle handle). */
void lgwL_dispatch(lgwL_module_t *m);
/* Drive the loop until every task has finished, or main (may be NULL)
 * has failed. Returns 0, or 1 when interrupted (m->interrupted), 2 when a
 * wait ended as lgwL_run_once's -1 says, or -1 when tasks remain that
 * nothing can wake or the loop ran out of memory (an error message is
 * pushed then). */
int lgwL_run_all(lua_State *L, lgwL_module_t *m, lgwL_task_t *main);
/* Task results for the host: pushes the error message with traceback of a
 * failed task (marking it observed) and returns 1, or returns 0. */
int lgwL_task_failure(lua_State *L, int idx);
/* Time limits: a limit of thread co applies to the other threads it runs
 * (nested coroutines) only between lgwL_budget_run(m, co) and
 * lgwL_budget_pause(m, co). */
void lgwL_budget_run(lgwL_module_t *m, lua_State *co);
void lgwL_budget_pause(lgwL_module_t *m, lua_State *co);
/* Called when the module is torn down: detach the scheduler. */
void lgwL_task_teardown(lgwL_module_t *m);
/* The default of llm.set_start_limit. */
#define LGWL_START_LIMIT 256
/* A gateway request of the module ended (or a gateway closed): tasks
 * held back from starting may start now (the loop's next turn). */
void lgwL_admit_wake(lgwL_module_t *m);

/* ---- gateways (lua_gateway.c) ---------------------------------------- */

void lgwL_gateway_open(lua_State *L);  /* Runtime and Gateway metatables */
/* Registers Gateway, load_runtime_spec, runtime_spec_from_dict,
 * dump_runtime_spec in the table on top. */
void lgwL_gateway_register(lua_State *L);
/* Cancel every request of every open gateway (SIGINT). */
void lgwL_cancel_all(lgwL_module_t *m);
/* Requests of the module's open gateways beyond each one's
 * max_concurrent (those waiting for a slot, a rate limit or a retry's
 * delay), counted up to stop at most. */
size_t lgwL_gateway_backlog(lgwL_module_t *m, size_t stop);
/* Free a call record (unlinks it from the module's list). */
void lgwL_call_free(lgwL_call_t *c);
/* Deliver a cancellation to a call of a canceled task. */
void lgwL_call_cancel(lgwL_call_t *c);

/* ---- conversions (lua_convert.c) ------------------------------------- */

/* Error table with metatable llmgateway.Error: {code, message, status,
 * attempts}. res (may be NULL) supplies the attempts. Pushes it. */
void lgwL_push_error(lua_State *L, const lgw_error_t *err,
                     const lgwL_result_t *res);
/* Pushes nil and an error table; returns 2 (for "return nil, err"). */
int lgwL_fail(lua_State *L, const lgw_error_t *err);
int lgwL_failf(lua_State *L, int code, const char *fmt, ...)
    LGWL_PRINTF(3, 4);

/* Deep copy of a borrowed result (NULL on allocation failure). text_only:
 * only the text, usage, cost and their totals, enough for the
 * LGWL_PUSH_TEXT and LGWL_PUSH_TOTALS forms. */
lgwL_result_t *lgwL_result_copy(const lgw_result_t *r, int text_only);
void lgwL_result_free(lgwL_result_t *r);
/* Forms of a pushed result: the full table, just the text (run_task),
 * or the values text, usage, cost, cost_total, then the four counts of
 * usage_total with unknown counts as 0 (the Lua front's validation-retry
 * loop, which reads nothing else). */
#define LGWL_PUSH_FULL 0
#define LGWL_PUSH_TEXT 1
#define LGWL_PUSH_TOTALS 2
#define LGWL_PUSH_EMBED 3   /* an embeddings result (lgwL_embed_copy) */
/* Pushes the result in form (an LGWL_PUSH_* value); returns the number of
 * values pushed. m: L's module record (its keys_ref), or NULL. */
int lgwL_push_result(lua_State *L, lgwL_module_t *m, const lgwL_result_t *r,
                     int form);
/* Pushes the first n bytes of the streamed text of r (its text, or the
 * partial text of a failure); nil when r is NULL. */
void lgwL_push_streamed(lua_State *L, const lgwL_result_t *r, size_t n);
/* Pushes an event as a table {type=, request_id=, task=, ...}. */
void lgwL_push_event(lua_State *L, const lgw_event_t *ev);
/* Pushes a usage table; counts below 0 are left out (nil). */
void lgwL_push_usage(lua_State *L, const lgw_usage_t *u);

/* Requests read from Lua: strings are borrowed from Lua values that stay
 * reachable from the arguments; the message array is a userdata pushed on
 * the stack. An on_delta function (overrides or request field) is left
 * at delta[0] (stack index, 0 when none), an on_tool_delta function at
 * delta[1]; the caller sets req.on_delta and req.on_tool_delta. */
/* run_task form: task at ti, messages at mi, optional overrides table at
 * oi (0: none). Raises argument errors. Pushes three values (the
 * request's memory -- nil when it needs none --, on_delta or nil,
 * on_tool_delta or nil). scratch: LGWL_SCRATCH_MESSAGES messages. */
void lgwL_check_task_args(lua_State *L, int ti, int mi, int oi,
                          lgw_request_t *out, int delta[2],
                          lgw_message_t *scratch);
/* Deep copy of an embeddings result, pushed in form LGWL_PUSH_EMBED
 * (and as the attempts and totals of an error); NULL: out of memory. */
lgwL_result_t *lgwL_embed_copy(const lgw_embed_result_t *r);
/* call form: request table at idx. Pushes three values, as above. */
void lgwL_check_request(lua_State *L, int idx, lgw_request_t *out,
                        int delta[2], lgw_message_t *scratch);
/* A round of the validation loop without a request table: the messages
 * list at mi (errors name argument arg and "messages[i]" as in a
 * request). Pushes the request's memory (nil when it needs none). */
void lgwL_check_messages(lua_State *L, int arg, int mi, lgw_request_t *out,
                         lgw_message_t *scratch);
/* Plain messages that fit the caller's scratch array (on its C stack,
 * alive until the submit, which copies them) take no Lua memory. */
#define LGWL_SCRATCH_MESSAGES 8

/* ---- helpers (lua_util.c) -------------------------------------------- */

/* On the library's allocator: free with lgw_free. NULL when out of
 * memory (or s is NULL). */
void *lgwL_calloc(size_t n, size_t size);
char *lgwL_strdup(const char *s);
char *lgwL_strndup(const char *s, size_t n);
/* Growable byte buffer, NUL-terminated when data != NULL. */
typedef struct lgwL_buf {
  char *data;
  size_t len, cap;
} lgwL_buf_t;
void lgwL_buf_init(lgwL_buf_t *b);
void lgwL_buf_free(lgwL_buf_t *b);
int lgwL_buf_add(lgwL_buf_t *b, const void *p, size_t n);
int lgwL_buf_adds(lgwL_buf_t *b, const char *s);
int lgwL_buf_addc(lgwL_buf_t *b, char c);
int lgwL_buf_printf(lgwL_buf_t *b, const char *fmt, ...) LGWL_PRINTF(2, 3);
/* The data (lgw_free); "" for an empty buffer; b is reset. */
char *lgwL_buf_steal(lgwL_buf_t *b);

/* Lua value -> value tree (tables become objects with sorted keys, or
 * arrays when keys are exactly 1..n; llm.null -> null). Returns 0 or
 * LGW_ECONFIG with err naming the key path (unsupported values, cycles)
 * or LGW_ENOMEM. */
int lgwL_to_value(lua_State *L, int idx, lgw_value_t **out, lgw_error_t *err);
/* Value tree -> Lua value (NULL and null values -> llm.null). */
void lgwL_push_value(lua_State *L, const lgw_value_t *n);
/* Push the Lua value of v, or the len bytes at text, and free it
 * (lgw_value_free, lgw_free) also when Lua runs out of memory, whose
 * error is raised then. Return 1. */
int lgwL_push_value_free(lua_State *L, lgw_value_t *v);
int lgwL_push_text_free(lua_State *L, char *text, size_t len);
/* The llm.null sentinel. */
#define lgwL_push_null(L) lua_pushlightuserdata((L), NULL)
int lgwL_is_null(lua_State *L, int idx);

/* JSON arrays in Lua: parse_json gives every array a table with the
 * metatable registry[LGWL_ARRAY] (llm.array_mt), so that an empty one
 * encodes as [] again; llm.empty_array is a light userdata sentinel. */
#define LGWL_ARRAY "llmgateway.array"
void lgwL_push_empty_array(lua_State *L);

/* Lua value at idx -> JSON text (*out owned by the caller, lgw_free).
 * Tables with llm.array_mt are arrays (items 1..#t); other tables whose
 * keys are exactly 1..n (n >= 1) become arrays, others objects (string or
 * integer keys, in byte order; an empty table is {}); llm.null is null,
 * llm.empty_array []; integers print exactly, floats in the shortest
 * form that reads back to the same number.
 * LGW_EINVAL with err (not NULL) naming the path for functions,
 * userdata, non-finite numbers, other keys, nesting deeper than 200
 * (cycles); LGW_ENOMEM. */
int lgwL_to_json(lua_State *L, int idx, char **out, size_t *len,
                 lgw_error_t *err);
/* Strict JSON text -> pushes the Lua value (as parse_json) and returns
 * 1; returns 0 with nothing pushed when text is not one JSON value. */
int lgwL_push_json_text(lua_State *L, const char *text, size_t len);
/* Text that is exactly one standard JSON value (JSON whitespace around
 * it) -> pushes the Lua value as parse_json and returns 1; returns 0 with
 * nothing pushed for anything else (NaN, fences, prose, errors...), for
 * the general path to answer. Raises only memory errors. */
int lgwL_decode_json(lua_State *L, const char *text, size_t len);
/* lua_pcall(f, ud) with nresults; when size >= LGWL_NOGC_MIN (the bytes
 * of data f turns into new Lua objects, all live) and the collector is
 * running (Lua 5.2+ and LuaJIT: 5.1 cannot tell), it is stopped for the
 * call and restarted on every exit, error included. Returns the status. */
#define LGWL_NOGC_MIN 4096
int lgwL_pcall_nogc(lua_State *L, lua_CFunction f, void *ud, int nresults,
                    size_t size);

/* ---- host loops (lua_drive.c) ---------------------------------------- */

/* Registers fd, timeout, step in the table on top. */
void lgwL_drive_register(lua_State *L);

/* ---- queues (lua_queue.c) -------------------------------------------- */

void lgwL_queue_open(lua_State *L);      /* Queue and Job metatables */
/* Registers queue and _queue_methods in the table on top. */
void lgwL_queue_register(lua_State *L);
/* Stop consuming on every open queue of the module (the worker host's
 * SIGTERM): jobs in hand still finish. Returns the number stopped. */
int lgwL_queue_stop_all(lgwL_module_t *m);
/* Close every open queue (module teardown). */
void lgwL_queue_teardown(lgwL_module_t *m);
/* For the worker host's progress line: the counters of the first
 * consuming queue, as last read (a new reading is started each call),
 * and this process's own counts. 0 when no queue is consuming. */
typedef lgw_lua_queue_progress_t lgwL_queue_progress_t;
int lgwL_queue_progress(lgwL_module_t *m, lgwL_queue_progress_t *out);

/* luaL_typeerror with a path inside the argument: "bad argument #2 to
 * 'run_task' (messages[1].content: string expected, got nil)". */
int lgwL_argerror_path(lua_State *L, int arg, const char *path,
                       const char *expected, int idx);
/* The same, showing a number's value instead of its type: "deadline:
 * non-negative number expected, got -1". */
int lgwL_argerror_value(lua_State *L, int arg, const char *path,
                        const char *expected, int idx);
/* Raises "bad argument #arg to 'f' (unknown key 'modle', did you mean
 * 'model'?)" for the first string key of the table at idx that is not in
 * known (NULL-terminated); prefix (may be "") goes before the key. Other
 * keys (numbers, ...) are left alone. */
void lgwL_check_keys(lua_State *L, int arg, int idx, const char *prefix,
                     const char *const known[]);

#endif
