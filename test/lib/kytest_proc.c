/* Tracked child processes for tests; see kytest_proc.h. */
#include "kytest_proc.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CHILDREN 32

static struct kyt_child children[MAX_CHILDREN];
static int n_children;

struct kyt_child *kyt_child_track(pid_t pid)
{
	cr_assert_lt(n_children, MAX_CHILDREN);
	children[n_children] = (struct kyt_child){ .pid = pid };
	return &children[n_children++];
}

struct kyt_child *kyt_child_start(const char *const argv[], int out_fd, bool no_preload)
{
	return kyt_child_start_io(argv, -1, out_fd, no_preload);
}

static struct kyt_child *start(const char *const argv[], int in_fd, int out_fd, int err_fd, bool no_preload)
{
	/* Before the fork: see kyt_runv. */
	int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (no_preload)
			unsetenv("LD_PRELOAD");
		if (in_fd >= 0)
			dup2(in_fd, STDIN_FILENO);
		if (out_fd >= 0) {
			dup2(out_fd, STDOUT_FILENO);
		} else if (!getenv("KYTEST_VERBOSE")) {
			dup2(null, STDOUT_FILENO);
		}
		if (err_fd >= 0)
			dup2(err_fd, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(null);
	return kyt_child_track(pid);
}

struct kyt_child *kyt_child_start_io(const char *const argv[], int in_fd, int out_fd, bool no_preload)
{
	return start(argv, in_fd, out_fd, -1, no_preload);
}

struct kyt_child *kyt_child_start_log(const char *const argv[], const char *log_path)
{
	int fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s: %m", log_path);
	struct kyt_child *c = start(argv, -1, -1, fd, false);
	close(fd);
	return c;
}

bool kyt_child_done(struct kyt_child *c)
{
	if (!c->exited && waitpid(c->pid, &c->status, WNOHANG) == c->pid)
		c->exited = true;
	return c->exited;
}

bool kyt_child_done_cond(void *child)
{
	return kyt_child_done(child);
}

void kyt_children_kill_all(void)
{
	for (int i = 0; i < n_children; i++) {
		if (children[i].exited)
			continue;
		kill(children[i].pid, SIGKILL);
		waitpid(children[i].pid, NULL, 0);
	}
	n_children = 0;
}
