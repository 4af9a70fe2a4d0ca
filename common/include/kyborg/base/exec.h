/* Running a helper binary (a CNI IPAM plugin, say) without a shell: given
 * argv, environment and stdin bytes, capture its stdout, bounded in size
 * and time. */
#pragma once

#include <stddef.h>

struct ky_error;

struct ky_exec {
	const char *path;     /* the binary to run (absolute or relative, never looked up) */
	char *const *argv;    /* NULL-terminated; argv[0] defaults to path when argv is NULL */
	char *const *envp;    /* NULL-terminated; the child's whole environment */
	const char *input;    /* written to its stdin, which is then closed; may be NULL */
	size_t input_len;
	int timeout_ms;       /* <= 0: no limit */
	size_t max_output;    /* 0: 1 MiB */
};

/* Runs the binary with stdin from `input`, stdout captured into *out
 * (malloc'd, NUL-terminated, *out_len bytes without the NUL; out_len may be
 * NULL) and stderr inherited. *status is its exit code, or 128 + the signal
 * that ended it. Returns 0 once it ran, whatever its status; -ENOENT/-EACCES
 * when it cannot be started, -ETIMEDOUT when it ran past timeout_ms and
 * -E2BIG when it wrote more than max_output (it is killed in both cases). */
int ky_exec_capture(const struct ky_exec *x, char **out, size_t *out_len, int *status, struct ky_error **err);

/* Finds `name` (a bare file name, no '/') in the ':'-separated directory
 * list `path`: the first executable regular file. *out is malloc'd.
 * -ENOENT naming the list when there is none, -EINVAL for a name with '/'. */
int ky_exec_find(const char *name, const char *path, char **out, struct ky_error **err);
