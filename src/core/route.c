/*
 * route.c -- routing of one request on one provider, as the Python
 * library does it: tier, requested model, model_map, effort-suffix
 * stripping, reasoning effort, temperature, max_tokens and the transport.
 * Pure: depends only on the runtime, the provider and the overrides.
 */
#include "route.h"

#include <string.h>

static int is_ws(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
         c == '\f';
}

/* s, with surrounding whitespace ignored, equals word ignoring case. */
static int trim_eq_ci(const char *s, const char *word) {
  size_t n, k = strlen(word);
  if (!s) s = "";
  while (is_ws(*s)) s++;
  n = strlen(s);
  while (n && is_ws(s[n - 1])) n--;
  return n == k && lgw__strncasecmp(s, word, k) == 0;
}

static int starts_with_ci(const char *s, const char *prefix) {
  return s && lgw__strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static int nonempty(const char *s) { return s && *s; }

/* ---- transport (§4.6) ---------------------------------------------------- */

lgw__style_t lgw__route_style(const lgw__provider_t *p, const char *model,
                              int *explicit_match) {
  const char *as = p->api_style, *pt = p->provider_type;
  int blank = trim_eq_ci(as, "");
  lgw__style_t style = LGW__STYLE_RESPONSES;
  int hit = 1;
  if (trim_eq_ci(as, "openai_responses") || trim_eq_ci(as, "responses") ||
      (blank && trim_eq_ci(pt, "glm")))
    style = LGW__STYLE_RESPONSES;
  else if (trim_eq_ci(as, "openai_chat") || (blank && trim_eq_ci(pt, "openai")))
    style = LGW__STYLE_CHAT;
  else if (trim_eq_ci(as, "anthropic") ||
           (blank && (trim_eq_ci(pt, "anthropic") ||
                      starts_with_ci(model, "claude"))))
    style = LGW__STYLE_ANTHROPIC;
  else if (trim_eq_ci(as, "litellm") || (blank && trim_eq_ci(pt, "litellm")))
    style = LGW__STYLE_LITELLM;
  else
    hit = 0;
  if (explicit_match) *explicit_match = hit;
  return style;
}

/* ---- model normalisation (§4.3) ----------------------------------------- */

/* Whitespace runs collapsed to one space, ends stripped; caller frees. */
static char *collapse_ws(const char *s) {
  lgw__buf_t b;
  lgw__buf_init(&b);
  for (; s && *s; s++) {
    if (is_ws(*s)) {
      while (is_ws(s[1])) s++;
      if (b.len && s[1] && lgw__buf_addc(&b, ' ')) goto nomem;
    } else if (lgw__buf_addc(&b, *s)) {
      goto nomem;
    }
  }
  return lgw__buf_steal(&b);
nomem:
  lgw__buf_free(&b);
  return NULL;
}

/* The value a Python dict built from l holds for key: the last one. */
static const char *dict_get(const lgw__kvlist_t *l, const char *key) {
  const char *v = NULL;
  size_t i;
  for (i = 0; i < l->n; i++)
    if (strcmp(l->items[i].key, key) == 0) v = l->items[i].value;
  return v;
}

/* model_map lookup: exact key, then the first key equal ignoring case and
 * surrounding whitespace; blank values never match. Borrowed, or NULL. */
static const char *map_model(const lgw__kvlist_t *map, const char *model) {
  const char *v = dict_get(map, model);
  size_t i, j;
  if (!lgw__is_blank(v)) return v;
  for (i = 0; i < map->n; i++) {
    const char *key = map->items[i].key;
    for (j = 0; j < i && strcmp(map->items[j].key, key) != 0; j++) {}
    if (j < i) continue;  /* a repeated key sits at its first position */
    v = dict_get(map, key);
    if (trim_eq_ci(key, model) && !lgw__is_blank(v)) return v;
  }
  return NULL;
}

/* Length of the effort word at s ("minimal", "low", "medium", "high"),
 * any case; 0 if none. */
static size_t effort_word(const char *s) {
  static const char *const words[] = {"minimal", "low", "medium", "high"};
  size_t i;
  for (i = 0; i < sizeof words / sizeof words[0]; i++) {
    size_t k = strlen(words[i]);
    if (lgw__strncasecmp(s, words[i], k) == 0) return k;
  }
  return 0;
}

/* Whether s (the text after the base) matches, to its end,
 * (?:\s+|\s*[([])(minimal|low|medium|high)\s*[)\]]?  -- *word and *wlen
 * get the effort word. */
static int suffix_matches(const char *s, const char **word, size_t *wlen) {
  const char *p = s;
  size_t k;
  while (is_ws(*p)) p++;
  if (*p == '(' || *p == '[') p++;
  else if (p == s) return 0;
  if (!(k = effort_word(p))) return 0;
  *word = p;
  *wlen = k;
  p += k;
  while (is_ws(*p)) p++;
  if (*p == ')' || *p == ']') p++;
  return *p == '\0';
}

int lgw__normalize_model(const lgw__provider_t *p, const char *model,
                         char **out_model, char **effort) {
  char *m = collapse_ws(model), *mapped_dup = NULL;
  const char *mapped, *word = NULL;
  size_t n, base, wlen = 0;
  lgw__style_t style;
  int hit;
  *out_model = *effort = NULL;
  if (!m) return LGW_ENOMEM;
  mapped = p->model_map.n ? map_model(&p->model_map, m) : NULL;
  if (mapped) {
    mapped_dup = lgw__strip(mapped);
    lgw_free(m);
    if (!(m = mapped_dup)) return LGW_ENOMEM;
  }
  style = lgw__route_style(p, m, &hit);
  if (hit && (style == LGW__STYLE_RESPONSES || style == LGW__STYLE_CHAT)) {
    /* The shortest non-empty base after which the suffix pattern matches. */
    n = strlen(m);
    for (base = 1; base < n; base++)
      if (suffix_matches(m + base, &word, &wlen)) break;
    if (base < n) {
      *effort = lgw__lower(lgw__strndup(word, wlen));
      m[base] = '\0';
      *out_model = lgw__strip(m);
      lgw_free(m);
      if (!*effort || !*out_model) goto nomem;
      return 0;
    }
  }
  *out_model = m;
  *effort = lgw__strdup("");
  if (!*effort) goto nomem;
  return 0;
nomem:
  lgw_free(*out_model);
  lgw_free(*effort);
  *out_model = *effort = NULL;
  return LGW_ENOMEM;
}

/* ---- the whole route (§4.1-§4.5) ----------------------------------------- */

/* First non-empty of the candidates (emptiness checked before stripping). */
static const char *first_nonempty(const char *a, const char *b,
                                  const char *c, const char *d) {
  return nonempty(a) ? a : nonempty(b) ? b : nonempty(c) ? c
                         : nonempty(d) ? d : "";
}

int lgw__route(const lgw_runtime_t *rt, const lgw__provider_t *p,
               const char *task, const lgw__overrides_t *ov,
               lgw__route_t *out, lgw_error_t *err) {
  static const lgw__overrides_t none;
  lgw__task_t tmp;
  const lgw__task_t *t = lgw__runtime_task(rt, task ? task : "", &tmp);
  char *tier, *inferred = NULL;
  const char *effort;
  memset(out, 0, sizeof *out);
  if (!ov) ov = &none;
  tier = lgw__strip(nonempty(ov->tier) ? ov->tier : t->tier);
  if (!tier) goto nomem;
  lgw__lower(tier);
  out->requested_model = lgw__strip(first_nonempty(
      ov->model, t->model, lgw__runtime_model_for_tier(rt, tier),
      rt->fallback_model));
  if (!out->requested_model) goto nomem;
  if (!*out->requested_model) {
    lgw_free(tier);
    lgw__route_free(out);
    return lgw__error_set(err, LGW_ENOMODEL,
                          "No model configured for task '%s'.",
                          task ? task : "");
  }
  if (lgw__normalize_model(p, out->requested_model, &out->model, &inferred))
    goto nomem;
  effort = first_nonempty(ov->reasoning_effort, t->reasoning_effort,
                          lgw__runtime_effort_for_tier(rt, tier), inferred);
  out->reasoning_effort = lgw__strip(effort);
  lgw_free(inferred);
  lgw_free(tier);
  tier = NULL;
  if (!out->reasoning_effort) goto nomem;
  lgw__lower(out->reasoning_effort);
  out->temperature = ov->has_temperature ? ov->temperature : t->temperature;
  if (starts_with_ci(out->model, "gpt-5")) out->temperature = 1.0;
  out->max_tokens = ov->max_tokens ? ov->max_tokens
                    : t->max_tokens ? t->max_tokens
                                    : LGW_DEFAULT_MAX_TOKENS;
  out->style = lgw__route_style(p, out->model, NULL);
  return 0;
nomem:
  lgw_free(tier);
  lgw__route_free(out);
  return lgw__error_set(err, LGW_ENOMEM, "out of memory while routing");
}

void lgw__route_free(lgw__route_t *r) {
  if (!r) return;
  lgw_free(r->requested_model);
  lgw_free(r->model);
  lgw_free(r->reasoning_effort);
  r->requested_model = r->model = r->reasoning_effort = NULL;
}
