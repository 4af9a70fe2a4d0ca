/* The files the daemon leaves for others (device-info, CDI specs): a
 * directory made on demand and a file replaced atomically, so a reader
 * never sees half of one. */
#include "dp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kyborg/base/error.h"

int dp_mkdir_p(const char *path, mode_t mode, struct ky_error **err)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return ky_error_set(err, errno, "mkdir %s: %m", p);
		if (!c)
			return 0;
		*s = c;
	}
}

int dp_write_atomic(const char *dir, const char *name, const char *text, struct ky_error **err)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0 || asprintf(&tmp, "%s/.%s.tmp", dir, name) < 0)
		return ky_error_set(err, ENOMEM, "out of memory");
	_cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return ky_error_set(err, errno, "create %s: %m", tmp);
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t k = write(fd, text + off, len - off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			unlink(tmp);
			return ky_error_set(err, e, "write %s: %s", tmp, strerror(e));
		}
		off += (size_t)k;
	}
	if (rename(tmp, path) < 0) {
		int e = errno;
		unlink(tmp);
		return ky_error_set(err, e, "rename %s: %s", path, strerror(e));
	}
	return 0;
}
