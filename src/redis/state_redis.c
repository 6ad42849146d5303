/*
 * state_redis.c -- the shared state backend on Redis: the server-side
 * scripts (breaker outcome, token-bucket reservation and settling, one
 * read of everything a gateway caches), the periodic read, and the
 * fire-and-forget writes. Keys, under settings.state_prefix:
 *
 *   <prefix>preferred_by_config          hash config_key -> provider_key
 *   <prefix>breaker:<provider_key>       hash {open_until: ms}
 *   <prefix>breaker:<provider_key>:fails list of failure times (ms)
 *   <prefix>rpm:<provider_key>           hash {level, last}
 *   <prefix>tpm:<provider_key>           hash {level, last}
 *
 * Times are the server's (TIME), in milliseconds.
 */
#include "state_redis.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* A reservation that takes longer than this falls back to local buckets. */
#define RESERVE_TIMEOUT 0.5
#define WRITE_TIMEOUT 2.0

/* KEYS: breaker hash, fails list. ARGV: "fail" or "ok", k, window ms,
 * cooldown ms. Returns {remaining ms (> 0 open, 0 closed, -1 half-open),
 * failures counted}. */
static lgw__redis_script_t breaker_script = {
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local ou = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')\n"
    "local k, win, cool = tonumber(ARGV[2]), tonumber(ARGV[3]),"
    " tonumber(ARGV[4])\n"
    "local function trip()\n"
    "  redis.call('HSET', KEYS[1], 'open_until', now + cool)\n"
    "  redis.call('PEXPIRE', KEYS[1], cool + win + 60000)\n"
    "  redis.call('DEL', KEYS[2])\n"
    "  return {cool > 0 and cool or -1, 0}\n"
    "end\n"
    "if ARGV[1] == 'ok' then\n"
    "  redis.call('DEL', KEYS[1], KEYS[2])\n"
    "  return {0, 0}\n"
    "end\n"
    "if k <= 0 then return {0, 0} end\n"
    "if ou > 0 then\n"
    "  if now < ou then return {ou - now, 0} end\n"
    "  return trip()\n"
    "end\n"
    "redis.call('RPUSH', KEYS[2], now)\n"
    "redis.call('LTRIM', KEYS[2], -k, -1)\n"
    "redis.call('PEXPIRE', KEYS[2], win + 60000)\n"
    "local n = redis.call('LLEN', KEYS[2])\n"
    "if n >= k and now - tonumber(redis.call('LINDEX', KEYS[2], 0)) <= win"
    " then return trip() end\n"
    "return {0, n}\n",
    ""};

/* KEYS: preferred hash, then per provider its breaker hash and fails list.
 * ARGV: config key. Returns {preferred or "", rem1, fails1, rem2, ...}. */
static lgw__redis_script_t read_script = {
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "local out = {redis.call('HGET', KEYS[1], ARGV[1]) or ''}\n"
    "for i = 2, #KEYS, 2 do\n"
    "  local ou = tonumber(redis.call('HGET', KEYS[i], 'open_until')"
    " or '0')\n"
    "  local rem = 0\n"
    "  if ou > 0 then rem = now < ou and ou - now or -1 end\n"
    "  out[#out + 1] = rem\n"
    "  out[#out + 1] = redis.call('LLEN', KEYS[i + 1])\n"
    "end\n"
    "return out\n",
    ""};

/* The token bucket of ratelimit.c, on the server. */
#define BUCKET_LUA                                                         \
  "local t = redis.call('TIME')\n"                                         \
  "local now = t[1] * 1000 + t[2] / 1000\n"                                \
  "local function load(key, per_min)\n"                                    \
  "  local per_ms, cap = per_min / 60000, math.max(1, per_min / 60)\n"     \
  "  local v = redis.call('HMGET', key, 'level', 'last')\n"                \
  "  local level, last = tonumber(v[1]) or cap, tonumber(v[2]) or now\n"   \
  "  if now > last then\n"                                                 \
  "    level = math.min(cap, level + (now - last) * per_ms)\n"             \
  "    last = now\n"                                                       \
  "  end\n"                                                                \
  "  return per_ms, cap, level, last\n"                                    \
  "end\n"                                                                  \
  "local function store(key, per_ms, cap, level, last)\n"                  \
  "  redis.call('HSET', key, 'level', tostring(level), 'last',"            \
  " tostring(last))\n"                                                     \
  "  redis.call('PEXPIRE', key, math.ceil((cap - level) / per_ms) +"       \
  " 60000)\n"                                                              \
  "end\n"

/* KEYS: rpm bucket, tpm bucket. ARGV: rpm, tpm, tokens. Returns the ms to
 * wait before sending. */
static lgw__redis_script_t reserve_script = {
    BUCKET_LUA
    "local function take(key, per_min, cost)\n"
    "  if per_min <= 0 then return 0 end\n"
    "  local per_ms, cap, level, last = load(key, per_min)\n"
    "  local need = math.min(cost, cap)\n"
    "  local wait = 0\n"
    "  if level < need then wait = (need - level) / per_ms end\n"
    "  store(key, per_ms, cap, level - cost, last)\n"
    "  return wait\n"
    "end\n"
    "local w1 = take(KEYS[1], tonumber(ARGV[1]), 1)\n"
    "local w2 = take(KEYS[2], tonumber(ARGV[2]), tonumber(ARGV[3]))\n"
    "return math.ceil(math.max(w1, w2))\n",
    ""};

/* KEYS: tpm bucket. ARGV: tpm, delta. */
static lgw__redis_script_t settle_script = {
    BUCKET_LUA
    "local per_min = tonumber(ARGV[1])\n"
    "if per_min <= 0 then return 0 end\n"
    "local per_ms, cap, level, last = load(KEYS[1], per_min)\n"
    "store(KEYS[1], per_ms, cap, math.min(cap, level + tonumber(ARGV[2])),"
    " last)\n"
    "return 0\n",
    ""};

typedef struct prov_keys {
  struct lgw__rstate *s;
  size_t index;
  int inflight;         /* breaker writes waiting for their answer */
  char *breaker, *fails, *rpm_key, *tpm_key;  /* owned */
  long rpm, tpm;
  unsigned gen;         /* local breaker writes sent */
  long long fails_seen; /* failures the server counted, last we heard */
  double rem;           /* the server's breaker, last we heard */
} prov_keys_t;

struct lgw__rstate {
  lgw__redis_t *redis;
  lgw__rstate_hooks_t hooks;
  double refresh_s;
  char *pref_hash;               /* owned */
  char config_key[65];
  long k;
  double window_ms, cooldown_ms;
  size_t n;
  prov_keys_t *p;
  unsigned pref_gen;
  char pref_unsent[65];          /* a winner not yet written, "" none */
  char pref_sent[65];            /* the last winner sent */
  char pref_known[65];           /* the last winner seen or sent */
  lgw__redis_call_t *reading;    /* the periodic read in flight */
};

/* ---- reading -------------------------------------------------------------- */

typedef struct read_ctx {
  lgw__rstate_t *s;
  unsigned pref_gen;
  unsigned gens[];               /* per provider */
} read_ctx_t;

static void on_read(lgw__redis_t *r, const lgw__rreply_t *reply,
                    const char *err, void *ud) {
  read_ctx_t *rc = ud;
  lgw__rstate_t *s = rc->s;
  size_t i, len;
  const char *pref;
  (void)r;
  s->reading = NULL;
  if (err || lgw__rr_len(reply) != 1 + 2 * s->n) {
    if (err) lgw__log(LGW_LOG_DEBUG, "shared state: read failed: %s", err);
    lgw_free(rc);
    return;
  }
  pref = lgw__rr_str(lgw__rr_at(reply, 0), &len);
  if (rc->pref_gen == s->pref_gen && len < 65 && s->hooks.preferred) {
    char key[65];
    memcpy(key, pref, len);
    key[len] = '\0';
    if (len) memcpy(s->pref_known, key, sizeof key);
    s->hooks.preferred(s->hooks.ud, key);
  }
  for (i = 0; i < s->n; i++) {
    prov_keys_t *p = &s->p[i];
    if (rc->gens[i] != p->gen || p->inflight) continue;  /* ours is newer */
    p->rem = (double)lgw__rr_num(lgw__rr_at(reply, 1 + 2 * i), 0) / 1000.0;
    p->fails_seen = lgw__rr_num(lgw__rr_at(reply, 2 + 2 * i), 0);
    if (s->hooks.breaker) s->hooks.breaker(s->hooks.ud, i, p->rem);
  }
  lgw_free(rc);
}

static void read_now(lgw__rstate_t *s) {
  const char **argv;
  read_ctx_t *rc;
  size_t i, n = 2 + 2 * s->n;
  if (s->reading || !lgw__redis_ready(s->redis)) return;
  argv = lgw__calloc(n, sizeof *argv);
  rc = lgw__calloc(1, sizeof *rc + s->n * sizeof rc->gens[0]);
  if (argv && rc) {
    rc->s = s;
    rc->pref_gen = s->pref_gen;
    argv[0] = s->pref_hash;
    for (i = 0; i < s->n; i++) {
      argv[1 + 2 * i] = s->p[i].breaker;
      argv[2 + 2 * i] = s->p[i].fails;
      rc->gens[i] = s->p[i].gen;
    }
    argv[n - 1] = s->config_key;
    if (lgw__redis_eval(s->redis, &read_script, WRITE_TIMEOUT, on_read, rc,
                        &s->reading, (int)(n - 1), (int)n, argv, NULL) == 0) {
      lgw__redis_own_ud(s->reading);  /* freed if lgw__rstate_free drops it */
      rc = NULL;
    }
  }
  lgw_free(rc);
  lgw_free(argv);
}

static void send_preferred(lgw__rstate_t *s);

/* Every state_refresh: a winner whose write could not be sent (out of
 * memory) goes now, then everything is read. */
static void on_refresh(lgw__redis_t *r, void *ud) {
  (void)r;
  send_preferred(ud);
  read_now(ud);
}

/* ---- writing -------------------------------------------------------------- */

static void on_written(lgw__redis_t *r, const lgw__rreply_t *reply,
                       const char *err, void *ud) {
  (void)r;
  (void)reply;
  (void)ud;
  if (err) lgw__log(LGW_LOG_DEBUG, "shared state: write failed: %s", err);
}

static void on_pref_written(lgw__redis_t *r, const lgw__rreply_t *reply,
                            const char *err, void *ud) {
  lgw__rstate_t *s = ud;
  (void)r;
  (void)reply;
  /* not written: try again on the next reconnect unless a newer came */
  if (err && !s->pref_unsent[0])
    memcpy(s->pref_unsent, s->pref_sent, sizeof s->pref_unsent);
}

static void send_preferred(lgw__rstate_t *s) {
  const char *argv[] = {"HSET", s->pref_hash, s->config_key, s->pref_unsent};
  if (!s->pref_unsent[0] || !lgw__redis_ready(s->redis)) return;
  if (lgw__redis_cmd(s->redis, WRITE_TIMEOUT, on_pref_written, s, NULL, 4,
                     argv, NULL) == 0) {
    memcpy(s->pref_sent, s->pref_unsent, sizeof s->pref_sent);
    s->pref_unsent[0] = '\0';
  }
}

/* Connected (again): write what could not be written; a server that lost
 * its data (restarted) gets the winner we know unless another process set
 * one meanwhile; then read everything. */
static void on_up(lgw__redis_t *r, void *ud) {
  lgw__rstate_t *s = ud;
  const char *argv[] = {"HSETNX", s->pref_hash, s->config_key,
                        s->pref_known};
  if (s->pref_unsent[0]) send_preferred(s);
  else if (s->pref_known[0])
    lgw__redis_cmd(r, WRITE_TIMEOUT, on_written, NULL, NULL, 4, argv, NULL);
  read_now(s);
}

void lgw__rstate_set_preferred(lgw__rstate_t *s, const char *provider_key) {
  if (!s || !provider_key) return;
  snprintf(s->pref_unsent, sizeof s->pref_unsent, "%s", provider_key);
  memcpy(s->pref_known, s->pref_unsent, sizeof s->pref_known);
  s->pref_gen++;
  send_preferred(s);
}

/* The server's breaker after our write; adopted when no later write of
 * ours is still on its way. */
static void on_breaker(lgw__redis_t *r, const lgw__rreply_t *reply,
                       const char *err, void *ud) {
  prov_keys_t *p = ud;
  lgw__rstate_t *s = p->s;
  (void)r;
  p->inflight--;
  if (err || lgw__rr_len(reply) != 2) {
    if (err) lgw__log(LGW_LOG_DEBUG, "shared state: write failed: %s", err);
    return;
  }
  if (p->inflight) return;
  p->rem = (double)lgw__rr_num(lgw__rr_at(reply, 0), 0) / 1000.0;
  p->fails_seen = lgw__rr_num(lgw__rr_at(reply, 1), 0);
  if (s->hooks.breaker) s->hooks.breaker(s->hooks.ud, p->index, p->rem);
}

void lgw__rstate_breaker(lgw__rstate_t *s, size_t pi, int failure,
                         int local_dirty) {
  prov_keys_t *p;
  char k[32], w[32], c[32];
  const char *argv[6];
  if (!s || pi >= s->n || s->k <= 0 || !lgw__redis_ready(s->redis)) return;
  p = &s->p[pi];
  if (!failure && !local_dirty && p->fails_seen == 0 && p->rem == 0) return;
  snprintf(k, sizeof k, "%ld", s->k);
  snprintf(w, sizeof w, "%.0f", s->window_ms);
  snprintf(c, sizeof c, "%.0f", s->cooldown_ms);
  argv[0] = p->breaker;
  argv[1] = p->fails;
  argv[2] = failure ? "fail" : "ok";
  argv[3] = k;
  argv[4] = w;
  argv[5] = c;
  p->gen++;
  if (!failure) {
    p->fails_seen = 0;
    p->rem = 0;
  }
  if (lgw__redis_eval(s->redis, &breaker_script, WRITE_TIMEOUT, on_breaker,
                      p, NULL, 2, 6, argv, NULL) == 0)
    p->inflight++;
}

/* ---- rate limits ------------------------------------------------------------ */

typedef struct wait_ctx {
  lgw__rstate_wait_fn cb;
  void *ud;
} wait_ctx_t;

static void on_reserved(lgw__redis_t *r, const lgw__rreply_t *reply,
                        const char *err, void *ud) {
  wait_ctx_t w = *(wait_ctx_t *)ud;
  long long ms = lgw__rr_num(reply, -1);
  (void)r;
  lgw_free(ud);
  if (err || ms < 0) {
    lgw__log(LGW_LOG_DEBUG, "shared state: reservation failed: %s",
             err ? err : "bad reply");
    w.cb(w.ud, 0, 0);
    return;
  }
  w.cb(w.ud, 1, (double)ms / 1000.0);
}

int lgw__rstate_reserve(lgw__rstate_t *s, size_t pi, double tokens,
                        lgw__rstate_wait_fn cb, void *ud,
                        lgw__redis_call_t **call) {
  prov_keys_t *p;
  char rpm[32], tpm[32], tok[32];
  const char *argv[5];
  wait_ctx_t *w;
  lgw__redis_call_t *c = NULL;
  int rc;
  if (call) *call = NULL;
  if (!s || pi >= s->n || !cb || !lgw__redis_ready(s->redis))
    return LGW_ECONNECT;
  p = &s->p[pi];
  snprintf(rpm, sizeof rpm, "%ld", p->rpm);
  snprintf(tpm, sizeof tpm, "%ld", p->tpm);
  snprintf(tok, sizeof tok, "%.3f", tokens > 0 ? tokens : 0);
  argv[0] = p->rpm_key;
  argv[1] = p->tpm_key;
  argv[2] = rpm;
  argv[3] = tpm;
  argv[4] = tok;
  if (!(w = lgw__calloc(1, sizeof *w))) return LGW_ENOMEM;
  w->cb = cb;
  w->ud = ud;
  rc = lgw__redis_eval(s->redis, &reserve_script, RESERVE_TIMEOUT,
                       on_reserved, w, &c, 2, 5, argv, NULL);
  if (rc) lgw_free(w);
  lgw__redis_own_ud(c);  /* freed when the request forgets the call */
  if (call) *call = c;
  return rc;
}

void lgw__rstate_settle(lgw__rstate_t *s, size_t pi, double delta) {
  char tpm[32], d[32];
  const char *argv[3];
  if (!s || pi >= s->n || s->p[pi].tpm <= 0 || !lgw__redis_ready(s->redis))
    return;
  snprintf(tpm, sizeof tpm, "%ld", s->p[pi].tpm);
  snprintf(d, sizeof d, "%.3f", delta);
  argv[0] = s->p[pi].tpm_key;
  argv[1] = tpm;
  argv[2] = d;
  lgw__redis_eval(s->redis, &settle_script, WRITE_TIMEOUT, on_written, NULL,
                  NULL, 1, 3, argv, NULL);
}

/* ---- lifetime --------------------------------------------------------------- */

static void keys_free(lgw__rstate_t *s) {
  size_t i;
  for (i = 0; s->p && i < s->n; i++) {
    lgw_free(s->p[i].breaker);
    lgw_free(s->p[i].fails);
    lgw_free(s->p[i].rpm_key);
    lgw_free(s->p[i].tpm_key);
  }
  lgw_free(s->p);
  lgw_free(s->pref_hash);
}

int lgw__rstate_ready(const lgw__rstate_t *s) {
  return s && lgw__redis_ready(s->redis);
}

int lgw__rstate_new(struct uv_loop_s *loop, const lgw_runtime_t *rt,
                    const lgw__rstate_hooks_t *hooks,
                    const lgw__redis_opts_t *opts, lgw__rstate_t **out,
                    lgw_error_t *err) {
  lgw__rstate_t *s;
  lgw__redis_url_t url;
  lgw__redis_opts_t o;
  char why[200];
  const char *pre = rt->state_prefix ? rt->state_prefix : "";
  size_t i;
  int ok;
  *out = NULL;
  if (!rt->state || lgw__redis_url_parse(rt->state, &url, why, sizeof why))
    return lgw__error_set(err, LGW_ECONFIG, "settings.state: %s",
                          rt->state ? why : "not a Redis URL");
  s = lgw__calloc(1, sizeof *s);
  if (!s) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  s->n = rt->nproviders;
  s->p = lgw__calloc(s->n + 1, sizeof *s->p);
  s->pref_hash = lgw__sprintf("%spreferred_by_config", pre);
  ok = s->p && s->pref_hash;
  for (i = 0; ok && i < s->n; i++) {
    const lgw__provider_t *pv = &rt->providers[i];
    prov_keys_t *p = &s->p[i];
    p->breaker = lgw__sprintf("%sbreaker:%s", pre, pv->key);
    p->fails = lgw__sprintf("%sbreaker:%s:fails", pre, pv->key);
    p->rpm_key = lgw__sprintf("%srpm:%s", pre, pv->key);
    p->tpm_key = lgw__sprintf("%stpm:%s", pre, pv->key);
    p->s = s;
    p->index = i;
    p->rpm = pv->rpm;
    p->tpm = pv->tpm;
    ok = p->breaker && p->fails && p->rpm_key && p->tpm_key;
  }
  if (!ok) {
    keys_free(s);
    lgw_free(s);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  memcpy(s->config_key, rt->config_key, sizeof s->config_key);
  s->k = rt->breaker_failures;
  s->window_ms = rt->breaker_window * 1000.0;
  s->cooldown_ms = rt->breaker_cooldown * 1000.0;
  s->refresh_s = rt->state_refresh > 0 ? rt->state_refresh : 1.0;
  if (hooks) s->hooks = *hooks;
  memset(&o, 0, sizeof o);
  if (opts) o = *opts;
  o.what = "shared state";
  o.on_up = on_up;
  o.ud = s;
  if (lgw__redis_new(loop, &url, &o, &s->redis, err)) {
    keys_free(s);
    lgw_free(s);
    return err ? err->code : LGW_ENOMEM;
  }
  lgw__redis_every(s->redis, s->refresh_s, on_refresh, s);
  *out = s;
  return 0;
}

void lgw__rstate_free(lgw__rstate_t *s) {
  if (!s) return;
  lgw__redis_free(s->redis);  /* drops every pending callback */
  keys_free(s);
  lgw_free(s);
}
