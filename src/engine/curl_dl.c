/*
 * curl_dl.c -- opens libcurl at its first use (curl_dl.h): dlopen of the
 * library the engine was built against, dlsym of each function the
 * engine calls, then curl_global_init. Once per process.
 */
#include "curl_dl.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "dl.h"

#ifndef LGW_CURL_SONAME
#define LGW_CURL_SONAME "libcurl.so.4"
#endif

lgw__curl_api_t lgw__curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int status = -1;
static char why[512] = "libcurl is not loaded";

static void load(void) {
  static const char *const names[] = {
#define LGW__CURL_NAME(ret, name, args) #name,
    LGW__CURL_FUNCS(LGW__CURL_NAME)
#undef LGW__CURL_NAME
  };
  void *syms[sizeof names / sizeof *names];
  lgw__curl_api_t api;
  size_t i = 0;
  if (lgw__dl_open(LGW_CURL_SONAME, "libcurl", "libcurl", "curl_", names,
                   syms, sizeof names / sizeof *names, why, sizeof why))
    return;
  /* memcpy: ISO C has no conversion from void * to a function pointer */
#define LGW__CURL_SET(ret, name, args)                                      \
  memcpy(&api.name, &syms[i++], sizeof api.name);
  LGW__CURL_FUNCS(LGW__CURL_SET)
#undef LGW__CURL_SET
  if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(why, sizeof why, "curl_global_init failed");
    return;
  }
  lgw__curl = api;
  status = 0;
  /* the library stays open for the life of the process */
}

int lgw__curl_load(void) {
  pthread_once(&once, load);
  return status;
}

const char *lgw__curl_error(void) {
  return why;
}
