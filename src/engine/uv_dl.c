/*
 * uv_dl.c -- opens libuv at its first use (uv_dl.h): dlopen of the
 * library the engine was built against and dlsym of each function the
 * library calls. Once per process.
 */
#define LGW__UV_DL_IMPL
#include "uv_dl.h"

#include <pthread.h>
#include <string.h>

#include "dl.h"

#ifndef LGW_UV_SONAME
#define LGW_UV_SONAME "libuv.so.1"
#endif

lgw__uv_api_t lgw__uv;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int status = -1;
static char why[512] = "libuv is not loaded";

static void load(void) {
  static const char *const names[] = {
#define LGW__UV_NAME(ret, name, args) #name,
    LGW__UV_FUNCS(LGW__UV_NAME)
#undef LGW__UV_NAME
  };
  void *syms[sizeof names / sizeof *names];
  lgw__uv_api_t api;
  size_t i = 0;
  if (lgw__dl_open(LGW_UV_SONAME, "libuv",
                   "libuv (" LGW_UV_SONAME "), needed for the event loop",
                   "uv_", names, syms, sizeof names / sizeof *names, why,
                   sizeof why))
    return;
  /* memcpy: ISO C has no conversion from void * to a function pointer */
#define LGW__UV_SET(ret, name, args)                                        \
  memcpy(&api.name, &syms[i++], sizeof api.name);
  LGW__UV_FUNCS(LGW__UV_SET)
#undef LGW__UV_SET
  lgw__uv = api;
  status = 0;
  /* the library stays open for the life of the process */
}

int lgw__uv_load(void) {
  pthread_once(&once, load);
  return status;
}

const char *lgw__uv_error(void) {
  return why;
}
