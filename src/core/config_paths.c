/*
 * config_paths.c -- where the config and provider-state files are: the
 * user config dir (LLMGATEWAY_USER_CONFIG_DIR, else ~/.llmgateway) and the
 * files in it unless LLMGATEWAY_CONFIG / LLMGATEWAY_PROVIDER_STATE or the
 * caller names one, resolved as Python's Path.expanduser().resolve()
 * would. The environment comes in as a lookup function; depends on util
 * (strings, buffers) and libc's passwd and realpath.
 */
#include "config.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Home directory of user (NULL: the current user); malloc'd by libc
 * rules via lgw__strdup, NULL when unknown. */
static char *home_of(const char *user) {
  struct passwd pw, *res = NULL;
  char buf[16384];
  if (user)
    getpwnam_r(user, &pw, buf, sizeof buf, &res);
  else
    getpwuid_r(getuid(), &pw, buf, sizeof buf, &res);
  return res && res->pw_dir ? lgw__strdup(res->pw_dir) : NULL;
}

/* Python os.path.expanduser; caller frees. */
static char *expand_user(const char *p, lgw__getenv_fn get, void *ud) {
  const char *slash, *rest;
  char *home, *out;
  size_t hl;
  if (p[0] != '~') return lgw__strdup(p);
  slash = strchr(p, '/');
  rest = slash ? slash : p + strlen(p);
  if (rest == p + 1) {
    const char *h = get("HOME", ud);
    home = h ? lgw__strdup(h) : home_of(NULL);
  } else {
    char *user = lgw__strndup(p + 1, (size_t)(rest - p - 1));
    home = user ? home_of(user) : NULL;
    lgw_free(user);
  }
  if (!home) return lgw__strdup(p);
  hl = strlen(home);
  while (hl > 0 && home[hl - 1] == '/') hl--;
  out = lgw__sprintf("%.*s%s", (int)hl, home, rest);
  lgw_free(home);
  if (out && !out[0]) {
    lgw_free(out);
    out = lgw__strdup("/");
  }
  return out;
}

/* Absolute path with the symlinks of its existing part resolved, "." and
 * ".." removed (Python Path.resolve(strict=False)). Caller frees. */
static char *resolve_path(const char *path, lgw__getenv_fn get, void *ud) {
  char *exp = expand_user(path, get, ud), *abs_path, *p, *save = NULL;
  lgw__buf_t res;
  if (!exp) return NULL;
  if (exp[0] == '/') {
    abs_path = exp;
  } else {
    char *cwd = getcwd(NULL, 0);
    abs_path = cwd ? lgw__sprintf("%s/%s", cwd, exp) : NULL;
    free(cwd);
    lgw_free(exp);
    if (!abs_path) return NULL;
  }
  lgw__buf_init(&res);
  for (p = strtok_r(abs_path, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
    char *real;
    if (strcmp(p, ".") == 0) continue;
    if (strcmp(p, "..") == 0) {
      char *last = res.data ? strrchr(res.data, '/') : NULL;
      if (last) res.len = (size_t)(last - res.data), *last = '\0';
      continue;
    }
    if (lgw__buf_addc(&res, '/') || lgw__buf_adds(&res, p)) goto oom;
    real = realpath(res.data, NULL);
    if (real) {
      res.len = 0;
      if (lgw__buf_adds(&res, strcmp(real, "/") == 0 ? "" : real)) {
        free(real);
        goto oom;
      }
      free(real);
    }
  }
  lgw_free(abs_path);
  if (!res.len && lgw__buf_addc(&res, '/')) goto oom2;
  return lgw__buf_steal(&res);
oom:
  lgw_free(abs_path);
oom2:
  lgw__buf_free(&res);
  return NULL;
}

/* The variable's value stripped, or NULL when unset or blank. */
static char *env_nonblank(const char *name, lgw__getenv_fn get, void *ud,
                          int *oom) {
  const char *v = get(name, ud);
  char *s;
  *oom = 0;
  if (lgw__is_blank(v)) return NULL;
  s = lgw__strip(v);
  if (!s) *oom = 1;
  return s;
}

char *lgw__user_config_dir(lgw__getenv_fn get, void *ud) {
  int oom;
  char *v = env_nonblank("LLMGATEWAY_USER_CONFIG_DIR", get, ud, &oom), *r;
  if (oom) return NULL;
  r = resolve_path(v ? v : "~/.llmgateway", get, ud);
  lgw_free(v);
  return r;
}

/* dir/name ("/name" when dir is "/"); dir is freed, NULL stays NULL. */
static char *in_dir(char *dir, const char *name) {
  char *r = dir ? lgw__sprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir,
                               name)
                : NULL;
  lgw_free(dir);
  return r;
}

static char *resolve_in_dir(const char *path, const char *var,
                            const char *file, lgw__getenv_fn get, void *ud) {
  int oom;
  char *v, *r;
  if (path) return resolve_path(path, get, ud);
  v = env_nonblank(var, get, ud, &oom);
  if (oom) return NULL;
  if (v) {
    r = resolve_path(v, get, ud);
    lgw_free(v);
    return r;
  }
  return in_dir(lgw__user_config_dir(get, ud), file);
}

char *lgw__resolve_user_config_file(const char *path, lgw__getenv_fn get,
                                    void *ud) {
  return resolve_in_dir(path, "LLMGATEWAY_CONFIG", "config.yaml", get, ud);
}

/* The file's own name is not resolved: a symlink there must reach the
 * state file code as a symlink, which refuses it, instead of having its
 * target written over. */
char *lgw__resolve_provider_state_file(const char *path,
                                       lgw__getenv_fn get, void *ud) {
  int oom = 0;
  char *v = path ? NULL : env_nonblank("LLMGATEWAY_PROVIDER_STATE", get, ud,
                                       &oom);
  const char *raw = path ? path : v, *base;
  char *dir, *r;
  if (oom) return NULL;
  if (!raw)
    return in_dir(lgw__user_config_dir(get, ud), "provider-state.json");
  base = strrchr(raw, '/');
  base = base ? base + 1 : raw;
  if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0 ||
      (base == raw && raw[0] == '~')) {
    r = resolve_path(raw, get, ud);
  } else {
    dir = base == raw ? lgw__strdup(".")
                      : lgw__strndup(raw, (size_t)(base - raw));
    r = in_dir(dir ? resolve_path(dir, get, ud) : NULL, base);
    lgw_free(dir);
  }
  lgw_free(v);
  return r;
}
