/*
 * json_bench.c -- the JSON work of one answer, in process, for counting
 * instructions with callgrind: `json_bench MODE N` runs MODE N times.
 * Run it with two values of N and divide the difference of the counts by
 * the difference of N to get the cost of one run without start-up.
 *
 * MODE:
 *   responses, anthropic, chat   parse a usual small answer of that format
 *                                with its transport (text, usage, finish)
 *   responses_big, anthropic_big, chat_big
 *                                the same with a 1 MiB answer whose text
 *                                is a JSON document (as tests/bench/run.sh
 *                                makes for workload 6)
 *   responses_delta, anthropic_delta
 *                                one text delta event of that format's
 *                                stream (the most frequent event)
 *   extract                      lgw__json_extract of that text (1 MiB of
 *                                JSON) and cJSON_Delete of the result
 *   cjson                        cJSON_Parse of the same text and
 *                                cJSON_Delete
 * Prints one line: the mode, N and a check value (text bytes, or nodes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "json.h"
#include "json_extract.h"
#include "transport.h"

static const char responses_reply[] =
    "{\"id\":\"resp_1\",\"object\":\"response\",\"created_at\":1,"
    "\"status\":\"completed\",\"model\":\"bench-model\",\"output\":[{"
    "\"type\":\"message\",\"id\":\"msg_1\",\"status\":\"completed\","
    "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
    "\"text\":\"The quick brown fox jumps over the lazy dog. ok\","
    "\"annotations\":[]}]}],\"usage\":{\"input_tokens\":12,"
    "\"input_tokens_details\":{\"cached_tokens\":0},\"output_tokens\":10,"
    "\"output_tokens_details\":{\"reasoning_tokens\":0},"
    "\"total_tokens\":22}}";

static const char anthropic_reply[] =
    "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
    "\"model\":\"bench-model\",\"content\":[{\"type\":\"text\","
    "\"text\":\"The quick brown fox jumps over the lazy dog. ok\"}],"
    "\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
    "\"usage\":{\"input_tokens\":12,\"output_tokens\":10}}";

static const char chat_reply[] =
    "{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\","
    "\"created\":0,\"model\":\"bench-model\",\"choices\":[{\"index\":0,"
    "\"message\":{\"role\":\"assistant\",\"content\":\"The quick brown fox "
    "jumps over the lazy dog. ok\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":10,"
    "\"total_tokens\":22}}";

static const char responses_delta[] =
    "{\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\","
    "\"output_index\":0,\"content_index\":0,\"delta\":\" quick\","
    "\"sequence_number\":4}";

static const char anthropic_delta[] =
    "{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
    "\"type\":\"text_delta\",\"text\":\" quick\"}}";

static void die(const char *what) {
  fprintf(stderr, "json_bench: %s\n", what);
  exit(2);
}

/* The text of workload 6: rows as Python's json.dumps writes them, until
 * the text escaped into an answer is about 1 MiB. */
static void big_text(lgw__buf_t *t) {
  double est = 0;
  long i;
  lgw__buf_init(t);
  if (lgw__buf_addc(t, '[')) die("out of memory");
  for (i = 0; est < (1 << 20); i++) {
    size_t before = t->len;
    if (lgw__buf_printf(t, "%s{\"id\": %ld, \"name\": \"item %ld\", "
                        "\"tags\": [\"alpha\", \"beta\"], \"score\": %.1f, "
                        "\"ok\": %s}", i ? ", " : "", i, i, i * 0.5,
                        i % 2 == 0 ? "true" : "false"))
      die("out of memory");
    est += (double)(t->len - before) * 1.18 + 2;
  }
  if (lgw__buf_addc(t, ']')) die("out of memory");
}

/* An answer of transport `name` carrying text t. */
static void big_answer(const char *name, const lgw__buf_t *t, lgw__buf_t *b) {
  int rc;
  lgw__buf_init(b);
  if (strcmp(name, "responses") == 0) {
    rc = lgw__buf_adds(b, "{\"id\":\"resp_big\",\"object\":\"response\","
                          "\"status\":\"completed\",\"output\":[{\"type\":"
                          "\"message\",\"role\":\"assistant\",\"content\":"
                          "[{\"type\":\"output_text\",\"text\":");
    rc = rc ? rc : lgw__json_add_str(b, t->data, t->len);
    rc = rc ? rc : lgw__buf_adds(b, ",\"annotations\":[]}]}],\"usage\":{"
                                    "\"input_tokens\":12,\"output_tokens\":"
                                    "9000}}");
  } else if (strcmp(name, "anthropic") == 0) {
    rc = lgw__buf_adds(b, "{\"id\":\"msg_big\",\"type\":\"message\","
                          "\"role\":\"assistant\",\"content\":[{\"type\":"
                          "\"text\",\"text\":");
    rc = rc ? rc : lgw__json_add_str(b, t->data, t->len);
    rc = rc ? rc : lgw__buf_adds(b, "}],\"stop_reason\":\"end_turn\","
                                    "\"usage\":{\"input_tokens\":12,"
                                    "\"output_tokens\":9000}}");
  } else {
    rc = lgw__buf_adds(b, "{\"id\":\"chatcmpl-big\",\"object\":"
                          "\"chat.completion\",\"choices\":[{\"index\":0,"
                          "\"message\":{\"role\":\"assistant\",\"content\":");
    rc = rc ? rc : lgw__json_add_str(b, t->data, t->len);
    rc = rc ? rc : lgw__buf_adds(b, "},\"finish_reason\":\"stop\"}],"
                                    "\"usage\":{\"prompt_tokens\":12,"
                                    "\"completion_tokens\":9000}}");
  }
  if (rc) die("out of memory");
}

static const lgw__transport_t *transport(const char *name) {
  if (strncmp(name, "responses", 9) == 0) return &lgw__transport_responses;
  if (strncmp(name, "anthropic", 9) == 0) return &lgw__transport_anthropic;
  if (strncmp(name, "chat", 4) == 0) return &lgw__transport_chat;
  return NULL;
}

static size_t count_nodes(const cJSON *v) {
  size_t n = 1;
  for (v = v->child; v; v = v->next) n += count_nodes(v);
  return n;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  long n = argc > 2 ? atol(argv[2]) : 1, i;
  const lgw__transport_t *t = transport(mode);
  lgw__buf_t text, body;
  size_t check = 0;
  lgw__buf_init(&text);
  lgw__buf_init(&body);
  if (t && strstr(mode, "_delta")) {
    const char *ev = t == &lgw__transport_responses ? responses_delta
                                                    : anthropic_delta;
    lgw__stream_t st;
    lgw__stream_init(&st);
    for (i = 0; i < n; i++) {
      lgw_error_t err;
      st.delta.len = 0;
      st.event = "";
      if (t->stream_event(&st, ev, strlen(ev), &err) != 0) die(err.message);
    }
    check = st.text.len;
    lgw__stream_free(&st);
  } else if (t) {
    const char *src;
    size_t len;
    if (strstr(mode, "_big")) {
      char name[16];
      snprintf(name, sizeof name, "%.*s", (int)strcspn(mode, "_"), mode);
      big_text(&text);
      big_answer(name, &text, &body);
      src = body.data;
      len = body.len;
    } else {
      src = t == &lgw__transport_responses   ? responses_reply
            : t == &lgw__transport_anthropic ? anthropic_reply
                                             : chat_reply;
      len = strlen(src);
    }
    for (i = 0; i < n; i++) {
      lgw__reply_t r;
      lgw_error_t err;
      memset(&r, 0, sizeof r);
      if (t->parse(src, len, "application/json", &r, &err) != 0)
        die(err.message);
      check = r.text_len;
      lgw__reply_free(&r);
    }
  } else if (strcmp(mode, "extract") == 0 || strcmp(mode, "cjson") == 0) {
    big_text(&text);
    for (i = 0; i < n; i++) {
      cJSON *doc = NULL;
      lgw_error_t err;
      if (mode[0] == 'e') {
        if (lgw__json_extract(text.data, text.len, &doc, &err) != 0)
          die(err.message);
      } else if (!(doc = cJSON_ParseWithLength(text.data, text.len))) {
        die("cJSON_Parse failed");
      }
      check = count_nodes(doc);
      cJSON_Delete(doc);
    }
  } else {
    die("usage: json_bench MODE N (see the file's first comment)");
  }
  printf("%s %ld %zu\n", mode, n, check);
  lgw__buf_free(&text);
  lgw__buf_free(&body);
  return 0;
}
