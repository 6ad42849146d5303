/*
 * test_secrets.c -- no configured secret in any output: API keys, header
 * values, userinfo and query values of base URLs are redacted from error
 * messages, attempts and events, before any cut, whatever part of them a
 * hostile server echoes and wherever it puts it; shown base URLs; the
 * redaction primitive itself; the CA file checks at gateway creation;
 * a loopback provider never reached through a proxy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_support.h"
#include "gw_support.h"
#include "llmgateway.h"
#include "test.h"
#include "util.h"

#define KEY "sk-canary-7Qx2Lm9Pz4Rt8Vw1Ny6Bc3Hd5Jf0Kg2Ms7Xa9Ue4Wq1Zo8"
#define PASS "pw-canary-Tq4Lz8Mx2Rv6"
#define QKEY "qk-canary-Hn3Ws7Pd1Yb5"

/* 1 when text holds LGW__SECRET_PIECE or more consecutive bytes of s. */
static int leaks(const char *text, const char *s) {
  size_t i, n = strlen(s);
  char piece[LGW__SECRET_PIECE + 1];
  for (i = 0; i + LGW__SECRET_PIECE <= n; i++) {
    memcpy(piece, s + i, LGW__SECRET_PIECE);
    piece[LGW__SECRET_PIECE] = '\0';
    if (strstr(text, piece)) return 1;
  }
  return 0;
}

/* ---- the redaction primitive --------------------------------------------- */

TEST(redact_whole_piece_and_short) {
  lgw__secrets_t s;
  char m[256];
  memset(&s, 0, sizeof s);
  lgw__secrets_add(&s, "abcdefghijklmnop", 16, 0);
  lgw__secrets_add(&s, "tiny7ch", 7, 0);
  lgw__secrets_add(&s, "abc", 3, 0);  /* too short: ignored */
  lgw__secrets_add(&s, "application/json", 16, 1);  /* only whole */
  snprintf(m, sizeof m, "key abcdefghijklmnop end");
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "key [redacted] end");
  /* a piece of 8 bytes anywhere; 7 bytes are left alone */
  snprintf(m, sizeof m, "x cdefghij y bcdefgh z");
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "x [redacted] y bcdefgh z");
  /* a short secret only whole */
  snprintf(m, sizeof m, "a tiny7ch b tiny7c abc");
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "a [redacted] b tiny7c abc");
  /* the last window of a secret, at the very end */
  snprintf(m, sizeof m, "zz ijklmnop");
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "zz [redacted]");
  snprintf(m, sizeof m, "application/json, application/x");
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "[redacted], application/x");
  lgw__secrets_free(&s);
}

TEST(redact_grows_within_cap) {
  lgw__secrets_t s;
  char m[16];
  memset(&s, 0, sizeof s);
  lgw__secrets_add(&s, "12345678", 8, 0);
  snprintf(m, sizeof m, "ab12345678cdefg");
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "ab[redacted]cde");
  /* the mark itself does not fit: cut where the secret began */
  snprintf(m, sizeof m, "abcdefgh1234567");
  lgw__secrets_add(&s, "gh123456", 8, 0);
  lgw__redact(&s, m, sizeof m);
  ASSERT_STREQ(m, "abcdef");
  lgw__secrets_free(&s);
}

TEST(base64) {
  lgw__buf_t b;
  lgw__buf_init(&b);
  lgw__base64(&b, "user:pw", 7);
  ASSERT_STREQ(b.data, "dXNlcjpwdw==");
  b.len = 0;
  lgw__base64(&b, "ab", 2);
  ASSERT_STREQ(b.data, "YWI=");
  lgw__buf_free(&b);
}

/* ---- a server echoing credentials ---------------------------------------- */

/* Answers 401 with the credentials it got (the authorization header and
 * the request line) at the body offset asked for by "pad=N" in the
 * request; "plain" in the request asks for a text/plain body. */
static void echo_creds(const char *head, const char *body, size_t len,
                       lgw__buf_t *out, void *ud) {
  const char *p = strstr(body, "pad="), *eol = strstr(head, "\r\n");
  char auth[512] = "";
  long pad = p ? strtol(p + 4, NULL, 10) : 0;
  int plain = strstr(body, "plain") != NULL;
  lgw__buf_t b;
  (void)len;
  (void)ud;
  echo_header(head, "authorization", auth, sizeof auth);
  lgw__buf_init(&b);
  if (!plain) lgw__buf_adds(&b, "{\"error\":{\"message\":\"");
  while ((long)b.len < pad) lgw__buf_addc(&b, 'x');
  lgw__buf_printf(&b, "%s | %.*s | more text after the credential",
                  auth, (int)(eol - head), head);
  if (!plain) {
    lgw__buf_adds(&b, "\"}}");
    echo_json(out, 401, b.data);
  } else {
    lgw__buf_printf(out, "HTTP/1.1 401 X\r\nContent-Type: text/plain\r\n"
                    "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                    b.len, b.data);
  }
  lgw__buf_free(&b);
}

typedef struct outcome {
  int done, code, nattempts, attempt_code;
  lgw__buf_t all;  /* every message, attempt and event text */
} outcome_t;

static void on_done(lgw_gateway_t *gw, uint64_t id, int status,
                    const lgw_result_t *res, const lgw_error_t *err,
                    void *ud) {
  outcome_t *o = ud;
  size_t i;
  (void)gw;
  (void)id;
  o->done = 1;
  o->code = status;
  o->nattempts = (int)res->nattempts;
  o->attempt_code = res->nattempts ? res->attempts[0].code : 0;
  if (err) lgw__buf_printf(&o->all, "%s\n", err->message);
  for (i = 0; i < res->nattempts; i++)
    lgw__buf_printf(&o->all, "%s\n%s\n", res->attempts[i].message,
                    res->attempts[i].base_url);
}

static void on_event(const lgw_event_t *ev, void *ud) {
  lgw__buf_printf(ud, "%s\n%s\n", ev->message, ev->base_url);
}

/* One request with user text `text` on a gateway for rt; every output
 * string goes into o->all (events too). */
static void run_one(lgw_runtime_t *rt, const char *text, outcome_t *o) {
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_message_t m = {"user", text};
  lgw_request_t req;
  lgw_error_t err;
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  opts.on_event = on_event;
  opts.event_ud = &o->all;
  memset(&req, 0, sizeof req);
  req.task = "t";
  req.messages = &m;
  req.nmessages = 1;
  memset(&err, 0, sizeof err);
  if (lgw_gateway_new(rt, &opts, &gw, &err)) {
    lgw__buf_printf(&o->all, "gateway_new: %s\n", err.message);
    return;
  }
  if (lgw_gateway_submit(gw, &req, on_done, o, NULL, &err) == 0)
    lgw_gateway_run(gw);
  lgw_gateway_free(gw);
}

/* For every body offset in [from, to]: one request whose 401 echoes the
 * credentials there; no 8-byte piece of any secret comes out. */
static int echo_offsets(const char *yaml_fmt, const char *kind, long from,
                        long to, const char *const *secrets) {
  echo_t *e = echo_start(echo_creds, NULL);
  lgw_runtime_t *rt;
  long off;
  int bad = 0;
  if (!e) return -1;
  rt = gws_load(yaml_fmt, echo_port(e));
  if (!rt) {
    echo_stop(e);
    return -1;
  }
  for (off = from; off <= to && !bad; off++) {
    outcome_t o;
    char text[64];
    size_t i;
    memset(&o, 0, sizeof o);
    lgw__buf_init(&o.all);
    snprintf(text, sizeof text, "%s pad=%ld", kind, off);
    run_one(rt, text, &o);
    if (!o.done || o.code != LGW_EAUTH || o.nattempts != 1 ||
        o.attempt_code != LGW_EAUTH) {
      fprintf(stderr, "  offset %ld: done %d code %d attempts %d\n%s\n",
              off, o.done, o.code, o.nattempts,
              o.all.data ? o.all.data : "");
      bad = 1;
    }
    for (i = 0; secrets[i] && !bad; i++)
      if (leaks(o.all.data, secrets[i])) {
        fprintf(stderr, "  offset %ld: a piece of %s leaked:\n%s\n", off,
                secrets[i], o.all.data);
        bad = 1;
      }
    lgw__buf_free(&o.all);
  }
  lgw_runtime_free(rt);
  echo_stop(e);
  return bad;
}

#define ECHO_SETTINGS GWS_SETTINGS("")

TEST(header_secret_never_leaks) {
  static const char *const secrets[] = {"Bearer " KEY, NULL};
  ASSERT_EQ(echo_offsets(ECHO_SETTINGS
                         "providers:\n"
                         "  - provider_type: p\n"
                         "    api_style: openai_chat\n"
                         "    base_url: http://127.0.0.1:%d/v1\n"
                         "    headers:\n"
                         "      Authorization: \"Bearer " KEY "\"\n",
                         "json", 440, 520, secrets), 0);
}

TEST(api_key_never_leaks_at_any_cut) {
  static const char *const secrets[] = {KEY, NULL};
  ASSERT_EQ(echo_offsets(ECHO_SETTINGS
                         "providers:\n"
                         "  - provider_type: p\n"
                         "    api_style: openai_chat\n"
                         "    base_url: http://127.0.0.1:%d/v1\n"
                         "    api_key: " KEY "\n",
                         "json", 440, 520, secrets), 0);
  /* a body that is not JSON is cut at 200 bytes */
  ASSERT_EQ(echo_offsets(ECHO_SETTINGS
                         "providers:\n"
                         "  - provider_type: p\n"
                         "    api_style: openai_chat\n"
                         "    base_url: http://127.0.0.1:%d/v1\n"
                         "    api_key: " KEY "\n",
                         "plain", 150, 210, secrets), 0);
}

TEST(url_credentials_never_leak) {
  /* curl sends the userinfo as Basic authorization: that leaks too */
  static const char *const secrets[] = {PASS, QKEY, "dXNlcjpwdy1jYW5hcnkt",
                                        NULL};
  ASSERT_EQ(echo_offsets(ECHO_SETTINGS
                         "providers:\n"
                         "  - provider_type: p\n"
                         "    api_style: openai_chat\n"
                         "    base_url: \"http://user:" PASS
                         "@127.0.0.1:%d/v1?key=" QKEY "\"\n",
                         "json", 440, 470, secrets), 0);
}

TEST(shown_url_hides_userinfo_and_query) {
  echo_t *e = echo_start(echo_creds, NULL);
  lgw_runtime_t *rt;
  outcome_t o;
  char want[160];
  ASSERT(e);
  rt = gws_load(ECHO_SETTINGS
                "providers:\n"
                "  - provider_type: p\n"
                "    api_style: openai_chat\n"
                "    base_url: \"http://user:" PASS
                "@127.0.0.1:%d/v1?key=" QKEY "&v=1\"\n", echo_port(e));
  ASSERT(rt);
  memset(&o, 0, sizeof o);
  lgw__buf_init(&o.all);
  run_one(rt, "json pad=0", &o);
  snprintf(want, sizeof want,
           "\nhttp://[redacted]@127.0.0.1:%d/v1?key=[redacted]&v=[redacted]\n",
           echo_port(e));
  lgw_runtime_free(rt);
  echo_stop(e);
  ASSERT_CONTAINS(o.all.data, want);
  lgw__buf_free(&o.all);
}

/* ---- CA files -------------------------------------------------------------- */

TEST(missing_ca_file_names_provider_and_file) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("")
                               "providers:\n"
                               "  - provider_type: ok\n"
                               "    base_url: https://a.example/v1\n"
                               "  - provider_type: corp\n"
                               "    base_url: https://b.example/v1\n"
                               "    ca_file: /nonexistent/corp-ca.pem\n");
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_error_t err;
  ASSERT(rt);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_gateway_new(rt, &opts, &gw, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "provider #2 (corp): cannot read the CA file "
               "'/nonexistent/corp-ca.pem' (ca_file): No such file or "
               "directory");
  ASSERT(!gw);
  lgw_runtime_free(rt);
}

TEST(ca_file_from_settings_and_env) {
  lgw_runtime_t *rt = gws_load(GWS_SETTINGS("  ca_file: /nonexistent/s.pem\n")
                               "providers:\n"
                               "  - provider_type: p\n"
                               "    base_url: https://a.example/v1\n");
  lgw_runtime_t *plain = gws_load(GWS_SETTINGS("")
                                  "providers:\n"
                                  "  - provider_type: p\n"
                                  "    base_url: http://127.0.0.1:9/v1\n"
                                  "  - provider_type: q\n"
                                  "    base_url: https://b.example/v1\n");
  lgw_gateway_t *gw = NULL;
  lgw_gateway_options_t opts;
  lgw_error_t err;
  ASSERT(rt && plain);
  memset(&opts, 0, sizeof opts);
  opts.no_state = 1;
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw_gateway_new(rt, &opts, &gw, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "provider #1 (p): cannot read the CA file "
               "'/nonexistent/s.pem' (settings.ca_file): No such file or "
               "directory");
  /* the environment, as curl reads it: CURL_CA_BUNDLE, then
   * SSL_CERT_FILE; only https providers use it */
  setenv("SSL_CERT_FILE", "/nonexistent/env.pem", 1);
  ASSERT_EQ(lgw_gateway_new(plain, &opts, &gw, &err), LGW_ECONFIG);
  ASSERT_STREQ(err.message, "provider #2 (q): cannot read the CA file "
               "'/nonexistent/env.pem' (SSL_CERT_FILE): No such file or "
               "directory");
  setenv("CURL_CA_BUNDLE", "/nonexistent/bundle.pem", 1);
  ASSERT_EQ(lgw_gateway_new(plain, &opts, &gw, &err), LGW_ECONFIG);
  ASSERT_CONTAINS(err.message, "'/nonexistent/bundle.pem' (CURL_CA_BUNDLE)");
  /* a readable one is taken */
  setenv("CURL_CA_BUNDLE", "/dev/null", 1);
  ASSERT_EQ(lgw_gateway_new(plain, &opts, &gw, &err), 0);
  lgw_gateway_free(gw);
  unsetenv("SSL_CERT_FILE");
  unsetenv("CURL_CA_BUNDLE");
  lgw_runtime_free(rt);
  lgw_runtime_free(plain);
}

static void answer_plain(const char *head, const char *body, size_t len,
                         lgw__buf_t *out, void *ud) {
  (void)head;
  (void)body;
  (void)len;
  (void)ud;
  echo_json(out, 400, "{}");
}

/* The CA file chosen is the one curl uses: a file that is not a bundle
 * fails the TLS set-up naming it (a local error: not retried); the
 * provider's ca_file wins over the environment. */
TEST(ca_file_reaches_curl) {
  echo_t *e = echo_start(answer_plain, NULL);
  char bad[] = "/tmp/lgw-bad-ca-XXXXXX", want[160];
  lgw_runtime_t *rt, *own;
  outcome_t o1, o2;
  int fd = mkstemp(bad);
  ASSERT(e && fd >= 0);
  ASSERT_EQ(write(fd, "not a certificate\n", 18), 18);
  close(fd);
  setenv("SSL_CERT_FILE", bad, 1);
  rt = gws_load(ECHO_SETTINGS "providers:\n"
                "  - provider_type: p\n"
                "    api_style: openai_chat\n"
                "    base_url: https://127.0.0.1:%d/v1\n", echo_port(e));
  own = gws_load(ECHO_SETTINGS "providers:\n"
                 "  - provider_type: p\n"
                 "    api_style: openai_chat\n"
                 "    base_url: https://127.0.0.1:%d/v1\n"
                 "    ca_file: /etc/ssl/certs/ca-certificates.crt\n",
                 echo_port(e));
  memset(&o1, 0, sizeof o1);
  memset(&o2, 0, sizeof o2);
  lgw__buf_init(&o1.all);
  lgw__buf_init(&o2.all);
  if (rt && own) {
    run_one(rt, "hi", &o1);
    run_one(own, "hi", &o2);
  }
  unsetenv("SSL_CERT_FILE");
  unlink(bad);
  lgw_runtime_free(rt);
  lgw_runtime_free(own);
  echo_stop(e);
  ASSERT_EQ(o1.nattempts, 1);
  ASSERT_EQ(o1.attempt_code, LGW_ECONFIG);
  snprintf(want, sizeof want, "error setting certificate file: %s", bad);
  ASSERT_CONTAINS(o1.all.data, want);
  ASSERT_NOT_CONTAINS(o2.all.data, "certificate file");
  ASSERT(o2.attempt_code != LGW_ECONFIG);
  lgw__buf_free(&o1.all);
  lgw__buf_free(&o2.all);
}

/* ---- proxies ----------------------------------------------------------------- */

static void answer_ok(const char *head, const char *body, size_t len,
                      lgw__buf_t *out, void *ud) {
  (void)head;
  (void)body;
  (void)len;
  (void)ud;
  echo_json(out, 200, "{\"choices\":[{\"message\":{\"role\":\"assistant\","
            "\"content\":\"direct\"}}]}");
}

TEST(loopback_provider_never_proxied) {
  static const char *const vars[] = {"http_proxy", "https_proxy", "ALL_PROXY",
                                     "all_proxy", NULL};
  echo_t *e = echo_start(answer_ok, NULL);
  char dead[64];
  lgw_runtime_t *rt;
  outcome_t o;
  size_t i;
  ASSERT(e);
  gws_refused_url(dead, sizeof dead);
  for (i = 0; vars[i]; i++) setenv(vars[i], dead, 1);
  rt = gws_load(ECHO_SETTINGS "providers:\n"
                "  - provider_type: p\n"
                "    api_style: openai_chat\n"
                "    base_url: http://localhost:%d/v1\n", echo_port(e));
  memset(&o, 0, sizeof o);
  lgw__buf_init(&o.all);
  if (rt) run_one(rt, "hi", &o);
  for (i = 0; vars[i]; i++) unsetenv(vars[i]);
  lgw_runtime_free(rt);
  ASSERT_EQ(echo_requests(e), 1);
  echo_stop(e);
  ASSERT_EQ(o.done, 1);
  ASSERT_EQ(o.code, 0);
  lgw__buf_free(&o.all);
}

int main(void) {
  lgw_set_log(gws_quiet_log, NULL, LGW_LOG_WARN);
  unsetenv("SSL_CERT_FILE");
  unsetenv("CURL_CA_BUNDLE");
  RUN(redact_whole_piece_and_short);
  RUN(redact_grows_within_cap);
  RUN(base64);
  RUN(header_secret_never_leaks);
  RUN(api_key_never_leaks_at_any_cut);
  RUN(url_credentials_never_leak);
  RUN(shown_url_hides_userinfo_and_query);
  RUN(missing_ca_file_names_provider_and_file);
  RUN(ca_file_from_settings_and_env);
  RUN(ca_file_reaches_curl);
  RUN(loopback_provider_never_proxied);
  return TEST_SUMMARY();
}
