/*
 * dl.h -- a library opened at its first use: dlopen of its soname and
 * dlsym of each function a layer calls. The loaders of libcurl
 * (curl_dl.c), libyaml (yaml_dl.c) and hiredis (hiredis_dl.c) each keep
 * their function table and run this once per process.
 */
#ifndef LGW_DL_H
#define LGW_DL_H

#include <stddef.h>

/* Opens soname and resolves the n symbols prefix + names[i] into syms[i].
 * 0, or -1 with why (why_size bytes) set to "cannot load <lead>: <dlerror>"
 * when the library cannot be opened, or "cannot load <lib>: no <symbol>
 * in <soname>" when a symbol is missing (the library is closed again).
 * An opened library stays open for the life of the process. */
int lgw__dl_open(const char *soname, const char *lib, const char *lead,
                 const char *prefix, const char *const *names, void **syms,
                 size_t n, char *why, size_t why_size);

#endif
