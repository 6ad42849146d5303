/*
 * test_fileio.c -- the atomic writer's clean-up of temp files: only
 * "<name>.tmp.<pid>.<n>" of the file being written, and only when that
 * process is gone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fileio.h"
#include "test.h"

static char tmpdir[256];

static const char *at(const char *fmt, long pid) {
  static char bufs[8][600];
  static int next;
  char name[300];
  char *b = bufs[next++ % 8];
  snprintf(name, sizeof name, fmt, pid);
  snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
  return b;
}

static void touch(const char *path) {
  FILE *f = fopen(path, "wb");
  if (f) fclose(f);
}

static int exists(const char *path) {
  struct stat st;
  return lstat(path, &st) == 0;
}

static long dead_pid(void) {
  int status;
  pid_t kid = fork();
  if (kid == 0) _exit(0);
  waitpid(kid, &status, 0);
  return (long)kid;
}

TEST(only_dead_writers_temps_of_this_file_go) {
  long dead = dead_pid(), live = (long)getppid();
  const char *gone1 = at("cfg.yaml.tmp.%ld.1", dead);
  const char *gone2 = at("cfg.yaml.tmp.%ld.123456", dead);
  const char *alive = at("cfg.yaml.tmp.%ld.2", live);
  const char *other = at("cfg.yaml2.tmp.%ld.1", dead);
  const char *odd1 = at("cfg.yaml.tmp.%ld", dead);
  const char *odd2 = at("cfg.yaml.tmp.%ld.1x", dead);
  const char *odd3 = at("cfg.yaml.tmp.%ld.", dead);
  lgw_error_t err;
  ASSERT(kill((pid_t)dead, 0) != 0 && errno == ESRCH);
  touch(gone1);
  touch(gone2);
  touch(alive);
  touch(other);
  touch(odd1);
  touch(odd2);
  touch(odd3);
  memset(&err, 0, sizeof err);
  ASSERT_EQ(lgw__write_file_atomic(at("cfg.yaml", 0), "a: 1\n", 5, &err), 0);
  ASSERT(!exists(gone1));
  ASSERT(!exists(gone2));
  ASSERT(exists(alive));
  ASSERT(exists(other));
  ASSERT(exists(odd1));
  ASSERT(exists(odd2));
  ASSERT(exists(odd3));
}

TEST(make_parent_dirs) {
  struct stat st;
  ASSERT_EQ(lgw__make_parent_dirs(at("a/b/c/file", 0)), 0);
  ASSERT_EQ(stat(at("a/b/c", 0), &st), 0);
  ASSERT(S_ISDIR(st.st_mode));
  ASSERT_EQ(st.st_mode & 0777, 0700);
  ASSERT(!exists(at("a/b/c/file", 0)));
  touch(at("plain", 0));
  ASSERT_EQ(lgw__make_parent_dirs(at("plain/x/file", 0)), -1);
  ASSERT_EQ(errno, ENOTDIR);
}

int main(void) {
  char cmd[300];
  snprintf(tmpdir, sizeof tmpdir, "/tmp/lgw-test-fileio-XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(only_dead_writers_temps_of_this_file_go);
  RUN(make_parent_dirs);
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
  return TEST_SUMMARY();
}
