/*
 * sim_timer.c -- the simulator's timer: a min-heap of suspended
 * connections ordered by wake-up time, and one thread that resumes each
 * when its time comes. Delays, latency and slow bodies therefore never
 * block the server thread or other connections.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

#include "sim.h"

typedef struct entry {
  double due_ms;  /* monotonic; INFINITY: only at shutdown */
  struct MHD_Connection *conn;
} entry_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond;
static pthread_t g_thread;
static int g_running;  /* thread started and not yet told to stop */
static int g_closed;   /* stop has run: no more suspensions */
static entry_t *g_heap;
static size_t g_n, g_cap;

static void heap_swap(size_t a, size_t b) {
  entry_t t = g_heap[a];
  g_heap[a] = g_heap[b];
  g_heap[b] = t;
}

static int heap_push(entry_t e) {
  size_t i;
  if (g_n == g_cap) {
    size_t cap = g_cap ? g_cap * 2 : 256;
    entry_t *h = realloc(g_heap, cap * sizeof *h);
    if (!h) return SIM_ENOMEM;
    g_heap = h;
    g_cap = cap;
  }
  i = g_n++;
  g_heap[i] = e;
  while (i > 0 && g_heap[(i - 1) / 2].due_ms > g_heap[i].due_ms) {
    heap_swap(i, (i - 1) / 2);
    i = (i - 1) / 2;
  }
  return 0;
}

static entry_t heap_pop(void) {
  entry_t top = g_heap[0];
  size_t i = 0;
  g_heap[0] = g_heap[--g_n];
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < g_n && g_heap[l].due_ms < g_heap[m].due_ms) m = l;
    if (r < g_n && g_heap[r].due_ms < g_heap[m].due_ms) m = r;
    if (m == i) break;
    heap_swap(i, m);
    i = m;
  }
  return top;
}

static struct timespec abs_time(double due_ms) {
  struct timespec ts;
  double s = floor(due_ms / 1e3);
  ts.tv_sec = (time_t)s;
  ts.tv_nsec = (long)((due_ms - s * 1e3) * 1e6);
  if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
  return ts;
}

/* Resumes outside the lock: MHD takes its own locks in
 * MHD_resume_connection, and suspension takes ours first. */
static void *timer_main(void *arg) {
  struct MHD_Connection *batch[256];
  (void)arg;
  pthread_mutex_lock(&g_lock);
  while (g_running) {
    size_t nb = 0, i;
    double now = sim_now_ms();
    while (g_n > 0 && g_heap[0].due_ms <= now && nb < 256)
      batch[nb++] = heap_pop().conn;
    if (nb > 0) {
      pthread_mutex_unlock(&g_lock);
      for (i = 0; i < nb; i++) MHD_resume_connection(batch[i]);
      pthread_mutex_lock(&g_lock);
      continue;
    }
    if (g_n == 0 || isinf(g_heap[0].due_ms)) {
      pthread_cond_wait(&g_cond, &g_lock);
    } else {
      struct timespec ts = abs_time(g_heap[0].due_ms);
      pthread_cond_timedwait(&g_cond, &g_lock, &ts);
    }
  }
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int sim_timer_start(void) {
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&g_cond, &attr);
  pthread_condattr_destroy(&attr);
  g_running = 1;
  if (pthread_create(&g_thread, NULL, timer_main, NULL) != 0) {
    g_running = 0;
    pthread_cond_destroy(&g_cond);
    return SIM_ENOMEM;
  }
  return 0;
}

int sim_timer_suspend(struct MHD_Connection *conn, double delay_ms) {
  entry_t e;
  int rc = -1;
  e.conn = conn;
  e.due_ms = delay_ms < 0 ? INFINITY : sim_now_ms() + delay_ms;
  pthread_mutex_lock(&g_lock);
  if (!g_closed && heap_push(e) == 0) {
    /* Under the lock, so shutdown cannot miss this connection. */
    MHD_suspend_connection(conn);
    if (g_n > 0 && g_heap[0].conn == conn) pthread_cond_signal(&g_cond);
    rc = 0;
  }
  pthread_mutex_unlock(&g_lock);
  return rc;
}

void sim_timer_stop(void) {
  pthread_mutex_lock(&g_lock);
  g_closed = 1;
  g_running = 0;
  pthread_cond_signal(&g_cond);
  pthread_mutex_unlock(&g_lock);
  pthread_join(g_thread, NULL);
  pthread_cond_destroy(&g_cond);
  /* The thread is gone, so the heap is ours alone now. */
  while (g_n > 0) MHD_resume_connection(heap_pop().conn);
  free(g_heap);
  g_heap = NULL;
  g_cap = 0;
}
