/* Child processes on the loop: a forked child runs a function of ours (not
 * an exec) and reports on a pipe that the loop reads as it comes; the loop
 * reaps the child when it exits (no zombie, even where the daemon is PID 1
 * in its container) and hands its exit status and output to a callback. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ky_error;
struct ky_loop;
struct ky_child;

/* Runs in the child, which holds none of the parent's descriptors but 0, 1,
 * 2 and fd, the write end of the pipe (number 3, close-on-exec, so only
 * this process holds it). Signals are unblocked and at their defaults, but
 * SIGPIPE is ignored: a child its parent forgot finishes its work. The
 * return value is the child's exit status. */
typedef int (*ky_child_fn)(void *data, int fd);

struct ky_child_result {
	int status;     /* as waitpid gives it: WIFEXITED, WEXITSTATUS, WIFSIGNALED */
	bool timed_out; /* it ran past timeout_ms and was killed */
	char *output;   /* what it wrote, NUL-terminated; the callback's to modify */
	size_t len;
	bool truncated; /* it wrote more than max_output: the rest was dropped */
};

/* The child has exited and is reaped. Called once, from the loop; the
 * handle is freed when this returns. */
typedef void (*ky_child_done_fn)(void *userdata, struct ky_child *child, const struct ky_child_result *res);

struct ky_child_spec {
	const char *name;     /* in messages: "bitstream prefetch" */
	ky_child_fn run;
	void *run_data;       /* the child's copy: valid there whatever the parent does next */
	size_t max_output;    /* 0: 64 KiB */
	uint64_t timeout_ms;  /* 0: none; past it the child is killed (SIGKILL) */
};

#define KY_CHILD_DEFAULT_MAX_OUTPUT (64u * 1024u)

/* Forks a child that runs spec->run; done follows when it has exited.
 * 0, or -errno with nothing left behind (no child, no watch). */
int ky_child_start(struct ky_loop *loop, const struct ky_child_spec *spec, ky_child_done_fn done, void *userdata,
		   struct ky_child **out, struct ky_error **err);
pid_t ky_child_pid(const struct ky_child *child);
/* Kills the child (SIGKILL) and reaps it now (a killed process is gone at
 * once), then frees the handle; done is not called. Not from done. */
void ky_child_cancel(struct ky_child *child);
/* Forgets the child: the handle is freed, done is not called, and a child
 * still running is left to finish, unwatched and not reaped. For a daemon
 * on its way out (its exit takes the child along to PID 1, or the child
 * ends with the container): stopping, say, an FPGA's partial
 * reconfiguration halfway would leave the region unusable. Not from done. */
void ky_child_free(struct ky_child *child);
