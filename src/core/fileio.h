/*
 * fileio.h -- writing files that must never be seen half-written: a temp
 * file in the same directory, fsync, rename, mode 0600, parent directories
 * created 0700. Temp files left by writers that were killed are removed by
 * the next writer of the same file.
 */
#ifndef LGW_FILEIO_H
#define LGW_FILEIO_H

#include <stddef.h>

#include "util.h"

/* Creates the directories above path (mode 0700 for the new ones).
 * 0, or -1 with errno set. */
int lgw__make_parent_dirs(const char *path);

/* Writes len bytes of data to path atomically: parent directories
 * created, "<path>.tmp.<pid>.<n>" written, fsynced and renamed over path,
 * mode 0600 whatever the umask. A symlink at path is replaced, not
 * followed. Before writing, temp files of path whose process no longer
 * exists are removed. LGW_EIO with path and reason on failure. */
int lgw__write_file_atomic(const char *path, const char *data, size_t len,
                           lgw_error_t *err);

#endif
