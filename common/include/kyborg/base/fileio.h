/* Whole files and descriptors: bounded reads, complete writes, directories
 * made with their parents, and files replaced atomically. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

struct ky_error;

/* Reads fd to its end into *out (malloc'd, NUL-terminated; *len bytes
 * without the NUL). -EFBIG when it holds more than max bytes, -errno on a
 * read error; *out is untouched on failure. */
int ky_read_all(int fd, size_t max, char **out, size_t *len);

/* Opens path (relative to dirfd, or AT_FDCWD) read-only as an input that
 * must be a regular file: never through a symbolic link in its last
 * component (-ELOOP), never waiting on a FIFO or opening a device for
 * real (O_NONBLOCK; -EINVAL for anything but a regular file). The
 * descriptor (blocking again), or -errno; *st (may be NULL) gets its fstat. */
int ky_open_regular_at(int dirfd, const char *path, struct stat *st);

/* Whether only the node's administrator can change a file or directory:
 * owned by root (or the process's effective user) and not writable by its
 * group or others. */
bool ky_stat_trusted(const struct stat *st);

/* Writes all len bytes, retrying short writes and EINTR. 0, or -errno
 * (-EIO for a write that returned 0). */
int ky_write_all(int fd, const void *buf, size_t len);

/* Creates path and every missing parent with mode (a directory already
 * there is fine). 0 or -errno. */
int ky_mkdir_p(const char *path, mode_t mode);

enum {
	/* fsync the file before the rename and the directory after it, so the
	 * new content survives a power loss, not only a process's death. */
	KY_WRITE_DURABLE = 1 << 0,
};

/* Replaces the file `name` in the directory dirfd (named dir in messages)
 * atomically: writes the temp file `tmp` beside it (created with mode,
 * never through a symlink), then renames it over name, so a reader, or a
 * process started after the writer was killed, sees the old file or the
 * new one, never a mix. The temp file is gone on failure; the fault point
 * "before-rename" lets a test kill the writer between the two steps. */
int ky_write_atomic_at(int dirfd, const char *dir, const char *tmp, const char *name, const void *data, size_t len,
		       mode_t mode, int flags, struct ky_error **err);
/* The same in the directory dir, with the temp file ".<name>.tmp". */
int ky_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode, int flags,
		    struct ky_error **err);
