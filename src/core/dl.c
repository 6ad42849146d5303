/*
 * dl.c -- a library opened at its first use (dl.h).
 */
#include "dl.h"

#include <dlfcn.h>
#include <stdio.h>

int lgw__dl_open(const char *soname, const char *lib, const char *lead,
                 const char *prefix, const char *const *names, void **syms,
                 size_t n, char *why, size_t why_size) {
  void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  size_t i;
  char sym[128];
  if (!h) {
    snprintf(why, why_size, "cannot load %s: %s", lead, dlerror());
    return -1;
  }
  for (i = 0; i < n; i++) {
    snprintf(sym, sizeof sym, "%s%s", prefix, names[i]);
    if (!(syms[i] = dlsym(h, sym))) {
      snprintf(why, why_size, "cannot load %s: no %s in %s", lib, sym,
               soname);
      dlclose(h);
      return -1;
    }
  }
  return 0;
}
