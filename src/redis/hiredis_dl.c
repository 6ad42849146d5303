/*
 * hiredis_dl.c -- opens hiredis at its first use (hiredis_dl.h): dlopen
 * of the library built against, dlsym of each function redis.c calls.
 * Once per process; the library stays open.
 */
#define LGW__HIREDIS_DL_IMPL
#include "hiredis_dl.h"

#if LGW_HIREDIS_DL

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef LGW_HIREDIS_SONAME
#define LGW_HIREDIS_SONAME "libhiredis.so.0.14"
#endif

lgw__hiredis_api_t lgw__hiredis;

static pthread_once_t hiredis_once = PTHREAD_ONCE_INIT;
static int hiredis_status = -1;
static char hiredis_why[512] = "hiredis is not loaded";

static void hiredis_open(void) {
  void *lib = dlopen(LGW_HIREDIS_SONAME, RTLD_NOW | RTLD_LOCAL);
  void *sym;
  lgw__hiredis_api_t api;
  if (!lib) {
    snprintf(hiredis_why, sizeof hiredis_why, "cannot load hiredis (" LGW_HIREDIS_SONAME
             "), needed for Redis: %s", dlerror());
    return;
  }
  /* sizeof: the table's type is checked against hiredis's declaration
   * (not evaluated, so no reference to the symbol); memcpy: ISO C has no
   * conversion from void * to a function pointer */
#define LGW__HIREDIS_SYM(ret, name, args)                                   \
  (void)sizeof(api.name = redis##name);                                      \
  if (!(sym = dlsym(lib, "redis" #name))) {                                  \
    snprintf(hiredis_why, sizeof hiredis_why, "cannot load hiredis: no redis" #name " in "   \
             LGW_HIREDIS_SONAME);                                            \
    dlclose(lib);                                                            \
    return;                                                                  \
  }                                                                          \
  memcpy(&api.name, &sym, sizeof api.name);
  LGW__HIREDIS_FUNCS(LGW__HIREDIS_SYM)
#undef LGW__HIREDIS_SYM
  lgw__hiredis = api;
  hiredis_status = 0;
}

int lgw__hiredis_load(void) {
  pthread_once(&hiredis_once, hiredis_open);
  return hiredis_status;
}

const char *lgw__hiredis_error(void) {
  return hiredis_why;
}

#else
typedef int lgw__hiredis_linked_t; /* linked: nothing here */
#endif
