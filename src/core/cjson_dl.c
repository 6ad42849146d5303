/*
 * cjson_dl.c -- opens libcjson at its first use (cjson_dl.h): dlopen of
 * the library the library was built against and dlsym of each function it
 * calls, then the allocator hooks lgw_set_allocator kept. Once per
 * process. Until then each entry of the table is a stub that loads it.
 */
#define LGW__CJSON_DL_IMPL
#include "cjson_dl.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dl.h"

#ifndef LGW_CJSON_SONAME
#define LGW_CJSON_SONAME "libcjson.so.1"
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int status = -1;
static char why[512] = "libcjson is not loaded";
static cJSON_Hooks hooks;
static int have_hooks;

/* a first call that no entry point checked: load, or stop with the
 * reason (a NULL would read as invalid JSON or a lack of memory) */
static void need(void) {
  if (lgw__cjson_load()) {
    fprintf(stderr, "llmgateway: %s\n", why);
    abort();
  }
}

#define LGW__CJSON_STUB(ret, name, params, args)                            \
  static ret stub_##name params {                                           \
    need();                                                                 \
    return lgw__cjson.name args;                                            \
  }
#define LGW__CJSON_VSTUB(name, params, args)                                \
  static void stub_##name params {                                          \
    if (!a) return; /* cJSON_Delete(NULL), cJSON_free(NULL): nothing */     \
    need();                                                                 \
    lgw__cjson.name args;                                                   \
  }
LGW__CJSON_FUNCS(LGW__CJSON_STUB, LGW__CJSON_VSTUB)
#undef LGW__CJSON_STUB
#undef LGW__CJSON_VSTUB

lgw__cjson_api_t lgw__cjson = {
#define LGW__CJSON_INIT(ret, name, params, args) stub_##name,
#define LGW__CJSON_VINIT(name, params, args) stub_##name,
    LGW__CJSON_FUNCS(LGW__CJSON_INIT, LGW__CJSON_VINIT)
#undef LGW__CJSON_INIT
#undef LGW__CJSON_VINIT
};

static void load(void) {
  static const char *const names[] = {
#define LGW__CJSON_NAME(ret, name, params, args) #name,
#define LGW__CJSON_VNAME(name, params, args) #name,
    LGW__CJSON_FUNCS(LGW__CJSON_NAME, LGW__CJSON_VNAME)
#undef LGW__CJSON_NAME
#undef LGW__CJSON_VNAME
  };
  void *syms[sizeof names / sizeof *names];
  lgw__cjson_api_t api;
  size_t i = 0;
  if (lgw__dl_open(LGW_CJSON_SONAME, "libcjson",
                   "libcjson (" LGW_CJSON_SONAME "), needed for JSON",
                   "cJSON_", names, syms, sizeof names / sizeof *names, why,
                   sizeof why))
    return;
  /* memcpy: ISO C has no conversion from void * to a function pointer */
#define LGW__CJSON_SET(ret, name, params, args)                             \
  memcpy(&api.name, &syms[i++], sizeof api.name);
#define LGW__CJSON_VSET(name, params, args)                                 \
  memcpy(&api.name, &syms[i++], sizeof api.name);
  LGW__CJSON_FUNCS(LGW__CJSON_SET, LGW__CJSON_VSET)
#undef LGW__CJSON_SET
#undef LGW__CJSON_VSET
  if (have_hooks) api.InitHooks(&hooks);
  lgw__cjson = api;
  status = 0;
  /* the library stays open for the life of the process */
}

int lgw__cjson_load(void) {
  pthread_once(&once, load);
  return status;
}

const char *lgw__cjson_error(void) {
  return why;
}

void lgw__cjson_hooks(cJSON_Hooks *h) {
  hooks = *h;
  have_hooks = 1;
  if (status == 0) lgw__cjson.InitHooks(&hooks);
}
