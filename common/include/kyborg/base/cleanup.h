/* Scope-bound ownership: __attribute__((cleanup)) helpers in the manner of
 * systemd and crun, so every early return releases what it owns. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <errno.h>

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void ky_freep(void *p)
{
	free(*(void **)p);
}

static inline void ky_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void ky_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void ky_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_free_ _cleanup_(ky_freep)
#define _cleanup_closedir_ _cleanup_(ky_closedirp)
#define _cleanup_close_ _cleanup_(ky_closep)
#define _cleanup_fclose_ _cleanup_(ky_fclosep)
#define _cleanup_error_ _cleanup_(ky_error_freep)

/* Defines `static inline void NAMEp(TYPE **p)` calling FUNC on a non-NULL *p. */
#define KY_DEFINE_CLEANUP(type, func)                 \
	static inline void func##p(type **p)          \
	{                                             \
		if (*p)                               \
			func(*p);                     \
	}

/* Hands ownership on: returns the value and leaves NULL (or -1) behind. */
#define TAKE_PTR(p)                            \
	({                                     \
		__typeof__(p) _tp_ = (p);      \
		(p) = NULL;                    \
		_tp_;                          \
	})
#define TAKE_FD(fd)                    \
	({                             \
		int _tf_ = (fd);       \
		(fd) = -1;             \
		_tf_;                  \
	})

#define KY_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
