/* Reading a whole descriptor, bounded. */
#include "kyborg/base/fileio.h"
#include "kyborg/base/cleanup.h"

#include <errno.h>
#include <stdlib.h>
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
