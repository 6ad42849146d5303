/*
 * fileio.c -- atomic file writes (temp file + fsync + rename, mode 0600)
 * and the removal of temp files that killed writers left behind.
 */
#include "fileio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p with mode 0700 for the directories created here. */
static int make_dirs(char *dir) {
  char *p;
  for (p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
      *p = '/';
      return -1;
    }
    *p = '/';
  }
  return mkdir(dir, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* The directory part of path ("." when there is none); caller frees. */
static char *dir_of(const char *path) {
  char *dir = lgw__strdup(path), *slash;
  if (!dir) return NULL;
  slash = strrchr(dir, '/');
  if (slash == dir) slash[1] = '\0';
  else if (slash) *slash = '\0';
  else strcpy(dir, ".");
  return dir;
}

int lgw__make_parent_dirs(const char *path) {
  char *dir = dir_of(path);
  int rc;
  if (!dir) {
    errno = ENOMEM;
    return -1;
  }
  rc = make_dirs(dir);
  lgw_free(dir);
  return rc;
}

/* The pid of a name "<base>.tmp.<pid>.<n>", or 0 when name is not one. */
static long temp_pid(const char *name, const char *base) {
  size_t bl = strlen(base);
  const char *p;
  char *end;
  long pid;
  if (strncmp(name, base, bl) != 0 || strncmp(name + bl, ".tmp.", 5) != 0)
    return 0;
  p = name + bl + 5;
  if (*p < '0' || *p > '9') return 0;
  pid = strtol(p, &end, 10);
  if (*end != '.' || end[1] < '0' || end[1] > '9') return 0;
  for (p = end + 1; *p >= '0' && *p <= '9'; p++) {}
  return *p ? 0 : pid;
}

/* Removes dir's temp files of base whose writer process is gone. A temp
 * file of a live process (this one included) may be in use: kept. */
static void remove_stale_temps(const char *dir, const char *base) {
  DIR *d = opendir(dir);
  struct dirent *e;
  long self = (long)getpid();
  if (!d) return;
  while ((e = readdir(d)) != NULL) {
    long pid = temp_pid(e->d_name, base);
    char *p;
    if (pid <= 0 || pid == self) continue;
    if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    p = lgw__sprintf("%s/%s", dir, e->d_name);
    if (p) unlink(p);
    lgw_free(p);
  }
  closedir(d);
}

int lgw__write_file_atomic(const char *path, const char *data, size_t len,
                           lgw_error_t *err) {
  static unsigned long counter;
  const char *base = strrchr(path, '/');
  char *dir, *tmp = NULL;
  int fd = -1, e = 0, dfd;
  size_t off = 0;
  dir = dir_of(path);
  if (!dir) return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  if (make_dirs(dir) != 0) goto io_error;
  remove_stale_temps(dir, base ? base + 1 : path);
  tmp = lgw__sprintf("%s.tmp.%ld.%lu", path, (long)getpid(),
                     __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
  if (!tmp) {
    lgw_free(dir);
    return lgw__error_set(err, LGW_ENOMEM, "out of memory");
  }
  fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) goto io_error;
  /* 0600 whatever the umask says: the file may hold API keys */
  if (fchmod(fd, 0600) != 0) goto io_error_unlink;
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) goto io_error_unlink;
    off += (size_t)w;
  }
  if (fsync(fd) != 0) goto io_error_unlink;
  if (close(fd) != 0) {
    fd = -1;
    goto io_error_unlink;
  }
  fd = -1;
  if (rename(tmp, path) != 0) goto io_error_unlink;
  dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    /* some file systems cannot fsync a directory (EINVAL): not an error */
    if (fsync(dfd) != 0 && errno != EINVAL) e = errno;
    close(dfd);
  }
  lgw_free(tmp);
  lgw_free(dir);
  if (e)
    return lgw__error_set(err, LGW_EIO, "cannot write %s: %s", path,
                          strerror(e));
  return 0;
io_error_unlink:
  e = errno;
  if (fd >= 0) close(fd);
  unlink(tmp);
  errno = e;
io_error:
  e = errno;
  lgw_free(tmp);
  lgw_free(dir);
  return lgw__error_set(err, LGW_EIO, "cannot write %s: %s", path,
                        strerror(e));
}
