/*
 * yaml_dl.c -- opens libyaml at its first use (yaml_dl.h): dlopen of the
 * library built against, dlsym of each function yaml_load.c calls. Once
 * per process; the library stays open.
 */
#define LGW__YAML_DL_IMPL
#include "yaml_dl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#ifndef LGW_YAML_SONAME
#define LGW_YAML_SONAME "libyaml-0.so.2"
#endif

lgw__yaml_api_t lgw__yaml;

static pthread_once_t yaml_once = PTHREAD_ONCE_INIT;
static int yaml_status = -1;
static char yaml_why[512] = "libyaml is not loaded";

static void yaml_open(void) {
  void *lib = dlopen(LGW_YAML_SONAME, RTLD_NOW | RTLD_LOCAL);
  void *sym;
  lgw__yaml_api_t api;
  if (!lib) {
    snprintf(yaml_why, sizeof yaml_why, "cannot load libyaml (" LGW_YAML_SONAME
             "), needed for YAML: %s", dlerror());
    return;
  }
  /* sizeof: the table's type is checked against <yaml.h>'s declaration
   * (not evaluated, so no reference to the symbol); memcpy: ISO C has no
   * conversion from void * to a function pointer */
#define LGW__YAML_SYM(ret, name, args)                                      \
  (void)sizeof(api.name = yaml_##name);                                      \
  if (!(sym = dlsym(lib, "yaml_" #name))) {                                  \
    snprintf(yaml_why, sizeof yaml_why, "cannot load libyaml: no yaml_" #name " in "   \
             LGW_YAML_SONAME);                                               \
    dlclose(lib);                                                            \
    return;                                                                  \
  }                                                                          \
  memcpy(&api.name, &sym, sizeof api.name);
  LGW__YAML_FUNCS(LGW__YAML_SYM)
#undef LGW__YAML_SYM
  lgw__yaml = api;
  yaml_status = 0;
}

int lgw__yaml_load_lib(void) {
  pthread_once(&yaml_once, yaml_open);
  return yaml_status;
}

const char *lgw__yaml_lib_error(void) {
  return yaml_why;
}
