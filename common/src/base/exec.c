/* Running a helper binary with posix_spawn (no shell, no fork of our
 * address space), feeding its stdin and capturing its stdout with a
 * deadline and a size bound. */
#include "kyborg/base/exec.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_OUTPUT (1u << 20)

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int reap(pid_t pid, int *status)
{
	int ws;
	pid_t r;
	do
		r = waitpid(pid, &ws, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (status)
		*status = WIFEXITED(ws) ? WEXITSTATUS(ws) : WIFSIGNALED(ws) ? 128 + WTERMSIG(ws) : 255;
	return 0;
}

int ky_exec_capture(const struct ky_exec *x, char **out, size_t *out_len, int *status, struct ky_error **err)
{
	/* stdin is a socket so that a child which exits without reading cannot
	 * raise SIGPIPE in us: send(MSG_NOSIGNAL) reports EPIPE instead, and the
	 * library leaves the process's signal dispositions alone. */
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
		return ky_error_set(err, errno, "run %s: socketpair: %s", x->path, strerror(errno));
	_cleanup_close_ int in_parent = in[0], in_child = in[1];
	if (pipe2(outp, O_CLOEXEC) < 0)
		return ky_error_set(err, errno, "run %s: pipe: %s", x->path, strerror(errno));
	_cleanup_close_ int out_parent = outp[0], out_child = outp[1];

	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_child, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, out_child, STDOUT_FILENO);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	/* A child must not inherit a blocked or ignored SIGPIPE/SIGCHLD. */
	sigset_t none, def;
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGCHLD);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	char *const default_argv[] = { (char *)x->path, NULL };
	static char *const empty_env[] = { NULL };
	pid_t pid;
	int r = posix_spawn(&pid, x->path, &fa, &attr, x->argv ? x->argv : default_argv,
			    x->envp ? x->envp : empty_env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r != 0)
		return ky_error_set(err, r, "run %s: %s", x->path, strerror(r));
	ky_closep(&in_child);
	in_child = -1;
	ky_closep(&out_child);
	out_child = -1;

	size_t max = x->max_output ? x->max_output : DEFAULT_MAX_OUTPUT;
	_cleanup_free_ char *buf = malloc(max + 1);
	if (!buf) {
		kill(pid, SIGKILL);
		reap(pid, NULL);
		return ky_error_set(err, ENOMEM, "run %s: allocate output buffer", x->path);
	}
	size_t len = 0, written = 0, in_len = x->input ? x->input_len : 0;
	int64_t deadline = x->timeout_ms > 0 ? now_ms() + x->timeout_ms : 0;
	int fail = 0;
	if (in_len == 0) {
		ky_closep(&in_parent);
		in_parent = -1;
	}

	while (out_parent >= 0) {
		struct pollfd p[2] = { { .fd = out_parent, .events = POLLIN }, { .fd = in_parent, .events = POLLOUT } };
		int wait = -1;
		if (deadline) {
			int64_t left = deadline - now_ms();
			if (left <= 0) {
				fail = ETIMEDOUT;
				break;
			}
			wait = left > INT_MAX ? INT_MAX : (int)left;
		}
		int n = poll(p, in_parent >= 0 ? 2 : 1, wait);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fail = errno;
			break;
		}
		if (in_parent >= 0 && (p[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = send(in_parent, x->input + written, in_len - written, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w > 0)
				written += (size_t)w;
			/* A child that stops reading early is its own business: its
			 * status and output tell what happened. */
			if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == in_len) {
				ky_closep(&in_parent);
				in_parent = -1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t rd = read(out_parent, buf + len, max + 1 - len);
			if (rd < 0 && errno == EINTR)
				continue;
			if (rd <= 0) {
				ky_closep(&out_parent);
				out_parent = -1;
				break;
			}
			len += (size_t)rd;
			if (len > max) {
				fail = E2BIG;
				break;
			}
		}
	}
	if (fail)
		kill(pid, SIGKILL);
	int st = 0;
	r = reap(pid, &st);
	if (fail == ETIMEDOUT)
		return ky_error_set(err, ETIMEDOUT, "run %s: no answer within %d ms, killed", x->path, x->timeout_ms);
	if (fail == E2BIG)
		return ky_error_set(err, E2BIG, "run %s: output exceeds %zu bytes, killed", x->path, max);
	if (fail)
		return ky_error_set(err, fail, "run %s: %s", x->path, strerror(fail));
	if (r < 0)
		return ky_error_set(err, -r, "run %s: wait: %s", x->path, strerror(-r));
	buf[len] = '\0';
	if (status)
		*status = st;
	if (out_len)
		*out_len = len;
	if (out)
		*out = TAKE_PTR(buf);
	return 0;
}

int ky_exec_find(const char *name, const char *path, char **out, struct ky_error **err)
{
	if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return ky_error_set(err, EINVAL, "invalid plugin name \"%s\"", name ? name : "");
	const char *p = path ? path : "";
	while (*p) {
		const char *end = strchrnul(p, ':');
		if (end > p) {
			char *cand = NULL;
			if (asprintf(&cand, "%.*s/%s", (int)(end - p), p, name) < 0)
				return ky_error_set(err, ENOMEM, "find %s", name);
			struct stat st;
			if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
				*out = cand;
				return 0;
			}
			free(cand);
		}
		p = *end ? end + 1 : end;
	}
	return ky_error_set(err, ENOENT, "plugin %s not found in \"%s\"", name, path ? path : "");
}
