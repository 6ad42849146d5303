/*
 * hiredis_dl.c -- opens hiredis at its first use (hiredis_dl.h): dlopen
 * of the library built against, dlsym of each function redis.c calls.
 * Once per process; the library stays open.
 */
#define LGW__HIREDIS_DL_IMPL
#include "hiredis_dl.h"

#if LGW_HIREDIS_DL

#include <pthread.h>
#include <string.h>

#include "dl.h"

#ifndef LGW_HIREDIS_SONAME
#define LGW_HIREDIS_SONAME "libhiredis.so.0.14"
#endif

lgw__hiredis_api_t lgw__hiredis;

static pthread_once_t hiredis_once = PTHREAD_ONCE_INIT;
static int hiredis_status = -1;
static char hiredis_why[512] = "hiredis is not loaded";

static void hiredis_open(void) {
  static const char *const names[] = {
#define LGW__HIREDIS_NAME(ret, name, args) #name,
    LGW__HIREDIS_FUNCS(LGW__HIREDIS_NAME)
#undef LGW__HIREDIS_NAME
  };
  void *syms[sizeof names / sizeof *names];
  lgw__hiredis_api_t api;
  size_t i = 0;
  if (lgw__dl_open(LGW_HIREDIS_SONAME, "hiredis",
                   "hiredis (" LGW_HIREDIS_SONAME "), needed for Redis",
                   "redis", names, syms, sizeof names / sizeof *names,
                   hiredis_why, sizeof hiredis_why))
    return;
  /* sizeof: the table's type is checked against hiredis's declaration
   * (not evaluated, so no reference to the symbol); memcpy: ISO C has no
   * conversion from void * to a function pointer */
#define LGW__HIREDIS_SET(ret, name, args)                                   \
  (void)sizeof(api.name = redis##name);                                      \
  memcpy(&api.name, &syms[i++], sizeof api.name);
  LGW__HIREDIS_FUNCS(LGW__HIREDIS_SET)
#undef LGW__HIREDIS_SET
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
