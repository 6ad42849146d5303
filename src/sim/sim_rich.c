/*
 * sim_rich.c -- the simulator's answers beyond text: which tool calls to
 * make (tool= directives, forcing tool_choice), minimal instances of JSON
 * schemas (structured output and tool arguments), and deterministic
 * embedding vectors.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sim.h"

static const cJSON *get(const cJSON *o, const char *key) {
  return cJSON_GetObjectItemCaseSensitive(o, key);
}

static const char *get_str(const cJSON *o, const char *key) {
  const cJSON *v = get(o, key);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int is(const char *s, const char *want) {
  return s && strcmp(s, want) == 0;
}

/* ---- minimal schema instances ------------------------------------------ */

#define MAX_DEPTH 32

/* Resolves a local "#/..." reference against root; NULL if it cannot. */
static const cJSON *resolve_ref(const cJSON *root, const char *ref) {
  const cJSON *at = root;
  char name[256];
  if (!ref || ref[0] != '#') return NULL;
  ref++;
  while (*ref == '/') {
    size_t n = 0;
    ref++;
    while (*ref && *ref != '/' && n + 1 < sizeof name) {
      if (ref[0] == '~' && (ref[1] == '0' || ref[1] == '1')) {
        name[n++] = ref[1] == '0' ? '~' : '/';
        ref += 2;
      } else {
        name[n++] = *ref++;
      }
    }
    name[n] = '\0';
    at = get(at, name);
    if (!at) return NULL;
  }
  return at;
}

/* The schema's type: "type", or the first non-"null" one of a list. */
static const char *schema_type(const cJSON *schema) {
  const cJSON *t = get(schema, "type"), *item;
  if (cJSON_IsString(t)) return t->valuestring;
  cJSON_ArrayForEach(item, (cJSON_IsArray(t) ? t : NULL))
    if (cJSON_IsString(item) && !is(item->valuestring, "null"))
      return item->valuestring;
  if (get(schema, "properties")) return "object";
  if (get(schema, "items")) return "array";
  return NULL;
}

static double number_or(const cJSON *schema, const char *key, double dflt) {
  const cJSON *v = get(schema, key);
  return cJSON_IsNumber(v) ? v->valuedouble : dflt;
}

/* A minimal instance of schema: const or the first enum value; objects
 * with their required properties; strings "x" (repeated to minLength);
 * numbers 0 (or minimum, rounded up for integers); booleans true; arrays
 * with one item (or minItems); the first anyOf/oneOf/allOf branch; local
 * $refs followed; anything else null. */
static cJSON *instance(const cJSON *schema, const cJSON *root, int depth) {
  const cJSON *v, *item;
  const char *type;
  if (depth > MAX_DEPTH || !cJSON_IsObject(schema)) return cJSON_CreateNull();
  if ((v = get(schema, "$ref")))
    return instance(resolve_ref(root, get_str(schema, "$ref")), root,
                    depth + 1);
  if ((v = get(schema, "const"))) return cJSON_Duplicate(v, 1);
  if (cJSON_IsArray(v = get(schema, "enum")) && v->child)
    return cJSON_Duplicate(v->child, 1);
  if (cJSON_IsArray(v = get(schema, "anyOf")) ||
      cJSON_IsArray(v = get(schema, "oneOf")) ||
      cJSON_IsArray(v = get(schema, "allOf"))) {
    if (!schema_type(schema)) return instance(v->child, root, depth + 1);
  }
  type = schema_type(schema);
  if (is(type, "object")) {
    cJSON *o = cJSON_CreateObject();
    const cJSON *props = get(schema, "properties");
    const cJSON *req = get(schema, "required");
    /* required properties, in the order of "properties" then the rest */
    cJSON_ArrayForEach(item, (cJSON_IsObject(props) ? props : NULL)) {
      const cJSON *r;
      cJSON_ArrayForEach(r, (cJSON_IsArray(req) ? req : NULL))
        if (cJSON_IsString(r) && is(r->valuestring, item->string))
          cJSON_AddItemToObject(o, item->string,
                                instance(item, root, depth + 1));
    }
    cJSON_ArrayForEach(item, (cJSON_IsArray(req) ? req : NULL))
      if (cJSON_IsString(item) && !get(o, item->valuestring))
        cJSON_AddItemToObject(o, item->valuestring,
                              instance(get(props, item->valuestring), root,
                                       depth + 1));
    return o;
  }
  if (is(type, "array")) {
    cJSON *a = cJSON_CreateArray();
    double n = number_or(schema, "minItems", 1), i;
    if (n < 1) n = 1;
    if (n > 100) n = 100;
    for (i = 0; i < n; i++)
      cJSON_AddItemToArray(a, instance(get(schema, "items"), root, depth + 1));
    return a;
  }
  if (is(type, "string")) {
    double n = number_or(schema, "minLength", 1);
    char buf[101];
    if (n < 1) n = 1;
    if (n > 100) n = 100;
    memset(buf, 'x', (size_t)n);
    buf[(size_t)n] = '\0';
    return cJSON_CreateString(buf);
  }
  if (is(type, "integer"))
    return cJSON_CreateNumber(ceil(number_or(schema, "minimum", 0)));
  if (is(type, "number"))
    return cJSON_CreateNumber(number_or(schema, "minimum", 0));
  if (is(type, "boolean")) return cJSON_CreateTrue();
  return cJSON_CreateNull();
}

/* Compact JSON text of schema's instance; NULL when out of memory. */
static char *instance_text(const cJSON *schema) {
  size_t n;
  return sim_json_print(instance(schema, schema, 0), &n);
}

/* The structured-output schema a request carries; *json_object set for
 * the schema-less JSON mode. */
static const cJSON *request_schema(sim_format_t fmt, const cJSON *body,
                                   int *json_object) {
  const cJSON *f;
  *json_object = 0;
  switch (fmt) {
  case SIM_RESPONSES:
    f = get(get(body, "text"), "format");
    if (is(get_str(f, "type"), "json_schema")) return get(f, "schema");
    *json_object = is(get_str(f, "type"), "json_object");
    return NULL;
  case SIM_CHAT:
    f = get(body, "response_format");
    if (is(get_str(f, "type"), "json_schema"))
      return get(get(f, "json_schema"), "schema");
    *json_object = is(get_str(f, "type"), "json_object");
    return NULL;
  case SIM_ANTHROPIC:
    f = get(get(body, "output_config"), "format");
    if (!f) f = get(body, "output_format");
    return is(get_str(f, "type"), "json_schema") ? get(f, "schema") : NULL;
  case SIM_EMBEDDINGS: break;
  }
  return NULL;
}

char *sim_schema_answer(sim_format_t fmt, const cJSON *body, int *nomem) {
  int json_object;
  const cJSON *schema = request_schema(fmt, body, &json_object);
  char *out = NULL;
  *nomem = 0;
  if (schema)
    out = instance_text(schema);
  else if (json_object)
    out = sim_strdup("{}");
  else
    return NULL;
  *nomem = out == NULL;
  return out;
}

/* ---- tool calls --------------------------------------------------------- */

/* The request's tool definition named name (the first one when name is
 * NULL) and its parameters schema; NULL when there is none. */
static const cJSON *find_tool(sim_format_t fmt, const cJSON *body,
                              const char *name, const char **found,
                              const cJSON **params) {
  const cJSON *t;
  cJSON_ArrayForEach(t, (cJSON_IsArray(get(body, "tools")) ? get(body, "tools")
                                                           : NULL)) {
    const cJSON *def = fmt == SIM_CHAT ? get(t, "function") : t;
    const char *n = get_str(def, "name");
    if (!n || (name && strcmp(n, name) != 0)) continue;
    *found = n;
    *params = get(def, fmt == SIM_ANTHROPIC ? "input_schema" : "parameters");
    return def;
  }
  return NULL;
}

/* The tool a tool_choice forces: its name, or "" for "any tool" (OpenAI
 * "required", Anthropic {"type":"any"}); NULL when it forces none. */
static const char *forced_tool(sim_format_t fmt, const cJSON *body) {
  const cJSON *c = get(body, "tool_choice");
  const char *type = get_str(c, "type");
  if (cJSON_IsString(c)) return is(c->valuestring, "required") ? "" : NULL;
  switch (fmt) {
  case SIM_RESPONSES:
    return is(type, "function") ? get_str(c, "name") : NULL;
  case SIM_CHAT:
    return is(type, "function") ? get_str(get(c, "function"), "name") : NULL;
  case SIM_ANTHROPIC:
    if (is(type, "any")) return "";
    return is(type, "tool") ? get_str(c, "name") : NULL;
  case SIM_EMBEDDINGS: break;
  }
  return NULL;
}

/* Fills call with name and args (copied), or the instance of the named
 * tool's parameters when args is NULL ({} for an unknown tool). */
static int make_call(sim_format_t fmt, const cJSON *body, const char *name,
                     const char *args, sim_call_t *call) {
  const char *found = NULL;
  const cJSON *params = NULL;
  find_tool(fmt, body, name, &found, &params);
  call->name = sim_strdup(name);
  if (args)
    call->args = sim_strdup(args);
  else if (found && params)
    call->args = instance_text(params);
  else
    call->args = sim_strdup("{}");
  return call->name && call->args ? 0 : SIM_ENOMEM;
}

/* The step of d to answer: the first whose calls do not all have results
 * among the `seen` results of the request (steps are answered in order);
 * with repeat the last step once all are answered; -1 for none. */
static int pick_step(const sim_directive_t *d, long seen) {
  size_t i = 0;
  while (i < d->ntools) {
    int step = d->tool_step[i];
    long calls = 0;
    while (i < d->ntools && d->tool_step[i] == step) {
      calls++;
      i++;
    }
    if (seen < calls) return step;
    seen -= calls;
  }
  return d->repeat && d->ntools ? d->tool_step[d->ntools - 1] : -1;
}

int sim_plan_calls(sim_format_t fmt, const sim_request_t *q,
                   const sim_directive_t *d, sim_call_t **calls, size_t *n,
                   char *err, size_t errcap) {
  const char *forced;
  size_t i;
  int rc = 0, step;
  *calls = NULL;
  *n = 0;
  if (d->ntools) {
    if ((step = pick_step(d, q->results_seen)) < 0) return 0;
    if (!(*calls = calloc(d->ntools, sizeof **calls))) return SIM_ENOMEM;
    for (i = 0; i < d->ntools && rc == 0; i++) {
      if (d->tool_step[i] != step) continue;
      rc = make_call(fmt, q->body, d->tools[i], d->tool_args[i],
                     &(*calls)[(*n)++]);
    }
  } else if (!q->has_results && d->schema_json &&
             (forced = forced_tool(fmt, q->body))) {
    const char *found = NULL;
    const cJSON *params = NULL;
    if (!find_tool(fmt, q->body, *forced ? forced : NULL, &found, &params)) {
      if (*forced) {
        snprintf(err, errcap, "tool_choice names tool '%s', which is not "
                 "in tools", forced);
        return SIM_EINVAL;
      }
      return 0;  /* "any tool" of no tools: text */
    }
    if (!(*calls = calloc(1, sizeof **calls))) return SIM_ENOMEM;
    *n = 1;
    rc = make_call(fmt, q->body, found, NULL, *calls);
  }
  if (rc || *n == 0) {
    sim_calls_free(*calls, *n);
    *calls = NULL;
    *n = 0;
  }
  return rc;
}

/* ---- embeddings --------------------------------------------------------- */

static uint64_t fnv1a(const char *s) {
  uint64_t h = 14695981039346656037ULL;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 1099511628211ULL;
  }
  return h;
}

static uint64_t splitmix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

/* Component i of the vector of text: k/1000 for an integer k in
 * [-1000, 1000], k from FNV-1a of the text mixed with i (splitmix64). */
static double component(uint64_t h, long i) {
  return (double)((long)(splitmix(h + (uint64_t)i) % 2001) - 1000) / 1000.0;
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of the vector as little-endian float32 values. */
static char *vector_base64(uint64_t h, long dims) {
  size_t n = (size_t)dims * 4, i, o = 0;
  unsigned char *raw = malloc(n);
  char *out = malloc((n + 2) / 3 * 4 + 1);
  long k;
  if (!raw || !out) {
    free(raw);
    free(out);
    return NULL;
  }
  for (k = 0; k < dims; k++) {
    float f = (float)component(h, k);
    uint32_t u;
    memcpy(&u, &f, 4);
    raw[k * 4] = (unsigned char)(u & 0xff);
    raw[k * 4 + 1] = (unsigned char)((u >> 8) & 0xff);
    raw[k * 4 + 2] = (unsigned char)((u >> 16) & 0xff);
    raw[k * 4 + 3] = (unsigned char)(u >> 24);
  }
  for (i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)raw[i] << 16;
    if (i + 1 < n) v |= (uint32_t)raw[i + 1] << 8;
    if (i + 2 < n) v |= raw[i + 2];
    out[o++] = b64chars[(v >> 18) & 63];
    out[o++] = b64chars[(v >> 12) & 63];
    out[o++] = i + 1 < n ? b64chars[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? b64chars[v & 63] : '=';
  }
  out[o] = '\0';
  free(raw);
  return out;
}

char *sim_embeddings_json(const sim_request_t *q, size_t *len) {
  const cJSON *dims_j = get(q->body, "dimensions");
  long dims = cJSON_IsNumber(dims_j) ? (long)dims_j->valuedouble : 8;
  int b64 = is(get_str(q->body, "encoding_format"), "base64");
  cJSON *j = cJSON_CreateObject(), *data, *u;
  long tokens = 0, k;
  size_t i;
  if (!j) return NULL;
  cJSON_AddStringToObject(j, "object", "list");
  data = cJSON_AddArrayToObject(j, "data");
  for (i = 0; i < q->ninputs; i++) {
    cJSON *e = cJSON_CreateObject();
    uint64_t h = fnv1a(q->inputs[i]);
    cJSON_AddItemToArray(data, e);
    cJSON_AddStringToObject(e, "object", "embedding");
    cJSON_AddNumberToObject(e, "index", (double)i);
    if (b64) {
      char *s = vector_base64(h, dims);
      if (!s) {
        cJSON_Delete(j);
        return NULL;
      }
      cJSON_AddStringToObject(e, "embedding", s);
      free(s);
    } else {
      cJSON *v = cJSON_AddArrayToObject(e, "embedding");
      for (k = 0; k < dims; k++)
        cJSON_AddItemToArray(v, cJSON_CreateNumber(component(h, k)));
    }
    tokens += sim_words(q->inputs[i], strlen(q->inputs[i]));
  }
  cJSON_AddStringToObject(j, "model", q->model);
  u = cJSON_AddObjectToObject(j, "usage");
  cJSON_AddNumberToObject(u, "prompt_tokens", (double)tokens);
  cJSON_AddNumberToObject(u, "total_tokens", (double)tokens);
  return sim_json_print(j, len);
}
