/*
 * yaml_dl.c -- opens libyaml at its first use (yaml_dl.h): dlopen of the
 * library built against, dlsym of each function yaml_load.c calls. Once
 * per process; the library stays open.
 */
#define LGW__YAML_DL_IMPL
#include "yaml_dl.h"

#include <pthread.h>
#include <string.h>

#include "dl.h"

#ifndef LGW_YAML_SONAME
#define LGW_YAML_SONAME "libyaml-0.so.2"
#endif

lgw__yaml_api_t lgw__yaml;

static pthread_once_t yaml_once = PTHREAD_ONCE_INIT;
static int yaml_status = -1;
static char yaml_why[512] = "libyaml is not loaded";

static void yaml_open(void) {
  static const char *const names[] = {
#define LGW__YAML_NAME(ret, name, args) #name,
    LGW__YAML_FUNCS(LGW__YAML_NAME)
#undef LGW__YAML_NAME
  };
  void *syms[sizeof names / sizeof *names];
  lgw__yaml_api_t api;
  size_t i = 0;
  if (lgw__dl_open(LGW_YAML_SONAME, "libyaml",
                   "libyaml (" LGW_YAML_SONAME "), needed for YAML", "yaml_",
                   names, syms, sizeof names / sizeof *names, yaml_why,
                   sizeof yaml_why))
    return;
  /* sizeof: the table's type is checked against <yaml.h>'s declaration
   * (not evaluated, so no reference to the symbol); memcpy: ISO C has no
   * conversion from void * to a function pointer */
#define LGW__YAML_SET(ret, name, args)                                      \
  (void)sizeof(api.name = yaml_##name);                                      \
  memcpy(&api.name, &syms[i++], sizeof api.name);
  LGW__YAML_FUNCS(LGW__YAML_SET)
#undef LGW__YAML_SET
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
