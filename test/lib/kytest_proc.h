/* Child processes of a test (peers, daemons): started with fork and exec,
 * no shell, and killed and reaped in teardown even when an assertion failed. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

struct kyt_child {
	pid_t pid;
	bool exited;
	int status; /* as waitpid reports it, once exited */
};

/* Starts argv[0] (a path) with an empty signal mask, killed when the test
 * process dies. stdout goes to out_fd when >= 0, else to /dev/null unless
 * KYTEST_VERBOSE is set; stderr is inherited. With no_preload, LD_PRELOAD is
 * dropped (peers that must not see umockdev's testbed). Asserts on failure. */
struct kyt_child *kyt_child_start(const char *const argv[], int out_fd, bool no_preload);
/* The same, with stdin read from in_fd when it is >= 0 (else inherited). */
struct kyt_child *kyt_child_start_io(const char *const argv[], int in_fd, int out_fd, bool no_preload);
/* The same with its stderr (a daemon's log) appended to log_path, created
 * 0600, and its stdin inherited. */
struct kyt_child *kyt_child_start_log(const char *const argv[], const char *log_path);
/* Tracks a child started some other way. */
struct kyt_child *kyt_child_track(pid_t pid);
/* Whether it has exited (reaps it without blocking). */
bool kyt_child_done(struct kyt_child *c);
/* The same, for kyt_wait_until-style conditions. */
bool kyt_child_done_cond(void *child);
/* SIGKILLs and reaps every tracked child still running; forgets them all. */
void kyt_children_kill_all(void);
