/*
 * test_exports.c -- the shared libraries export the public API and nothing
 * else: every symbol defined in the dynamic table of liblgw.so is lgw_*
 * (never an internal lgw__* name), and liblgw-lua.so adds only luaopen_*.
 * Reads the tables with nm -D from $LLMGATEWAY_BUILD (default build/);
 * skipped when nm or the libraries are missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

static char lib[512];

static const char *lib_path(const char *name) {
  const char *build = getenv("LLMGATEWAY_BUILD");
  snprintf(lib, sizeof lib, "%s/%s", build && *build ? build : "build",
           name);
  return lib;
}

/* Defined dynamic symbols of path not allowed by the prefixes; -1 when nm
 * cannot be run. The strays are printed; *total counts every symbol. */
static int strays(const char *path, const char *const *ok, int *total) {
  char cmd[600], line[512];
  FILE *p;
  int bad = 0;
  *total = 0;
  snprintf(cmd, sizeof cmd, "nm -D --defined-only '%s' 2>/dev/null", path);
  if (!(p = popen(cmd, "r"))) return -1;
  while (fgets(line, sizeof line, p)) {
    char addr[64], type[8], name[400];
    const char *const *w;
    if (sscanf(line, "%63s %7s %399s", addr, type, name) != 3) continue;
    ++*total;
    for (w = ok; *w; w++)
      if (strncmp(name, *w, strlen(*w)) == 0 &&
          name[strlen(*w)] != '_')  /* lgw_ but not lgw__ */
        break;
    if (!*w) {
      fprintf(stderr, "  %s exports %s\n", path, name);
      bad++;
    }
  }
  return pclose(p) == 0 ? bad : -1;
}

TEST(liblgw_exports_only_the_public_api) {
  static const char *const ok[] = {"lgw_", NULL};
  int total, bad = strays(lib_path("liblgw.so"), ok, &total);
  ASSERT_EQ(bad, 0);
  ASSERT(total >= 30);
}

TEST(liblgw_lua_adds_only_luaopen) {
  static const char *const ok[] = {"lgw_", "luaopen_", NULL};
  int total, bad = strays(lib_path("liblgw-lua.so"), ok, &total);
  ASSERT_EQ(bad, 0);
  ASSERT(total >= 30);
}

int main(void) {
  if (system("nm --version >/dev/null 2>&1") != 0 ||
      access(lib_path("liblgw.so"), R_OK) != 0 ||
      access(lib_path("liblgw-lua.so"), R_OK) != 0)
    SKIP_REST("nm, liblgw.so or liblgw-lua.so missing");
  RUN(liblgw_exports_only_the_public_api);
  RUN(liblgw_lua_adds_only_luaopen);
  return TEST_SUMMARY();
}
