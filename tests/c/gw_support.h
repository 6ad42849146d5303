/*
 * gw_support.h -- helpers shared by the C tests that run gateways: a
 * runtime from printf-formatted YAML, the settings most tests start from,
 * a quiet log, bounded string copies, a monotonic clock, and loopback
 * endpoints that refuse or never answer a connection.
 */
#ifndef LGW_GW_SUPPORT_H
#define LGW_GW_SUPPORT_H

#include <stddef.h>

#include "llmgateway.h"
#include "util.h"

/* Settings every gateway test starts from: one fallback model, a 5 s
 * timeout, fast backoff, three transport retries; extra appends lines. */
#define GWS_SETTINGS(extra)                                               \
  "settings:\n  fallback_model: m1\n  timeout: 5\n  backoff_base: 0.01\n" \
  "  backoff_max: 0.02\n  transport_retries: 3\n" extra

/* The simulator directive header of a provider entry. */
#define GWS_XSIM(d) "    headers:\n      x-sim: \"" d "\"\n"

/* A runtime from YAML formatted like printf (at most 8 KB), named
 * "test.yaml"; NULL (the error printed to stderr) when it does not load. */
lgw_runtime_t *gws_load(const char *fmt, ...) LGW__PRINTF(1, 2);

/* snprintf "%s" of s, "(null)" for NULL. */
void gws_cp(char *dst, size_t cap, const char *s);

/* Seconds on the monotonic clock. */
double gws_now_s(void);

/* A log function that drops everything (for lgw_set_log). */
void gws_quiet_log(lgw_log_level_t level, const char *msg, void *ud);

/* A loopback TCP socket bound to an ephemeral port (*port), listening
 * with backlog (not listening when backlog < 0); -1 on failure. */
int gws_listen_loopback(int backlog, int *port);

/* "http://127.0.0.1:<port>" where nothing listens (bound once, then
 * released). */
void gws_refused_url(char *url, size_t cap);

/* "http://127.0.0.1:<port>" of a listener that never accepts, its queue
 * filled: new SYNs are dropped, so connecting there only ever times out.
 * The four descriptors stay open until the caller closes them. */
void gws_blackhole_url(int fds[4], char *url, size_t cap);

#endif
