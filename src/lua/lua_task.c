/*
 * lua_task.c -- the coroutine scheduler. Tasks are coroutines the module
 * manages (spawn, run, the host's main chunk, batch items). A task that
 * waits -- for a gateway call, a sleep or another task -- yields; whatever
 * it waited for queues it on the ready list, and the list is drained from
 * the loop (an idle handle, or lgw_lua_step), never from inside a libcurl
 * callback. Code outside a task waits by running the loop one iteration at
 * a time until its own condition holds, while tasks progress.
 */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "lua_priv.h"

/* Seconds a failed task's error object may take to become text. */
#define TOSTRING_LIMIT 1.0

enum { T_NEW, T_READY, T_RUNNING, T_BLOCKED, T_DONE, T_FAILED };
enum { W_NONE, W_CALL, W_SLEEP, W_TASK, W_OP };

struct lgwL_sleep {
  lgw_timer_t *timer;
  lgwL_task_t *task;    /* sleeping task, or NULL */
  int *fired;           /* flag of a synchronous sleeper, or NULL */
};

/* A task is one full userdata with one user value, which holds in turn:
 * its function (spawned without arguments, not started: no coroutine
 * yet), its coroutine (started, or spawned with arguments, which wait on
 * its stack), then its results (nothing for none, the value itself for
 * one, a list for more) or, failed, {error value, message}. A finished
 * task keeps no coroutine.
 * Before 5.3 a user value is a table (a userdata's environment in 5.1 and
 * LuaJIT): there an unfinished task's function or coroutine is a registry
 * slot instead (vref), and the table is made only when it finishes. */
#if LUA_VERSION_NUM < 503
#define BODY_REF 1
#else
#define BODY_REF 0
#endif

struct lgwL_task {
  lgwL_module_t *m;
  lua_State *co;        /* its coroutine (the user value), or NULL */
  int ref;              /* registry anchor while unfinished */
  int n;                /* not started: its arguments on co's stack;
                           blocked or ready after a pending continuation:
                           that continuation's values on co's stack;
                           finished: its number of results */
  unsigned state : 3;   /* T_* */
  unsigned wait : 3;    /* W_* while blocked */
  unsigned observed : 1;   /* result or error handed to someone */
  unsigned canceled : 1;
  unsigned queued : 2;  /* Q_READY: on the ready list; Q_HELD: on the
                           held list (not started, held back) */
  unsigned nohold : 1;  /* not started, but never held back: the main
                           task, or a task something waits for */
  unsigned finishing : 2;  /* its coroutine ended (F_RETURNED: its results
                              on co's stack, t->n of them; F_RAISED: its
                              error on top) and finish() has not run whole
                              (out of memory): the next round runs it */
#if BODY_REF
  int vref;             /* unfinished: registry slot of the user value */
#endif
  union {               /* what it waits for (by wait) */
    lgwL_call_t *call;
    lgwL_sleep_t *sleep;
    lgwL_op_t *op;
    lgwL_task_t *awaited;
  } w;
  lgwL_task_t *waiters; /* tasks blocked in wait() on this one */
  union {               /* (64 bytes in all: 120 with its userdata) */
    lgw_link_t ready;   /* in m->ready (or m->held) while queued */
    lgwL_task_t *wnext; /* while blocked in wait(), never queued then:
                           the next of the awaited task's waiters */
  } q;
};

#define FINISHED(t) ((t)->state == T_DONE || (t)->state == T_FAILED)

enum { Q_NONE, Q_READY, Q_HELD };
enum { F_NONE, F_RETURNED, F_RAISED };

static const char *const state_names[] = {
  "pending", "ready", "running", "waiting", "done", "failed"
};

static lgwL_budget_t *expired_budget(lgwL_module_t *m);
static void budget_hold(lgwL_module_t *m, int hold);
static int sigint_catch(lgwL_module_t *m);
static void sigint_release(void);
static void wait_begin(lgwL_module_t *m);
static void wait_end(lgwL_module_t *m);
static void wait_done(lgwL_module_t *m);
/* The module whose wait holds SIGINT over its loop steps, or NULL. */
static lgwL_module_t *sig_scope;

/* ===== Ready list ======================================================= */

static void unqueue(lgwL_task_t *t) {
  lgwL_module_t *m = t->m;
  if (!t->queued) return;
  lgw_list_remove(&t->q.ready);
  if (t->queued == Q_HELD) m->nheld--;
  else m->nready--;
  t->queued = Q_NONE;
}

/* ===== Starting as the gateways' queues drain ===========================
 *
 * A task not yet started costs about 200 bytes; a started one waiting in
 * a gateway's queue for a max_concurrent slot costs its coroutine, its
 * stack and its frames (about 1.5 KB). While the module's open gateways
 * have at least m->start_limit requests beyond their max_concurrent
 * (llm.set_start_limit), a task about to start is held back instead, on
 * the held list, and so is every task after it (spawn order is kept):
 * they start, oldest first, as those requests end -- at the end of each
 * round of the ready list, after the tasks resumed by the completions
 * (whose coroutines, returned, the held tasks then reuse). The count is
 * read again before each start, so a held task that calls the gateway
 * at once raises it before the next one starts. A task that is waited
 * for (task:wait, llm.run) is never held, so that a waiter cannot wait
 * behind the queue; neither is one resumed after its start. Nothing else
 * depends on the held tasks: the requests counted end by themselves
 * (answer, timeout, cancel, or their gateway's close), and each ending
 * wakes the loop (a task made ready, or lgwL_admit_wake). */

/* New tasks are held back now. */
static int held_back(lgwL_module_t *m) {
  size_t lim = (size_t)m->start_limit;
  return lim > 0 && m->ngateways > 0 && lgwL_gateway_backlog(m, lim) >= lim;
}

static void hold(lgwL_task_t *t) {
  lgwL_module_t *m = t->m;
  lgw_list_push_back(&m->held, &t->q.ready);
  t->queued = Q_HELD;
  m->nheld++;
  /* the next round decides whether it can start already */
  lgw_idle_start(m->idle);
}

void lgwL_admit_wake(lgwL_module_t *m) {
  if (m->nheld > 0 && m->idle && !m->closing) lgw_idle_start(m->idle);
}

static void resume(lgwL_module_t *m, lgwL_task_t *t);

/* Starts held tasks, oldest first, while the queues allow. */
static void admit(lgwL_module_t *m) {
  while (m->nheld > 0 && !m->closing && !held_back(m)) {
    lgwL_task_t *t = LGW_CONTAINER_OF(m->held.next, lgwL_task_t, q.ready);
    unqueue(t);
    resume(m, t);
  }
}

/* Task t, not started, is waited for: it is no longer held back. */
static void prefer(lgwL_task_t *t) {
  if (t->state != T_NEW) return;
  t->nohold = 1;
  if (t->queued == Q_HELD) {
    unqueue(t);
    lgwL_ready(t);
  }
}

/* A sleep record and its timer (which calls nothing any more). */
static void sleep_free(lgwL_sleep_t *s) {
  lgw_timer_free(s->timer);
  lgw_free(s);
}

void lgwL_ready(lgwL_task_t *t) {
  lgwL_module_t *m = t->m;
  t->wait = W_NONE;
  t->w.call = NULL;
  if (t->queued || FINISHED(t) || m->closing) return;
  if (t->state != T_NEW) {
    t->state = T_READY;
  } else if (m->nheld > 0 && !t->nohold) {
    hold(t);  /* behind the tasks held before it */
    return;
  }
  lgw_list_push_back(&m->ready, &t->q.ready);
  t->queued = Q_READY;
  m->nready++;
  lgw_idle_start(m->idle);
}

void lgwL_block_call(lgwL_task_t *t, lgwL_call_t *c) {
  t->state = T_BLOCKED;
  t->wait = W_CALL;
  t->w.call = c;
}

void lgwL_block_op(lgwL_task_t *t, lgwL_op_t *op) {
  t->state = T_BLOCKED;
  t->wait = W_OP;
  t->w.op = op;
  op->task = t;
}

int lgwL_task_canceled(const lgwL_task_t *t) { return t->canceled; }

lgwL_module_t *lgwL_task_module(const lgwL_task_t *t) { return t->m; }

lgwL_task_t *lgwL_current(lgwL_module_t *m, lua_State *L) {
  if (m->current && (m->current->co == L || lgwL_adopted(L)) &&
      lua_isyieldable(L))
    return m->current;
  return NULL;
}

/* ===== Finishing ======================================================== */

/* Someone took the task's result or error. */
static void observe(lgwL_task_t *t) {
  if (t->observed) return;
  t->observed = 1;
  if (t->state == T_FAILED && !t->canceled) t->m->unobserved--;
}

/* Unanchors a finished task and wakes its waiters in arrival order. */
static void settle(lgwL_task_t *t) {
  lgwL_module_t *m = t->m;
  lgwL_task_t *w = t->waiters, *rev = NULL;
  luaL_unref(m->L, LUA_REGISTRYINDEX, t->ref);
  t->ref = LUA_NOREF;
  m->ntasks--;
  t->waiters = NULL;
  while (w) {
    lgwL_task_t *next = w->q.wnext;
    w->q.wnext = rev;
    rev = w;
    w = next;
  }
  for (w = rev; w; w = rev) {
    rev = w->q.wnext;
    w->q.wnext = NULL;
    lgwL_ready(w);
  }
}

/* lua.c's msghandler: the message of any error value. */
static int error_text(lua_State *L) {
  if (lua_type(L, 1) == LUA_TSTRING) return 1;
  if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
    return 1;
  lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  return 1;
}

/* ===== Coroutines of finished tasks ===================================== */

/* A task that returned leaves its coroutine as new: no frame, nothing on
 * its stack (the results moved to the task), no hook. Up to CO_POOL_MAX of
 * them are kept (a registry list) for the next tasks to start: a start
 * then costs no new coroutine, and the stack it grew is already there.
 * Not with LuaJIT (whose lua_resume of a finished coroutine is not that
 * of a new one) nor when the module is closing. */
#define CO_POOL_MAX 32

/* Pushes the registry table at *ref (made on first use): an integer key,
 * cheaper to look up than a light userdata one. */
static void push_pool(lua_State *L, int *ref, int size) {
  if (*ref > 0) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, *ref);
    return;
  }
  lua_createtable(L, size, 0);
  lua_pushvalue(L, -1);
  *ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

static void push_co_pool(lua_State *L, lgwL_module_t *m) {
  push_pool(L, &m->co_pool_ref, CO_POOL_MAX);
}

/* Pushes a coroutine for a new task: a kept one, or a new one. */
static lua_State *co_take(lua_State *L, lgwL_module_t *m) {
  lua_State *co;
  if (m->co_pool_n > 0) {
    push_co_pool(L, m);
    lua_rawgeti(L, -1, m->co_pool_n);
    lua_pushnil(L);
    lua_rawseti(L, -3, m->co_pool_n);
    m->co_pool_n--;
    lua_remove(L, -2);
    co = lua_tothread(L, -1);
    if (co) return co;
    lua_pop(L, 1);
  }
  return lua_newthread(L);
}

/* Keeps the coroutine co of a task that returned, when it is clean; co
 * is on top of L (popped). */
static void co_give(lua_State *L, lgwL_module_t *m, lua_State *co) {
#if LGWL_LUAJIT
  (void)m, (void)co;
#else
  int clean = lua_gettop(co) == 0 && lua_status(co) == LUA_OK;
  if (clean && !m->closing && m->co_pool_n < CO_POOL_MAX &&
      lua_gethook(co) == NULL) {
    push_co_pool(L, m);
    lua_insert(L, -2);
    lua_rawseti(L, -2, ++m->co_pool_n);
  } else if (clean && LUA_VERSION_NUM >= 504) {
    /* Not kept: until the collector frees it, its stack (grown to 85
     * slots by a gateway call's frames) would sit in the heap as
     * garbage; a reset shrinks it to the minimum at once. */
    lgwL_closethread(co, L);
  }
#endif
  lua_pop(L, 1);
}

/* The value on top of L (popped) becomes the user value of task t, at
 * idx, as it finishes. BODY_REF: it goes into the empty table at body,
 * which the caller made before it changed anything (out of memory there,
 * nothing is lost). */
static void body_final(lua_State *L, lgwL_task_t *t, int idx, int body) {
#if BODY_REF
  idx = lua_absindex(L, idx);
  lua_rawseti(L, body, 1);
  lua_pushvalue(L, body);
  lgwL_setuvtable(L, idx);
  luaL_unref(L, LUA_REGISTRYINDEX, t->vref);
  t->vref = LUA_NOREF;
#else
  (void)t;
  (void)body;
  lua_setiuservalue(L, idx, 1);
#endif
}

/* Replaces the user value of task t by the value on top of L (popped). */
static void set_body(lua_State *L, lgwL_task_t *t, int body) {
  lua_checkstack(L, 3);
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
  lua_insert(L, -2);
  body_final(L, t, -2, body);
  lua_pop(L, 1);
}

/* stack of co: nres results (LUA_OK) or the error value. The task's user
 * value becomes its results (or its failure) instead of co. */
static void finish(lgwL_module_t *m, lgwL_task_t *t, int st, int nres) {
  lua_State *co = t->co, *L = m->L;
  int i, body = 0;
  lua_checkstack(L, 7);
#if BODY_REF
  lua_createtable(L, 1, 0);
  body = lua_gettop(L);
#endif
  if (st == LUA_OK) {
    t->n = nres;
    if (nres == 0) {
      lua_pushnil(L);
    } else if (nres == 1) {
      lua_xmove(co, L, 1);
    } else {
      lua_checkstack(co, 2);
      lua_createtable(co, nres, 0);
      lua_insert(co, -(nres + 1));
      for (i = nres; i >= 1; i--) lua_rawseti(co, -(i + 1), i);
      lua_xmove(co, L, 1);
    }
    t->state = T_DONE;
    t->finishing = F_NONE;
  } else {
    /* stack of L: {error, message} */
    lua_createtable(L, 2, 0);
    lua_pushvalue(co, -1);
    lua_xmove(co, L, 1);
    lua_pushvalue(L, -1);
    lua_rawseti(L, -3, 1);
    lua_pushcfunction(L, error_text);
    lua_insert(L, -2);
    if (lgwL_pcall_limited(L, m, TOSTRING_LIMIT, -2, 1, 1) != LUA_OK ||
        !lua_isstring(L, -1)) {
      lua_pop(L, 1);
      lua_pushliteral(L, "(error object cannot be converted)");
    }
    luaL_traceback(L, co, lua_tostring(L, -1), 0);
    lua_rawseti(L, -3, 2);
    lua_pop(L, 1);
    t->state = T_FAILED;
    t->finishing = F_NONE;
    if (!t->canceled && !t->observed) m->unobserved++;
    /* Close the dead coroutine's pending to-be-closed variables. */
    lgwL_closethread(co, L);
  }
  if (st == LUA_OK) {
    /* co stays on L's stack (below its results) until it is kept */
    lua_pushthread(co);
    lua_xmove(co, L, 1);
    lua_insert(L, -2);
  }
  set_body(L, t, body);  /* the task no longer references co */
  t->co = NULL;
  settle(t);  /* (before co_give, which may run out of memory) */
  if (st == LUA_OK) co_give(L, m, co);
#if BODY_REF
  lua_remove(L, body);
#endif
}

/* A task spawned without arguments (by a thread without a hook) gets its
 * coroutine when it starts:
 * its function moves from the user value onto a new coroutine, which
 * becomes the user value. */
static void start(lgwL_module_t *m, lgwL_task_t *t) {
  lua_State *L = m->L, *co;
  lua_checkstack(L, 3);
#if BODY_REF
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->vref);
#else
  lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
  lua_getiuservalue(L, -1, 1);
#endif
  co = co_take(L, m);
#if !LGWL_LUAJIT
  /* as one made at the spawn, by a thread without a hook (a hooked one
   * makes it then), but m->L may have one now */
  if (lua_gethook(co) != NULL) lua_sethook(co, NULL, 0, 0);
#endif
  lua_insert(L, -2);
  lua_xmove(L, co, 1);
#if BODY_REF
  lua_rawseti(L, LUA_REGISTRYINDEX, t->vref);
#else
  lua_setiuservalue(L, -2, 1);
  lua_pop(L, 1);
#endif
  t->co = co;
  t->n = 0;
}

/* ===== Dispatch ========================================================= */

static void resume(lgwL_module_t *m, lgwL_task_t *t) {
  lgwL_task_t *prev = m->current;
  int nargs, nres = 0, st;
  lua_State *prev_running = m->running;
  m->resuming = t;
  if (t->finishing) {  /* ran out of memory in finish() last time */
    finish(m, t, t->finishing == F_RETURNED ? LUA_OK : LUA_ERRRUN, t->n);
    m->resuming = NULL;
    return;
  }
  if (t->state == T_NEW && !t->co) start(m, t);
  nargs = t->n;  /* its arguments, or the continuation's values */
  t->n = 0;
  t->state = T_RUNNING;
  m->current = t;
  m->running = t->co;
  m->depth++;
  lgwL_budget_run(m, t->co);
  st = lgwL_resume(t->co, m->from, nargs, &nres);
  lgwL_budget_pause(m, t->co);
  m->depth--;
  m->current = prev;
  m->running = prev_running;
  m->resuming = NULL;
  if (st == LUA_YIELD && lgwL_is_pending(t->co, nres)) {
    t->n = nres;  /* resumed with the same values */
    return;
  }
  if (st == LUA_YIELD) {
    lua_pop(t->co, nres);
    /* A plain coroutine.yield() in a task: run it again next round. */
    if (t->state == T_RUNNING) lgwL_ready(t);
    return;
  }
  t->finishing = st == LUA_OK ? F_RETURNED : F_RAISED;
  t->n = nres;
  m->resuming = t;
  finish(m, t, st, nres);
  m->resuming = NULL;
}

/* Under lua_pcall in m->L: a round of the ready list. */
static int dispatch_p(lua_State *L) {
  lgwL_module_t *m = lua_touserdata(L, 1);
  int n;
  /* Only what was ready when the round began: a task that yields again
   * at once (sleep(0)) runs next round, after the loop polled for I/O. */
  for (n = m->nready; n > 0 && !lgw_list_empty(&m->ready); n--) {
    lgwL_task_t *t = LGW_CONTAINER_OF(m->ready.next, lgwL_task_t, q.ready);
    unqueue(t);
    if (t->state == T_NEW && !t->nohold && (m->nheld > 0 || held_back(m)))
      hold(t);
    else
      resume(m, t);
  }
  admit(m);
  return 0;
}

/* The round ran out of memory (in m->L, never in a task, whose errors
 * its coroutine keeps) starting or finishing a task: that task goes
 * first in the ready list again, to start or finish next round, and the
 * wait that runs the loop raises the error. */
static void dispatch_failed(lgwL_module_t *m) {
  lgwL_task_t *t = m->resuming;
  m->resuming = NULL;
  m->nomem = 1;
  if (!t || FINISHED(t) || t->queued) return;
  if (t->state != T_NEW) t->state = T_READY;
  lgw_list_push_front(&m->ready, &t->q.ready);
  t->queued = Q_READY;
  m->nready++;
}

void lgwL_dispatch(lgwL_module_t *m) {
  lua_State *L = m->L;
  if (m->closing || m->dispatching) return;
  m->dispatching = 1;
  /* A Lua error here would unwind through the loop's own frames. */
  if (!lua_checkstack(L, 2)) {
    dispatch_failed(m);
  } else if (lgwL_pcall_nogc(L, dispatch_p, m, 0, 0) != LUA_OK) {
    lua_pop(L, 1);
    dispatch_failed(m);
  }
  m->dispatching = 0;
  if (lgw_list_empty(&m->ready) && !m->closing) lgw_idle_stop(m->idle);
}

void lgwL_check_block(lua_State *L, lgwL_module_t *m) {
  if (m->closing) luaL_error(L, "llmgateway is shutting down");
  if (m->depth > 0)
    luaL_error(L, "cannot wait here: the event loop is already running "
               "(wait from a task's own coroutine -- llmgateway.spawn -- "
               "not from a nested coroutine, metamethod or C callback)");
}

int lgwL_run_once(lua_State *L, lgwL_module_t *m) {
  lua_State *from = m->from;
  int caught;
  if (m->closing || m->depth > 0) {
    wait_end(m);
    lgwL_check_block(L, m);
  }
  lgwL_loop(L, m);
  if (m->nheld > 0 && !held_back(m)) lgw_idle_start(m->idle);
  m->depth++;
  m->from = L;
  budget_hold(m, 1);
  caught = sigint_catch(m);  /* none in a wait that holds it already */
  m->nomem = 0;  /* (one left by a run of an embedder's loop is past) */
  lgw_loop_run(m->loop, LGW_RUN_ONCE);
  if (caught) sigint_release();
  m->depth--;
  m->from = from;
  budget_hold(m, 0);
  if (sig_scope == m &&
      (!lgw_list_empty(&m->loglines) || m->log_dropped)) {
    /* set_log's function runs with the handler from before the wait */
    wait_end(m);
    lgwL_log_flush(L, m);
    wait_begin(m);
  } else {
    lgwL_log_flush(L, m);
  }
  if (m->sigint || m->nomem || expired_budget(m)) return -1;
  return lgw_loop_alive(m->loop) || !lgw_list_empty(&m->ready) ||
         (m->nheld > 0 && !held_back(m));
}

static int deadlock(lua_State *L, lgwL_module_t *m) {
  wait_done(m);
  return luaL_error(L, "nothing can happen any more: %d task(s) wait for "
                    "each other or for nothing (deadlock)", m->ntasks);
}

int lgwL_run_all(lua_State *L, lgwL_module_t *m, lgwL_task_t *main) {
  if (main) prefer(main);
  wait_begin(m);
  while (m->ntasks > 0 && !m->interrupted &&
         !(main && main->state == T_FAILED)) {
    int rc = lgwL_run_once(L, m);
    if (rc < 0 && m->nomem) {
      m->nomem = 0;
      wait_done(m);
      lua_pushliteral(L, "not enough memory");
      return -1;
    }
    if (rc < 0) {
      wait_end(m);
      /* SIGINT in a synchronous wait: the tasks' requests end. */
      if (m->sigint) lgwL_cancel_all(m);
      return 2;
    }
    if (!rc && m->ntasks > 0) {
      wait_done(m);
      lua_pushfstring(L, "nothing can happen any more: %d task(s) wait for "
                      "each other or for nothing (deadlock)", m->ntasks);
      return -1;
    }
  }
  wait_done(m);
  return m->interrupted ? 1 : 0;
}

/* ===== Tasks ============================================================ */

static lgwL_task_t *check_task(lua_State *L, int i) {
  return luaL_checkudata(L, i, LGWL_TASK);
}

/* The module functions registered here (lgwL_task_register) carry the
 * module record as upvalue 1 and the task metatable as upvalue 2, the
 * task methods the metatable as upvalue 1: no registry look-up by name on
 * every call. (Not in continuations, which may run in another function's
 * frame: LGWL_YIELDK 0.) */
#define UPV_MODULE(L) ((lgwL_module_t *)lua_touserdata(L, lua_upvalueindex(1)))

/* check_task for a function whose upvalue up is the task metatable: the
 * same test (its message when it fails), without the look-up by name. */
static lgwL_task_t *check_task_up(lua_State *L, int i, int up) {
  void *p = lua_touserdata(L, i);
  if (p && lua_getmetatable(L, i)) {
    int same = lua_rawequal(L, -1, lua_upvalueindex(up));
    lua_pop(L, 1);
    if (same) return p;
  }
  return check_task(L, i);
}

lgwL_task_t *lgwL_spawn(lua_State *L, lgwL_module_t *m, int nargs) {
  lgwL_task_t *t;
  lua_State *co = NULL;
  if (m->closing) luaL_error(L, "llmgateway is shutting down");
  lgwL_loop(L, m);
  luaL_checkstack(L, 4, NULL);
  /* stack: fn, args -> task */
#if BODY_REF
  t = lua_newuserdata(L, sizeof *t);  /* (5.1: no table of its own) */
#else
  t = lua_newuserdatauv(L, sizeof *t, 1);
#endif
  memset(t, 0, sizeof *t);
  t->m = m;
  t->ref = LUA_NOREF;
#if BODY_REF
  t->vref = LUA_NOREF;
#endif
  lua_insert(L, -(nargs + 2));
  if (nargs > 0 || lua_gethook(L) != NULL) {
    /* the arguments wait on the coroutine's stack; a new coroutine takes
     * the hook of the thread that makes it, as always */
    co = lua_gethook(L) != NULL ? lua_newthread(L) : co_take(L, m);
    if (!lua_checkstack(co, nargs + 1)) luaL_error(L, "too many arguments");
    lua_insert(L, -(nargs + 2));
    lua_xmove(L, co, nargs + 1);
  }
#if BODY_REF
  t->vref = luaL_ref(L, LUA_REGISTRYINDEX);
#else
  lua_setiuservalue(L, -2, 1);  /* the coroutine, or the function */
#endif
  t->co = co;
  t->n = nargs;
  t->state = T_NEW;
  lua_pushvalue(L, -1);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  /* only now, anchored: out of memory before, it is garbage without a
   * __gc (which takes an unfinished task for one of lua_close) */
  lua_rawgeti(L, LUA_REGISTRYINDEX, m->task_mt_ref);
  lua_setmetatable(L, -2);
  m->ntasks++;
  lgwL_ready(t);
  return t;
}

static void check_callable(lua_State *L, int i) {
  if (lua_type(L, i) == LUA_TFUNCTION) return;
  if (luaL_getmetafield(L, i, "__call") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  luaL_typeerror(L, i, "function");
}

/* spawn(fn, ...) -> task */
static int l_spawn(lua_State *L) {
  lgwL_module_t *m = UPV_MODULE(L);
  check_callable(L, 1);
  lgwL_spawn(L, m, lua_gettop(L) - 1);
  return 1;
}

/* Pushes the results of a finished task at idx, or raises its error. */
static int deliver(lua_State *L, lgwL_task_t *t, int idx) {
  int n = t->n, i;
  observe(t);
  lua_getiuservalue(L, idx, 1);
  if (t->state == T_FAILED) {
    lua_rawgeti(L, -1, 1);
    return lua_error(L);
  }
  if (n <= 1) return n;
  luaL_checkstack(L, n, "too many results");
  for (i = 1; i <= n; i++) lua_rawgeti(L, -i, i);
  return n;
}

static int wait_k(lua_State *L, int status, lua_KContext ctx);

/* task:wait() for the task t at index 1. */
static int wait_task(lua_State *L, lgwL_task_t *t) {
  lgwL_task_t *cur;
  lgwL_module_t *m = t->m;
  if (FINISHED(t)) return deliver(L, t, 1);
  cur = lgwL_current(m, L);
  if (cur == t) return luaL_error(L, "a task cannot wait for itself");
  prefer(t);
  if (cur) {
    cur->state = T_BLOCKED;
    cur->wait = W_TASK;
    if (cur->queued) unqueue(cur);  /* (never: it runs) */
    cur->q.wnext = t->waiters;
    cur->w.awaited = t;
    t->waiters = cur;
    return lgwL_yieldk(L, 0, wait_k);
  }
  wait_begin(m);
  while (!FINISHED(t)) {
    int rc = lgwL_run_once(L, m);
    if (rc < 0) return lgwL_stop_error(L, m);
    if (!rc && !FINISHED(t)) return deadlock(L, m);
  }
  wait_done(m);
  return deliver(L, t, 1);
}

/* task:wait() -> the task function's results, or raises its error */
static int task_wait(lua_State *L) {
  return wait_task(L, check_task_up(L, 1, 1));
}

static int wait_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  lgwL_check_budget(L, lgwL_module(L));
  return wait_task(L, check_task(L, 1));
}

/* Ends the wait of a blocked task without canceling it (its time limit
 * ran out): a call ends as canceled, a sleep or a wait for another task
 * returns early, and the task is resumed. */
static void interrupt_wait(lgwL_task_t *t) {
  if (t->state != T_BLOCKED) return;
  if (t->wait == W_CALL) {
    lgwL_call_cancel(t->w.call);
  } else if (t->wait == W_OP) {
    if (t->w.op->cancel) t->w.op->cancel(t->w.op);
  } else if (t->wait == W_SLEEP) {
    sleep_free(t->w.sleep);
    lgwL_ready(t);
  } else if (t->wait == W_TASK && t->w.awaited) {
    lgwL_task_t **p = &t->w.awaited->waiters;
    while (*p && *p != t) p = &(*p)->q.wnext;
    if (*p) *p = t->q.wnext;
    t->q.wnext = NULL;
    lgwL_ready(t);
  }
}

/* task:cancel() -> true when the task had not finished. A task not yet
 * started finishes with a "canceled" error; a task waiting for a call or
 * a sleep is woken (the call returns nil, {code="canceled"}); every later
 * call in it fails with "canceled" at once. */
static int task_cancel(lua_State *L) {
  lgwL_task_t *t = check_task_up(L, 1, 1);
  int body = 0;
  if (FINISHED(t)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  t->canceled = 1;
  if (t->state == T_NEW) {
    lgw_error_t err;
    memset(&err, 0, sizeof err);
    lgw_error_set(&err, LGW_ECANCELED, "the task was canceled");
#if BODY_REF
    lua_createtable(L, 1, 0);
    body = lua_gettop(L);
#endif
    lua_createtable(L, 2, 0);
    lgwL_push_error(L, &err, NULL);
    lua_rawseti(L, -2, 1);
    lua_pushliteral(L, "the task was canceled before it started");
    lua_rawseti(L, -2, 2);
    body_final(L, t, 1, body);  /* drops the function or coroutine */
    unqueue(t);  /* (not before: out of memory, it stays queued) */
    t->co = NULL;
    t->n = 0;
    t->state = T_FAILED;
    settle(t);
  } else if (t->state == T_BLOCKED && t->wait != W_TASK) {
    interrupt_wait(t);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int task_done(lua_State *L) {
  lua_pushboolean(L, FINISHED(check_task_up(L, 1, 1)));
  return 1;
}

static int task_tostring(lua_State *L) {
  lgwL_task_t *t = check_task(L, 1);
  lua_pushfstring(L, "%s: %p (%s)", LGWL_TASK, (void *)t,
                  state_names[t->state]);
  return 1;
}

/* An unfinished task is collected only at lua_close: detach it from
 * everything that could still point at it. */
static void detach(lgwL_task_t *t) {
  t->m->closing = 1;
  unqueue(t);
  if (t->wait == W_CALL && t->w.call) t->w.call->task = NULL;
  if (t->wait == W_OP && t->w.op) t->w.op->task = NULL;
  if (t->wait == W_SLEEP && t->w.sleep) sleep_free(t->w.sleep);
  t->wait = W_NONE;
  t->w.call = NULL;
}

static int task_gc(lua_State *L) {
  lgwL_task_t *t = check_task_up(L, 1, 1);
  if (t->state == T_FAILED && !t->observed && !t->canceled) {
    lua_getiuservalue(L, 1, 1);
    lua_rawgeti(L, -1, 2);
    lua_remove(L, -2);
    lgw_log(LGW_LOG_ERROR, "a task failed and nothing waited for it: %s",
             lua_tostring(L, -1));
    lua_pop(L, 1);
  }
  if (!FINISHED(t)) detach(t);
  return 0;
}

/* _is_task(v) -> boolean */
static int l_is_task(lua_State *L) {
  int is = 0;
  if (lua_touserdata(L, 1) && lua_getmetatable(L, 1)) {
    is = lua_rawequal(L, -1, lua_upvalueindex(2));
    lua_pop(L, 1);
  }
  lua_pushboolean(L, is);
  return 1;
}

/* ===== Sleeping ========================================================= */

static void sleep_cb(lgw_timer_t *h, void *ud) {
  lgwL_sleep_t *s = ud;
  (void)h;
  if (s->fired) *s->fired = 1;
  if (s->task) lgwL_ready(s->task);  /* which forgets s */
  sleep_free(s);
}

static lgwL_sleep_t *sleep_start(lua_State *L, lgwL_module_t *m,
                                 uint64_t ms) {
  lgwL_sleep_t *s = lgwL_calloc(1, sizeof *s);
  if (!s || lgwL_loop_open(m) ||
      !(s->timer = lgw_timer_new(m->loop, sleep_cb, s))) {
    lgw_free(s);
    luaL_error(L, "out of memory");
  }
  lgw_timer_start(s->timer, ms, 0);
  return s;
}

static int sleep_k(lua_State *L, int status, lua_KContext ctx) {
  (void)status;
  (void)ctx;
  lgwL_check_budget(L, lgwL_module(L));
  return 0;
}

/* sleep(seconds): yields a task; outside a task runs the loop meanwhile. */
static int l_sleep(lua_State *L) {
  lgwL_module_t *m = UPV_MODULE(L);
  lua_Number secs = luaL_checknumber(L, 1);
  lgwL_task_t *cur = lgwL_current(m, L);
  uint64_t ms;
  int fired = 0;
  lgwL_sleep_t *s;
  luaL_argcheck(L, secs >= 0 && secs < 1e9, 1,
                "non-negative number of seconds expected");
  ms = (uint64_t)ceil(secs * 1000.0);
  if (cur) {
    if (cur->canceled) return 0;
    if (ms == 0) {
      lgwL_ready(cur);
    } else {
      s = sleep_start(L, m, ms);
      s->task = cur;
      cur->state = T_BLOCKED;
      cur->wait = W_SLEEP;
      cur->w.sleep = s;
    }
    return lgwL_yieldk(L, 0, sleep_k);
  }
  lgwL_check_block(L, m);
  s = sleep_start(L, m, ms);
  s->fired = &fired;
  wait_begin(m);
  while (!fired) {
    int rc = lgwL_run_once(L, m);
    if (rc < 0 && !fired) {
      sleep_free(s);
      return lgwL_stop_error(L, m);
    }
    if (!rc && !fired) return deadlock(L, m);
  }
  wait_done(m);
  return 0;
}

/* run(fn, ...): fn as a task; outside a task, drives the loop until every
 * task has finished (or fn failed). Returns fn's results or raises its
 * error. */
static int l_run(lua_State *L) {
  lgwL_module_t *m = UPV_MODULE(L);
  lgwL_task_t *cur = lgwL_current(m, L), *t;
  int rc;
  check_callable(L, 1);
  if (!cur) lgwL_check_block(L, m);
  t = lgwL_spawn(L, m, lua_gettop(L) - 1);  /* stack: task */
  if (cur) return wait_task(L, t);
  rc = lgwL_run_all(L, m, t);
  if (rc < 0) return lua_error(L);
  if (rc == 2) return lgwL_stop_error(L, m);
  if (rc > 0) return luaL_error(L, "interrupted");
  return deliver(L, t, 1);
}

/* set_start_limit(n) -> the previous limit (0: none). Tasks not yet
 * started are held back while the gateways have n requests or more
 * waiting beyond their max_concurrent; n = 0 or math.huge: never. */
static int l_set_start_limit(lua_State *L) {
  lgwL_module_t *m = UPV_MODULE(L);
  int prev = m->start_limit;
  lua_Number x;
  if (lua_type(L, 1) != LUA_TNUMBER) luaL_typeerror(L, 1, "number");
  x = lua_tonumber(L, 1);
  if (x == HUGE_VAL || (x >= INT_MAX && x == floor(x))) {
    m->start_limit = 0;
  } else if (x >= 0 && x == floor(x)) {
    m->start_limit = (int)x;
  } else {
    lua_pushvalue(L, 1);
    return luaL_argerror(L, 1, lua_pushfstring(L, "non-negative integer or "
                         "math.huge expected, got %s",
                         luaL_tolstring(L, -1, NULL)));
  }
  lgwL_admit_wake(m);
  lua_pushinteger(L, prev);
  return 1;
}

/* ===== Time limits (validators, callbacks) ============================== */

/* A limit on the wall-clock time of one function call in thread co,
 * counted from the call's start, waits included. A count hook on co (and
 * on coroutines created inside the call, which inherit it) compares the
 * time with the limit and raises once it is spent; a timer at the
 * deadline wakes co if it is waiting then (a sleep, a gateway call,
 * another task: the wait ends and the hook raises at co's next
 * instruction; a synchronous wait inside the call ends through
 * lgwL_run_once). A limit applies while its call encloses the running
 * code: co runs, or resumed the coroutine that runs (running, and co not
 * suspended). Without lua_yieldk the call is made from a small Lua
 * wrapper (lgwL_wrap_limited, chunks named "=llmgateway"): the hook
 * raises only outside those chunks, inside the protected call. LuaJIT
 * runs no hooks in compiled code: its JIT compiler is off while a limit
 * exists (and its traces flushed when it is turned off).
 * Full userdata on co's stack below the call (C callbacks: a C struct);
 * its __gc unlinks it if the coroutine is abandoned. */
#define LGWL_BUDGET "llmgateway.Budget"
#define BUDGET_COUNT 1000  /* instructions between two clock readings */

struct lgwL_budget {
  lgwL_module_t *m;
  lgw_link_t link;             /* in m->budgets while linked */
  lua_State *co;
  lgwL_task_t *task;           /* the task co is, or NULL */
  double limit;                /* seconds */
  uint64_t limit_ns;
  uint64_t begin;              /* lgw_hrtime() at the call */
  int running;                 /* co is running (not suspended) */
  int held;                    /* paused by a synchronous wait */
  int linked;
  int expired;
  lgw_timer_t *timer;          /* deadline; NULL: none */
  char where[128];             /* "source:line" of the limited function;
                                  "" until named (see name_budget) */
  void *ci;                    /* the frame of _call_limited in co (its
                                  lua_Debug i_ci) while where is "", or
                                  NULL */
  lua_Hook old_hook;           /* co's hook before the call, restored */
  int old_mask, old_count;
};

static void budget_hook(lua_State *L, lua_Debug *ar);

/* The deadline timer stays with the record (stopped) for its next use
 * from the pool; budget_gc frees it. */
static void budget_unlink(lgwL_budget_t *b) {
  lgwL_module_t *m = b->m;
  if (b->timer) lgw_timer_stop(b->timer);
  if (!b->linked) return;
  lgw_list_remove(&b->link);
  b->linked = 0;
  if (lgw_list_empty(&m->budgets) && m->jit_paused) {
    m->jit_paused = 0;
    lgwL_jit_resume(m->L);
  }
}

/* The limit applies to the code running now (LuaJIT: co's status is
 * LUA_ERRERR while a message handler runs). */
static int encloses(const lgwL_budget_t *b) {
  return b->running && lua_status(b->co) != LUA_YIELD;
}

void lgwL_budget_run(lgwL_module_t *m, lua_State *co) {
  lgwL_budget_t *b;
  LGWL_EACH(b, &m->budgets, lgwL_budget_t, link)
    if (b->co == co) {
      b->running = 1;
#if LGWL_LUAJIT
      /* LuaJIT's hook is global: another thread may have removed it */
      if (lua_gethook(co) != budget_hook && b->limit_ns != UINT64_MAX)
        lua_sethook(co, budget_hook, LUA_MASKCOUNT, BUDGET_COUNT);
#endif
    }
}

void lgwL_budget_pause(lgwL_module_t *m, lua_State *co) {
  lgwL_budget_t *b;
  LGWL_EACH(b, &m->budgets, lgwL_budget_t, link)
    if (b->co == co) b->running = 0;
}

/* A synchronous wait (hold 1) pauses the limits enclosing it while the
 * loop runs other code; hold 0 lets them run again. */
static void budget_hold(lgwL_module_t *m, int hold) {
  lgwL_budget_t *b;
  LGWL_EACH(b, &m->budgets, lgwL_budget_t, link) {
    if (hold && encloses(b)) {
      b->held = 1;
      b->running = 0;
    } else if (!hold && b->held) {
      b->held = 0;
      b->running = 1;
    }
  }
}

/* A spent limit enclosing the running code (marked expired), or NULL. */
static lgwL_budget_t *expired_budget(lgwL_module_t *m) {
  lgwL_budget_t *b;
  uint64_t now = lgw_hrtime();
  LGWL_EACH(b, &m->budgets, lgwL_budget_t, link)
    if (encloses(b) && (b->expired || now - b->begin > b->limit_ns)) {
      b->expired = 1;
      return b;
    }
  return NULL;
}

/* b's own time is up (marks it expired). */
static int spent(lgwL_budget_t *b) {
  if (!b->expired && lgw_hrtime() - b->begin > b->limit_ns) b->expired = 1;
  return b->expired;
}

static void where_of(char *where, size_t size, const char *src, int line);

/* Names the function of a limited call started by _call_limited (where
 * stays "" until an error needs it): the function running in the frame
 * above _call_limited's in b->co, found by its CallInfo, as
 * budget_begin names it (the __call function of a callable table, which
 * that frame runs). "?" when the frame is gone. */
static const char *name_budget(lgwL_budget_t *b) {
#if LGWL_YIELDK
  lua_Debug ar, above;
  int level, found = 0;
  if (b->where[0] != '\0') return b->where;
  strcpy(b->where, "?");
  if (!b->ci) return b->where;
  for (level = 0; lua_getstack(b->co, level, &ar); level++) {
    if ((void *)ar.i_ci == b->ci) {
      found = level > 0;
      break;
    }
    above = ar;
  }
  if (found && lua_getinfo(b->co, "S", &above))
    where_of(b->where, sizeof b->where, above.short_src, above.linedefined);
  b->ci = NULL;
#endif
  return b->where;
}

static int budget_error(lua_State *L, lgwL_budget_t *b) {
  return luaL_error(L, "time limit of %f s exceeded (function at %s)",
                    b->limit, name_budget(b));
}

/* Runs in co and in coroutines created inside the limited call (they
 * inherit the hook); it removes itself from a thread that runs while no
 * limited call is running and that has none of its own. */
static void budget_hook(lua_State *L, lua_Debug *ar) {
  lgwL_module_t *m = lgwL_module_peek(L);
  lgwL_budget_t *b, *hit = NULL;
  int mine = 0, running = 0;
  uint64_t now = lgw_hrtime();
  (void)ar;
  if (!m) {
    lua_sethook(L, NULL, 0, 0);
    return;
  }
  LGWL_EACH(b, &m->budgets, lgwL_budget_t, link) {
    if (b->co == L) mine = 1;
    if (!encloses(b)) continue;
    running = 1;
    if (b->expired || now - b->begin > b->limit_ns) hit = b;
  }
#if !LGWL_YIELDK
  /* not in the wrappers around the protected call: the error would
   * escape it (the hook runs again in the limited code) */
  if (hit && lua_getinfo(L, "S", ar) &&
      strncmp(ar->source, "=llmgateway", 11) == 0) {
    hit->expired = 1;
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    return;
  }
#else
  (void)ar;
#endif
  if (hit) {
    hit->expired = 1;
    /* From now on at every instruction, so that a pcall (or an xpcall
     * message handler) inside the limited function cannot keep it
     * going. */
    lua_sethook(L, budget_hook, LUA_MASKCOUNT, 1);
    budget_error(L, hit);
  }
  if (!mine && !running) lua_sethook(L, NULL, 0, 0);
}

/* The deadline passed while co was suspended (or waiting synchronously):
 * it raises at its next instruction; a task's wait ends now. */
static void budget_timer_cb(lgw_timer_t *h, void *ud) {
  lgwL_budget_t *b = ud;
  (void)h;
  if (!b || !b->linked) return;
  b->expired = 1;
  lua_sethook(b->co, budget_hook, LUA_MASKCOUNT, 1);
  if (b->task && (b->task->co == b->co || lgwL_adopted(b->co)))
    interrupt_wait(b->task);
}

/* "source:line" into where (as snprintf with "%s:%d", without its cost
 * on every limited call). */
static void where_of(char *where, size_t size, const char *src, int line) {
  char digits[24];
  size_t n = strlen(src), k = 0;
  unsigned long v = line < 0 ? 0UL - (unsigned long)line : (unsigned long)line;
  do {
    digits[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  if (line < 0) digits[k++] = '-';
  if (n > size - 1) n = size - 1;
  memcpy(where, src, n);
  if (n < size - 1) where[n++] = ':';
  while (k && n < size - 1) where[n++] = digits[--k];
  where[n] = '\0';
}

/* b->where: the "source:line" of the function (or callable) at fn in
 * co. */
static void name_at(lgwL_budget_t *b, lua_State *co, int fn) {
  lua_Debug ar;
  fn = lua_absindex(co, fn);
  strcpy(b->where, "?");
  lua_pushvalue(co, fn);
  if (lua_type(co, -1) != LUA_TFUNCTION &&
      luaL_getmetafield(co, -1, "__call") != LUA_TNIL)
    lua_remove(co, -2);
  if (lua_type(co, -1) == LUA_TFUNCTION && lua_getinfo(co, ">S", &ar))
    where_of(b->where, sizeof b->where, ar.short_src, ar.linedefined);
  else
    lua_pop(co, 1);
}

/* fn: the index of the limited function, named now; 0: named when an
 * error needs it (name_budget, b->ci set by the caller; limited_k). */
static void budget_begin(lgwL_budget_t *b, lgwL_module_t *m, lua_State *co,
                         double secs, int fn) {
  b->m = m;
  b->co = co;
  b->limit = secs;
  b->limit_ns = secs >= 1e9 ? UINT64_MAX : (uint64_t)(secs * 1e9);
  b->where[0] = '\0';
  if (fn != 0) name_at(b, co, fn);
  b->old_hook = lua_gethook(co);
  b->old_mask = lua_gethookmask(co);
  b->old_count = lua_gethookcount(co);
  if (lgw_list_empty(&m->budgets) && !m->jit_paused)
    m->jit_paused = lgwL_jit_pause(co);
  lgw_list_push_front(&m->budgets, &b->link);
  b->linked = 1;
  b->running = 1;
  b->begin = lgw_hrtime();
  if (b->limit_ns != UINT64_MAX)
    lua_sethook(co, budget_hook, LUA_MASKCOUNT, BUDGET_COUNT);
}

static void budget_end(lgwL_budget_t *b) {
  if (!b->linked) return;
  budget_unlink(b);
#if LGWL_LUAJIT
  /* One hook for every thread: it stays while other limits exist, and
   * the hook from before them passes to one of those (it is restored
   * when the last one ends). */
  if (!lgw_list_empty(&b->m->budgets)) {
    lgwL_budget_t *o;
    if (b->old_hook == budget_hook) return;
    LGWL_EACH(o, &b->m->budgets, lgwL_budget_t, link)
      if (o->old_hook == budget_hook) {
        o->old_hook = b->old_hook;
        o->old_mask = b->old_mask;
        o->old_count = b->old_count;
        break;
      }
    return;
  }
  if (b->old_hook == budget_hook) {
    lua_sethook(b->co, NULL, 0, 0);
    return;
  }
#endif
  lua_sethook(b->co, b->old_hook, b->old_mask, b->old_count);
}

static int budget_gc(lua_State *L) {
  lgwL_budget_t *b = luaL_checkudata(L, 1, LGWL_BUDGET);
  budget_unlink(b);
  lgw_timer_free(b->timer);
  b->timer = NULL;
  return 0;
}

/* Records of finished limited calls, kept for the next ones (a registry
 * list): a call then costs no userdata, finalizer or timer of its own. */
#define BUDGET_POOL_MAX 32

/* Pushes the list of free records (created on first use). */
static void push_budget_pool(lua_State *L, lgwL_module_t *m) {
  push_pool(L, &m->budget_pool_ref, BUDGET_POOL_MAX);
}

/* Pushes a cleared budget record: a free one, or a new one. */
static lgwL_budget_t *budget_take(lua_State *L, lgwL_module_t *m) {
  lgwL_budget_t *b;
  lgw_timer_t *timer;
  lua_Integer n;
  push_budget_pool(L, m);
  n = m->budget_pool_n;
  if (n > 0) {
    m->budget_pool_n--;
    lua_rawgeti(L, -1, n);
    lua_pushnil(L);
    lua_rawseti(L, -3, n);
    lua_remove(L, -2);
    b = lua_touserdata(L, -1);
    timer = b->timer;
    memset(b, 0, sizeof *b);
    b->timer = timer;
    return b;
  }
  lua_pop(L, 1);
  b = lua_newuserdatauv(L, sizeof *b, 0);
  memset(b, 0, sizeof *b);
  luaL_setmetatable(L, LGWL_BUDGET);
  return b;
}

/* Returns the ended budget record at idx to the pool. */
static void budget_give(lua_State *L, lgwL_module_t *m, int idx) {
  idx = lua_absindex(L, idx);
  if (m->budget_pool_n >= BUDGET_POOL_MAX) return;
  push_budget_pool(L, m);
  lua_pushvalue(L, idx);
  lua_rawseti(L, -2, ++m->budget_pool_n);
  lua_pop(L, 1);
}

void lgwL_check_budget(lua_State *L, lgwL_module_t *m) {
  lgwL_budget_t *b = expired_budget(m);
  if (b) budget_error(L, b);
}

/* Under lua_pcall: pushes the text of the lgwL_budget_t or type name
 * (a light userdata) it is given, which may run out of memory. */
static int push_type_text(lua_State *L) {
  lua_pushfstring(L, "(error object is a %s value)",
                  (const char *)lua_touserdata(L, 1));
  return 1;
}

static int push_limit_text(lua_State *L) {
  const lgwL_budget_t *b = lua_touserdata(L, 1);
  lua_pushfstring(L, "time limit of %f s exceeded (function at %s)",
                  b->limit, b->where);
  return 1;
}

/* Replaces the error value on top by what f pushes (under lua_pcall: its
 * memory error in the worst case, never raising). */
static void replace_error(lua_State *L, lua_CFunction f, const void *arg) {
  if (!lua_checkstack(L, 2)) return;
  lua_pushcfunction(L, f);
  lua_pushlightuserdata(L, (void *)arg);
  lua_pcall(L, 1, 1, 0);
  lua_remove(L, -2);
}

/* An error object with __tostring becomes its text while the limit
 * still runs (a __tostring that never returns is cut short too). */
static void convert_error(lua_State *L) {
  const char *tn = luaL_typename(L, -1);
  if (lua_type(L, -1) == LUA_TSTRING ||
      luaL_getmetafield(L, -1, "__tostring") == LUA_TNIL)
    return;
  lua_pop(L, 1);
  lua_pushcfunction(L, error_text);
  lua_insert(L, -2);
  if (lua_pcall(L, 1, 1, 0) != LUA_OK || !lua_isstring(L, -1))
    replace_error(L, push_type_text, tn);
}

/* stack: budget, then (ctx 1) a copy of the limited function, then the
 * results (status LUA_OK or LUA_YIELD) or the error value. */
static int limited_k(lua_State *L, int status, lua_KContext ctx) {
  lgwL_budget_t *b = lua_touserdata(L, 1);
  int ok = status == LUA_OK || status == LUA_YIELD;
  if (ctx) {
    /* the function's name only for a failure, which returns it (named
     * before its error object's __tostring runs, which the limit may cut
     * short: the function's frame is gone) */
    if ((!ok || spent(b)) && b->where[0] == '\0') name_at(b, L, 2);
    b->ci = NULL;
  }
  if (!ok && !spent(b)) convert_error(L);
  if (spent(b)) ok = 0;
  if (ctx) lua_remove(L, 2);
  budget_end(b);
  budget_give(L, b->m, 1);
  if (ok) {
    lua_pushboolean(L, 1);
    lua_replace(L, 1);
    return lua_gettop(L);
  }
  lua_pushboolean(L, 0);
  if (b->expired) {
    lua_pushfstring(L, "time limit of %f s exceeded", b->limit);
  } else {
    lua_pushvalue(L, -2);
  }
  lua_pushboolean(L, b->expired);
  lua_pushstring(L, b->where);
  return 4;
}

/* _call_limited(seconds, fn, ...) -> true, results... | false, err,
 * timed_out, "source:line" of fn. Like pcall, with a limit on fn's
 * wall-clock time (fn may yield; its waits count). */
static int l_call_limited(lua_State *L) {
  lgwL_module_t *m = UPV_MODULE(L);
  lua_Number secs = luaL_checknumber(L, 1);
  lgwL_budget_t *b;
  luaL_argcheck(L, secs > 0, 1, "positive number of seconds expected");
  check_callable(L, 2);
  b = budget_take(L, m);
  lua_replace(L, 1);
#if LGWL_YIELDK
  {
    /* named only if an error needs it: the function stays at 2 (for
     * limited_k), its frame above this one's (name_budget) */
    lua_Debug ar;
    budget_begin(b, m, L, secs, 0);
    if (lua_getstack(L, 0, &ar)) b->ci = ar.i_ci;
    lua_pushvalue(L, 2);
    lua_insert(L, 2);
  }
#else
  budget_begin(b, m, L, secs, 2);
#endif
  b->task = lgwL_current(m, L);
  if (b->limit_ns != UINT64_MAX && lgwL_loop_open(m) == 0 && !b->timer &&
      (b->timer = lgw_timer_new(m->loop, budget_timer_cb, b)) != NULL)
    lgw_timer_unref(b->timer);
  if (b->limit_ns != UINT64_MAX && b->timer)
    lgw_timer_start(b->timer, (uint64_t)ceil(secs * 1000.0), 0);
#if LGWL_YIELDK
  return limited_k(L, lua_pcallk(L, lua_gettop(L) - 3, LUA_MULTRET, 0, 1,
                                 limited_k), 1);
#else
  /* budget, fn, args...: the wrapper pcalls fn, then _limited_end */
  return lua_gettop(L);
#endif
}

#if !LGWL_YIELDK
/* _limited_end(budget, ok, results... | err) */
static int l_limited_end(lua_State *L) {
  int ok = lua_toboolean(L, 2);
  lua_remove(L, 2);
  return limited_k(L, ok ? LUA_OK : LUA_ERRRUN, 0);
}
#endif

int lgwL_pcall_limited(lua_State *L, lgwL_module_t *m, double secs,
                       int named, int nargs, int nres) {
  lgwL_budget_t b;
  int st;
  memset(&b, 0, sizeof b);
  budget_begin(&b, m, L, secs, named);
  st = lua_pcall(L, nargs, nres, 0);
  if (st != LUA_OK && !spent(&b)) convert_error(L);
  if (st != LUA_OK && spent(&b)) replace_error(L, push_limit_text, &b);
  budget_end(&b);
  return st;
}

/* xpcall as the base library's, except that the message handler is
 * skipped for the error of a spent time limit (or an interruption): that
 * error is raised from a hook, and Lua runs the handler with hooks off,
 * where nothing could stop it. */
static int xpcall_handler(lua_State *L) {
  lgwL_module_t *m = lgwL_module_peek(L);
  lgwL_budget_t *b;
  if (m) {
    uint64_t now = lgw_hrtime();
    if (m->interrupting) return 1;
    LGWL_EACH(b, &m->budgets, lgwL_budget_t, link)
      if (encloses(b) && (b->expired || now - b->begin > b->limit_ns))
        return 1;
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, 1);
  return 1;
}

static int finish_xpcall(lua_State *L, int status, lua_KContext extra) {
  if (status != LUA_OK && status != LUA_YIELD) {
    lua_pushboolean(L, 0);
    lua_pushvalue(L, -2);
    return 2;
  }
  return lua_gettop(L) - (int)extra;
}

static int l_xpcall(lua_State *L) {
  int n = lua_gettop(L), status;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 2);
  lua_pushcclosure(L, xpcall_handler, 1);
  lua_replace(L, 2);
  lua_pushboolean(L, 1);
  lua_pushvalue(L, 1);
  lua_rotate(L, 3, 2);
#if LGWL_YIELDK
  status = lua_pcallk(L, n - 2, LUA_MULTRET, 2, 2, finish_xpcall);
#else
  status = lua_pcall(L, n - 2, LUA_MULTRET, 2);
#endif
  return finish_xpcall(L, status, 2);
}

void lgwL_guard_xpcall(lua_State *L) {
  lua_pushcfunction(L, l_xpcall);
  lua_setglobal(L, "xpcall");
}

/* ===== Interruption (signals) =========================================== */

static void interrupt_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

void lgwL_interrupt(lgwL_module_t *m) {
  int mask = LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT;
  lua_State *r = m->running;
  m->interrupting = 1;
  lua_sethook(m->L, interrupt_hook, mask, 1);
  if (m->cb) lua_sethook(m->cb, interrupt_hook, mask, 1);
  if (r) lua_sethook(r, interrupt_hook, mask, 1);
}

void lgwL_interrupt_clear(lgwL_module_t *m) {
  if (lua_gethook(m->L) == interrupt_hook) lua_sethook(m->L, NULL, 0, 0);
  if (m->cb && lua_gethook(m->cb) == interrupt_hook)
    lua_sethook(m->cb, NULL, 0, 0);
}

/* A synchronous wait in plain Lua (lua.c) takes SIGINT over while the
 * loop runs, when a handler is installed (lua.c's): the wait ends at
 * once and raises "interrupted!", instead of after the request's
 * timeout. The previous handler is restored afterwards. A wait of this
 * file takes it over once for all its loop steps (wait_begin, wait_end);
 * lgwL_run_once alone, for one step. */
static lgwL_module_t *volatile sig_module;
static struct sigaction sig_prev;
/* While sigint_catch finds out what the handler was, a SIGINT is only
 * noted (pending); then it goes where it would have gone. */
static volatile sig_atomic_t sig_probing, sig_pending;
/* The last look found no handler: look before taking over next time. */
static int sig_none_seen;

static void on_sigint(int sig) {
  lgwL_module_t *m = sig_module;
  (void)sig;
  if (!m) return;
  if (sig_probing) {
    sig_pending = 1;
    return;
  }
  m->sigint = 1;
  if (m->wake) lgw_async_send(m->wake);
}

static int no_handler(const struct sigaction *sa) {
  return !(sa->sa_flags & SA_SIGINFO) &&
         (sa->sa_handler == SIG_DFL || sa->sa_handler == SIG_IGN);
}

/* Installs on_sigint when SIGINT has a handler; 1 when it did. Usually
 * (a handler, as last time) in one system call that installs ours and
 * returns the previous one; that is put back at once if it was none. */
static int sigint_catch(lgwL_module_t *m) {
  struct sigaction sa, old;
  if (m->host_signals || !m->wake || sig_module) return 0;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  if (sig_none_seen) {
    if (sigaction(SIGINT, NULL, &old) != 0 || no_handler(&old)) return 0;
    sig_none_seen = 0;
    sig_prev = old;
    sig_module = m;
    if (sigaction(SIGINT, &sa, NULL) != 0) {
      sig_module = NULL;
      return 0;
    }
    return 1;
  }
  sig_pending = 0;
  sig_probing = 1;
  sig_module = m;
  if (sigaction(SIGINT, &sa, &old) != 0) {
    sig_module = NULL;
    sig_probing = 0;
    return 0;
  }
  if (no_handler(&old)) {
    /* not ours to take: as if it had never been touched */
    sigaction(SIGINT, &old, NULL);
    sig_module = NULL;
    sig_probing = 0;
    sig_none_seen = 1;
    if (sig_pending && old.sa_handler == SIG_DFL) raise(SIGINT);
    return 0;
  }
  sig_prev = old;
  sig_probing = 0;
  if (sig_pending) {
    m->sigint = 1;
    lgw_async_send(m->wake);
  }
  return 1;
}

static void sigint_release(void) {
  sigaction(SIGINT, &sig_prev, NULL);
  sig_module = NULL;
}

/* A synchronous wait of this file starts: SIGINT is taken over until
 * wait_end (which must run before the wait returns or raises). */
static void wait_begin(lgwL_module_t *m) {
  if (!sig_scope && sigint_catch(m)) sig_scope = m;
}

static void wait_end(lgwL_module_t *m) {
  if (sig_scope != m) return;
  sig_scope = NULL;
  sigint_release();
}

/* The wait ends otherwise than by SIGINT: one that came after its last
 * loop step (it did not end the wait) goes where it would have gone,
 * to the handler from before. */
static void wait_done(lgwL_module_t *m) {
  if (sig_scope != m) return;
  wait_end(m);
  if (m->sigint) {
    m->sigint = 0;
    raise(SIGINT);
  }
}

int lgwL_stop_error(lua_State *L, lgwL_module_t *m) {
  lgwL_budget_t *b;
  wait_end(m);
  if (m->nomem) {
    m->nomem = 0;
    return luaL_error(L, "not enough memory");
  }
  b = expired_budget(m);
  if (b) return budget_error(L, b);
  m->sigint = 0;
  return luaL_error(L, "interrupted!");
}

/* ===== Registration ===================================================== */

void lgwL_task_open(lua_State *L) {
  lgwL_module_t *m = lgwL_module(L);
  static const char *const waiting[] = {"wait", NULL};
  static const luaL_Reg methods[] = {
    {"wait", task_wait},
    {"cancel", task_cancel},
    {"done", task_done},
    {NULL, NULL}
  };
  if (luaL_newmetatable(L, LGWL_TASK)) {
    lua_pushvalue(L, -1);  /* upvalue: the metatable (check_task_up) */
    lua_pushcclosure(L, task_gc, 1);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, task_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_createtable(L, 0, 3);
    lua_pushvalue(L, -2);  /* the methods' upvalue: the metatable */
    luaL_setfuncs(L, methods, 1);
    lgwL_wrap_waiting(L, -1, waiting);
    lua_setfield(L, -2, "__index");
  }
  /* the metatable by an integer reference, for lgwL_spawn */
  if (m->task_mt_ref <= 0) m->task_mt_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  else lua_pop(L, 1);
  if (luaL_newmetatable(L, LGWL_BUDGET)) {
    lua_pushcfunction(L, budget_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
}

void lgwL_task_register(lua_State *L) {
  static const luaL_Reg funcs[] = {
    {"spawn", l_spawn},
    {"sleep", l_sleep},
    {"run", l_run},
    {"set_start_limit", l_set_start_limit},
    {"_is_task", l_is_task},
    {"_call_limited", l_call_limited},
    {NULL, NULL}
  };
  static const char *const waiting[] = {"sleep:sleep", "run:run", NULL};
  /* upvalues: the module record, the task metatable */
  lua_getfield(L, LUA_REGISTRYINDEX, LGWL_MODULE);
  luaL_getmetatable(L, LGWL_TASK);
  luaL_setfuncs(L, funcs, 2);
  lgwL_wrap_waiting(L, -1, waiting);
#if !LGWL_YIELDK
  lua_pushcfunction(L, l_limited_end);
  lgwL_wrap_limited(L, -2, "_call_limited");
#endif
}

int lgwL_task_failure(lua_State *L, int idx) {
  lgwL_task_t *t = luaL_testudata(L, idx, LGWL_TASK);
  if (!t || t->state != T_FAILED) return 0;
  observe(t);
  lua_getiuservalue(L, idx, 1);
  lua_rawgeti(L, -1, 2);
  lua_remove(L, -2);
  return 1;
}

void lgwL_task_teardown(lgwL_module_t *m) {
  m->closing = 1;
  wait_end(m);
  while (!lgw_list_empty(&m->ready))
    unqueue(LGW_CONTAINER_OF(m->ready.next, lgwL_task_t, q.ready));
  while (!lgw_list_empty(&m->held))
    unqueue(LGW_CONTAINER_OF(m->held.next, lgwL_task_t, q.ready));
  if (m->idle) lgw_idle_stop(m->idle);
}
