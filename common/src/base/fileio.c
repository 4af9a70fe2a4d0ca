/* The file helpers of kyborg/base/fileio.h. */
#include "kyborg/base/fileio.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ky_read_all(int fd, size_t max, char **out, size_t *len)
{
	size_t cap = 4096, n = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		if (n > max)
			return -EFBIG;
		if (cap - n < 2) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb)
				return -ENOMEM;
			buf = nb;
		}
		ssize_t r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

int ky_open_regular_at(int dirfd, const char *path, struct stat *st)
{
	struct stat own;
	st = st ? st : &own;
	_cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return TAKE_FD(fd);
}

bool ky_stat_trusted(const struct stat *st)
{
	return (st->st_uid == 0 || st->st_uid == geteuid()) && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int ky_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int ky_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return -ENOMEM;
	for (char *slash = p; (slash = strchr(slash + 1, '/'));) {
		*slash = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*slash = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int write_temp(int dirfd, const char *tmp, const void *data, size_t len, mode_t mode, bool durable)
{
	_cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return -errno;
	int r = ky_write_all(fd, data, len);
	if (r < 0)
		return r;
	if (durable && fsync(fd) < 0)
		return -errno;
	/* close() reports late write-back errors on some file systems. */
	if (close(TAKE_FD(fd)) < 0)
		return -errno;
	return 0;
}

/* The fsyncs only matter for a crash of the kernel itself: the temp file is
 * complete before the rename whatever the durability, because the page
 * cache holds what write(2) returned from. fsync of the temp file keeps the
 * name from ever pointing at data not yet on disk; fsync of the directory
 * puts the rename itself on disk. */
int ky_write_atomic_at(int dirfd, const char *dir, const char *tmp, const char *name, const void *data, size_t len,
		       mode_t mode, int flags, struct ky_error **err)
{
	bool durable = flags & KY_WRITE_DURABLE;
	int r = write_temp(dirfd, tmp, data, len, mode, durable);
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return ky_error_set(err, -r, "write %s/%s: %s", dir, tmp, strerror(-r));
	}
	ky_fault_point("before-rename");
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = -errno;
		unlinkat(dirfd, tmp, 0);
		return ky_error_set(err, -r, "rename %s/%s to %s: %s", dir, tmp, name, strerror(-r));
	}
	if (durable && fsync(dirfd) < 0)
		return ky_error_set(err, errno, "sync directory %s: %s", dir, strerror(errno));
	return 0;
}

int ky_write_atomic(const char *dir, const char *name, const void *data, size_t len, mode_t mode, int flags,
		    struct ky_error **err)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, ".%s.tmp", name) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return ky_error_set(err, errno, "open directory %s: %m", dir);
	return ky_write_atomic_at(dirfd, dir, tmp, name, data, len, mode, flags, err);
}
