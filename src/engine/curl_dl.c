/*
 * curl_dl.c -- opens libcurl at its first use (curl_dl.h): dlopen of the
 * library the engine was built against, dlsym of each function the
 * engine calls, then curl_global_init. Once per process.
 */
#include "curl_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef LGW_CURL_SONAME
#define LGW_CURL_SONAME "libcurl.so.4"
#endif

lgw__curl_api_t lgw__curl;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int status = -1;
static char why[512] = "libcurl is not loaded";

static void load(void) {
  void *lib = dlopen(LGW_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
  void *sym;
  lgw__curl_api_t api;
  if (!lib) {
    snprintf(why, sizeof why, "cannot load libcurl: %s", dlerror());
    return;
  }
  /* memcpy: ISO C has no conversion from void * to a function pointer */
#define LGW__CURL_SYM(ret, name, args)                                      \
  if (!(sym = dlsym(lib, "curl_" #name))) {                                  \
    snprintf(why, sizeof why, "cannot load libcurl: no curl_" #name " in "   \
             LGW_CURL_SONAME);                                               \
    return;                                                                  \
  }                                                                          \
  memcpy(&api.name, &sym, sizeof api.name);
  LGW__CURL_FUNCS(LGW__CURL_SYM)
#undef LGW__CURL_SYM
  if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    snprintf(why, sizeof why, "curl_global_init failed");
    return;
  }
  lgw__curl = api;
  status = 0;
  /* lib stays open for the life of the process */
}

int lgw__curl_load(void) {
  pthread_once(&once, load);
  return status;
}

const char *lgw__curl_error(void) {
  return why;
}
