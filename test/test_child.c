/* Child processes on the loop: output and exit status reach the callback,
 * the child is reaped before it (checked in /proc), a deadline or a cancel
 * kills it, and it holds none of the parent's descriptors. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/base/fileio.h"
#include "kyborg/loop/child.h"
#include "kyborg/loop/loop.h"
#include "kytest.h"

struct outcome {
	int calls;
	pid_t pid;
	int status;
	bool timed_out, truncated, gone_at_callback;
	char output[2048];
	size_t len;
};

static bool proc_gone(pid_t pid)
{
	char path[64];
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return stat(path, &st) < 0 && errno == ENOENT;
}

static void on_done(void *userdata, struct ky_child *child, const struct ky_child_result *res)
{
	struct outcome *o = userdata;
	o->calls++;
	o->pid = ky_child_pid(child);
	o->status = res->status;
	o->timed_out = res->timed_out;
	o->truncated = res->truncated;
	o->len = res->len;
	o->gone_at_callback = proc_gone(o->pid);
	cr_assert_eq(strlen(res->output), res->len, "output is NUL-terminated at len");
	snprintf(o->output, sizeof(o->output), "%s", res->output);
}

/* Runs the loop until done was called or timeout_ms passed. */
static void run_until_done(struct ky_loop *loop, const struct outcome *o, int timeout_ms)
{
	uint64_t end = ky_loop_now_ms() + (uint64_t)timeout_ms;
	while (!o->calls && ky_loop_now_ms() < end)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
}

static int say_hello(void *data, int fd)
{
	const char *text = data;
	ky_write_all(fd, text, strlen(text));
	return 7;
}

Test(child, output_and_exit_status_reach_the_callback_after_the_reap)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct outcome o = { 0 };
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct ky_child_spec spec = { .name = "hello", .run = say_hello, .run_data = "hello\nworld\n" };
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	pid_t pid = ky_child_pid(c);
	cr_assert_gt(pid, 0);
	run_until_done(loop, &o, 10000);
	cr_assert_eq(o.calls, 1);
	cr_assert_eq(o.pid, pid);
	cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 7, "status %#x", o.status);
	cr_assert_str_eq(o.output, "hello\nworld\n");
	cr_assert_eq(o.len, 12);
	cr_assert_not(o.truncated);
	cr_assert_not(o.timed_out);
	cr_assert(o.gone_at_callback, "no zombie left in /proc/%d when the callback runs", (int)pid);
	/* Nothing more comes. */
	cr_assert_eq(ky_loop_run_once(loop, 20, NULL), 0);
	cr_assert_eq(o.calls, 1);
}

/* Closes its end early, then works on: the end of the output is not the
 * end of the child, and the loop is not held while it works. */
static int close_then_work(void *data, int fd)
{
	(void)data;
	ky_write_all(fd, "early\n", 6);
	close(fd);
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	return 3;
}

static void count_tick(struct ky_loop_timer *t, void *userdata)
{
	(void)t;
	(*(int *)userdata)++;
}

Test(child, the_loop_runs_on_while_a_child_that_closed_its_pipe_still_works)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct ky_loop_timer *t = NULL;
	struct outcome o = { 0 };
	int ticks = 0;
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	cr_assert_eq(ky_loop_timer_new(loop, count_tick, &ticks, &t, NULL), 0);
	ky_loop_timer_arm(t, 10, 10);
	struct ky_child_spec spec = { .run = close_then_work };
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	run_until_done(loop, &o, 10000);
	cr_assert_eq(o.calls, 1);
	cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 3, "status %#x", o.status);
	cr_assert_str_eq(o.output, "early\n");
	cr_assert(o.gone_at_callback);
	cr_assert_geq(ticks, 5, "the timer ran %d times while the child worked", ticks);
	ky_loop_timer_free(t);
}

static int flood(void *data, int fd)
{
	(void)data;
	char buf[4096];
	memset(buf, 'x', sizeof(buf));
	/* Four times a pipe's capacity: a reader that stopped would block it. */
	for (int i = 0; i < 64; i++)
		if (ky_write_all(fd, buf, sizeof(buf)) < 0)
			return 1;
	return 0;
}

Test(child, output_past_the_bound_is_dropped_without_blocking_the_child)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct outcome o = { 0 };
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct ky_child_spec spec = { .run = flood, .max_output = 1000 };
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	run_until_done(loop, &o, 10000);
	cr_assert_eq(o.calls, 1);
	cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "the child wrote everything: %#x", o.status);
	cr_assert_eq(o.len, 1000);
	cr_assert(o.truncated);
}

static int sleep_long(void *data, int fd)
{
	(void)data;
	(void)fd;
	for (int i = 0; i < 300; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

Test(child, a_child_past_its_deadline_is_killed_and_reaped)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct outcome o = { 0 };
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct ky_child_spec spec = { .run = sleep_long, .timeout_ms = 100 };
	uint64_t start = ky_loop_now_ms();
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	run_until_done(loop, &o, 10000);
	cr_assert_eq(o.calls, 1);
	cr_assert(o.timed_out);
	cr_assert(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGKILL, "status %#x", o.status);
	cr_assert_geq(ky_loop_now_ms() - start, 100);
	cr_assert_lt(ky_loop_now_ms() - start, 10000, "killed, not waited for");
	cr_assert(o.gone_at_callback);
}

Test(child, cancel_kills_and_reaps_the_child_and_calls_nothing)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct outcome o = { 0 };
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct ky_child_spec spec = { .run = sleep_long };
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	pid_t pid = ky_child_pid(c);
	cr_assert_eq(ky_loop_run_once(loop, 20, NULL), 0);
	cr_assert_not(proc_gone(pid), "the child runs");
	uint64_t start = ky_loop_now_ms();
	ky_child_cancel(c);
	cr_assert_lt(ky_loop_now_ms() - start, 5000);
	cr_assert(proc_gone(pid), "killed and reaped: no zombie in /proc/%d", (int)pid);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
	cr_assert_eq(o.calls, 0);
}

/* Reports its descriptors, whether fd 3 is close-on-exec, whether SIGTERM
 * is blocked and whether SIGPIPE is ignored. */
static int report_fds(void *data, int fd)
{
	(void)data;
	char line[512];
	size_t n = 0;
	for (int i = 0; i < 1024 && n < sizeof(line) - 16; i++)
		if (fcntl(i, F_GETFD) >= 0)
			n += (size_t)snprintf(line + n, sizeof(line) - n, "%d,", i);
	sigset_t now;
	struct sigaction sa;
	sigprocmask(SIG_SETMASK, NULL, &now);
	sigaction(SIGPIPE, NULL, &sa);
	n += (size_t)snprintf(line + n, sizeof(line) - n, " cloexec=%d term_blocked=%d pipe_ignored=%d",
			      (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, sigismember(&now, SIGTERM),
			      sa.sa_handler == SIG_IGN);
	ky_write_all(fd, line, n);
	return fd;
}

static void on_signal(struct ky_loop *loop, int signo, void *userdata)
{
	(void)loop;
	(void)signo;
	(void)userdata;
}

Test(child, the_child_holds_none_of_the_parents_descriptors_and_unblocks_signals)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct outcome o = { 0 };
	int sp[2];
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	/* The daemon's loop blocks its signals; its sockets stay open. */
	cr_assert_eq(ky_loop_signals(loop, on_signal, NULL, NULL), 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
	int devnull = open("/dev/null", O_RDONLY);
	cr_assert_geq(devnull, 0);
	struct ky_child_spec spec = { .run = report_fds };
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	run_until_done(loop, &o, 10000);
	cr_assert_eq(o.calls, 1);
	cr_assert(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 3, "the pipe is fd 3 in the child: %#x", o.status);
	/* 0, 1 and 2 as the test runner left them, then the pipe. */
	char *list = o.output, *rest = strchr(o.output, ' ');
	cr_assert_not_null(rest);
	*rest++ = '\0';
	cr_assert_str_eq(rest, "cloexec=1 term_blocked=0 pipe_ignored=1");
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		cr_assert_leq(atoi(tok), 3, "fd %s of the parent is open in the child (%s)", tok, list);
	close(sp[0]);
	close(sp[1]);
	close(devnull);
}

struct marker {
	const char *path;
};

static int write_marker_later(void *data, int fd)
{
	const struct marker *m = data;
	(void)fd;
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	return kyt_write_file(m->path, "done") < 0;
}

static bool exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

Test(child, a_forgotten_child_finishes_its_work)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	struct ky_child *c = NULL;
	struct outcome o = { 0 };
	_cleanup_free_ char *dir = kyt_tmpdir("kychild");
	_cleanup_free_ char *path = NULL;
	cr_assert_not_null(dir);
	cr_assert_geq(asprintf(&path, "%s/marker", dir), 0);
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	struct marker m = { path };
	struct ky_child_spec spec = { .run = write_marker_later, .run_data = &m };
	cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, NULL), 0);
	pid_t pid = ky_child_pid(c);
	ky_child_free(c);
	cr_assert(kyt_wait_until(exists, path, 10000), "the child wrote its marker after it was forgotten");
	int status;
	cr_assert_eq(waitpid(pid, &status, 0), pid, "ours to reap now");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(o.calls, 0);
	kyt_rmrf(dir);
}

/* ---- registering the child on the loop fails ---- */

/* The test binary is linked with --wrap=epoll_ctl: the loop's epoll_ctl
 * comes here, and fails the chosen EPOLL_CTL_ADD with ENOSPC, as the
 * kernel does past fs.epoll.max_user_watches. */
static int fail_add_in; /* 0: none; n: the nth ADD from now fails */

int __real_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int __wrap_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	if (op == EPOLL_CTL_ADD && fail_add_in > 0 && --fail_add_in == 0) {
		errno = ENOSPC;
		return -1;
	}
	return __real_epoll_ctl(epfd, op, fd, ev);
}

static int count_fds(void)
{
	int n = 0;
	for (int i = 0; i < 1024; i++)
		n += fcntl(i, F_GETFD) >= 0;
	return n;
}

/* Whether the pipe's watch (the first ADD) or the pidfd's (the second)
 * cannot be added, the start fails with nothing left behind: the child,
 * which would sleep for half a minute, is killed and reaped at once (no child
 * of ours is left, running or a zombie), no descriptor stays open, and no
 * callback follows. */
Test(child, a_child_whose_watch_cannot_be_added_is_killed_and_reaped)
{
	_cleanup_(ky_loop_freep) struct ky_loop *loop = NULL;
	cr_assert_eq(ky_loop_new(&loop, NULL), 0);
	for (int which = 1; which <= 2; which++) {
		struct ky_child *c = NULL;
		struct outcome o = { 0 };
		_cleanup_error_ struct ky_error *err = NULL;
		int fds = count_fds();
		struct ky_child_spec spec = { .name = "doomed", .run = sleep_long };
		fail_add_in = which;
		uint64_t start = ky_loop_now_ms();
		cr_assert_eq(ky_child_start(loop, &spec, on_done, &o, &c, &err), -ENOSPC, "ADD #%d failing", which);
		fail_add_in = 0;
		cr_assert_null(c);
		cr_assert(strstr(ky_error_msg(err), "doomed"), "%s", ky_error_msg(err));
		cr_assert_lt(ky_loop_now_ms() - start, 5000, "killed, not waited for");
		int status;
		errno = 0;
		cr_assert_eq(waitpid(-1, &status, WNOHANG), -1, "a child of ours is left (ADD #%d failing)", which);
		cr_assert_eq(errno, ECHILD);
		cr_assert_eq(count_fds(), fds, "descriptors left open (ADD #%d failing)", which);
		for (int i = 0; i < 3; i++)
			cr_assert_eq(ky_loop_run_once(loop, 10, NULL), 0);
		cr_assert_eq(o.calls, 0);
	}
}
