/* Child processes on the loop: fork, a pipe read as it fills, a pidfd that
 * tells when the child has exited, a reap that never blocks the loop, and
 * a deadline. */
#include "kyborg/loop/child.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/loop/loop.h"

struct ky_child {
	struct ky_loop *loop;
	pid_t pid;
	int pidfd;
	int fd; /* the pipe's read end; -1 once it ended */
	struct ky_loop_io *pid_io, *out_io;
	struct ky_loop_timer *timer;
	char *out;
	size_t len, max;
	bool truncated, timed_out;
	ky_child_done_fn done;
	void *userdata;
};

pid_t ky_child_pid(const struct ky_child *c)
{
	return c->pid;
}

static void release(struct ky_child *c)
{
	ky_loop_io_free(c->pid_io);
	ky_loop_io_free(c->out_io);
	ky_loop_timer_free(c->timer);
	if (c->fd >= 0)
		close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c->out);
	free(c);
}

/* The pipe's write end moves to 3 and stays the child's own (close-on-exec:
 * a helper the child runs must not hold it, or the end would wait for
 * that helper too); every other descriptor of the parent's but 0, 1 and 2
 * goes, so a socket the parent closes ends for its peer then, not when
 * this child does. */
static int close_parent_fds(int keep)
{
	if (keep != 3) {
		if (dup2(keep, 3) < 0)
			_exit(127);
	}
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
		_exit(127);
	close_range(4, ~0U, 0);
	return 3;
}

static __attribute__((noreturn)) void run_child(const struct ky_child_spec *spec, int fd)
{
	fd = close_parent_fds(fd);
	/* The loop blocks the daemon's signals for its signalfd. */
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_IGN);
	_exit(spec->run(spec->run_data, fd) & 0xff);
}

/* Takes what the pipe holds now. Returns true at its end (EOF or error). */
static bool drain(struct ky_child *c)
{
	char buf[4096];
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return false;
		if (n <= 0)
			return true;
		size_t take = (size_t)n;
		if (c->len + take > c->max) {
			take = c->max - c->len;
			c->truncated = true;
		}
		if (take) {
			char *no = realloc(c->out, c->len + take + 1);
			if (!no) {
				c->truncated = true;
				continue;
			}
			memcpy(no + c->len, buf, take);
			c->len += take;
			no[c->len] = '\0';
			c->out = no;
		}
	}
}

static void close_output(struct ky_child *c)
{
	ky_loop_io_free(c->out_io);
	c->out_io = NULL;
	close(c->fd);
	c->fd = -1;
}

static void on_output(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_child *c = userdata;
	(void)io;
	(void)fd;
	(void)events;
	if (drain(c))
		close_output(c);
}

/* The pidfd is readable once the child has exited: it is reaped here, and
 * what it wrote before is all in the pipe by now. A process the child left
 * behind may still hold the pipe; its end is not waited for. */
static void on_exited(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_child *c = userdata;
	int status = 0;
	pid_t r;
	(void)io;
	(void)fd;
	(void)events;
	while ((r = waitpid(c->pid, &status, WNOHANG)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return; /* not yet: the pidfd says so again */
	if (c->fd >= 0) {
		drain(c);
		close_output(c);
	}
	char empty[1] = "";
	struct ky_child_result res = { .status = status, .timed_out = c->timed_out, .output = c->out ? c->out : empty,
				       .len = c->len, .truncated = c->truncated };
	if (r < 0)
		res.status = W_EXITCODE(127, 0); /* reaped by someone else: nothing to tell */
	c->done(c->userdata, c, &res);
	release(c);
}

static void on_timeout(struct ky_loop_timer *t, void *userdata)
{
	struct ky_child *c = userdata;
	(void)t;
	c->timed_out = true;
	pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
}

int ky_child_start(struct ky_loop *loop, const struct ky_child_spec *spec, ky_child_done_fn done, void *userdata,
		   struct ky_child **out, struct ky_error **err)
{
	const char *name = spec->name ? spec->name : "child process";
	int fds[2];
	struct ky_child *c = calloc(1, sizeof(*c));
	if (!c)
		return ky_error_set(err, ENOMEM, "%s: out of memory", name);
	*c = (struct ky_child){ .loop = loop, .pid = -1, .pidfd = -1, .fd = -1, .done = done, .userdata = userdata,
				.max = spec->max_output ? spec->max_output : KY_CHILD_DEFAULT_MAX_OUTPUT };
	if (pipe2(fds, O_CLOEXEC) < 0) {
		int e = errno;
		release(c);
		return ky_error_set(err, e, "%s: pipe: %s", name, strerror(e));
	}
	c->fd = fds[0];
	/* Only our end: the child writes with blocking writes. */
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) < 0) {
		int e = errno;
		close(fds[1]);
		release(c);
		return ky_error_set(err, e, "%s: pipe: %s", name, strerror(e));
	}
	c->pid = fork();
	if (c->pid == 0)
		run_child(spec, fds[1]);
	int e = errno;
	close(fds[1]);
	if (c->pid < 0) {
		release(c);
		return ky_error_set(err, e, "%s: fork: %s", name, strerror(e));
	}
	c->pidfd = pidfd_open(c->pid, 0);
	if (c->pidfd < 0) {
		/* ESRCH: already gone and reaped by someone else (SIGCHLD
		 * ignored), its pid free for another process: no kill then. */
		e = errno;
		if (e != ESRCH)
			kill(c->pid, SIGKILL);
		while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
			;
		release(c);
		return ky_error_set(err, e, "%s: pidfd_open: %s", name, strerror(e));
	}
	int r = ky_loop_io_add(loop, c->fd, KY_LOOP_READ, on_output, c, &c->out_io, err);
	if (r == 0)
		r = ky_loop_io_add(loop, c->pidfd, KY_LOOP_READ, on_exited, c, &c->pid_io, err);
	if (r == 0 && spec->timeout_ms) {
		r = ky_loop_timer_new(loop, on_timeout, c, &c->timer, err);
		if (r == 0)
			ky_loop_timer_arm(c->timer, spec->timeout_ms, 0);
	}
	if (r < 0) {
		ky_child_cancel(c);
		return ky_error_prefix(err, "%s", name);
	}
	*out = c;
	return 0;
}

void ky_child_cancel(struct ky_child *c)
{
	if (!c)
		return;
	/* Through the pidfd: the pid is ours until the reap, but only the
	 * pidfd is sure to name this child. */
	pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
	while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
		;
	release(c);
}

void ky_child_free(struct ky_child *c)
{
	if (c)
		release(c);
}
