/* FPGA resources: bitstreams fetched into the image cache ahead of time
 * (start, reload), and a device's region programmed in PreStartContainer,
 * which kubelet gives 30 s, never in Allocate, which it waits on with no
 * deadline while it admits every pod of the node. */
#include "dp_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/pci/fpga.h"
#include "kyborg/base/log.h"

extern char **environ;

/* Under kubelet's 30 s PreStartContainer deadline. */
#define DP_LOADER_TIMEOUT_MS 25000

char *dp_image_cache_dir(const struct dp_options *opts)
{
	char *s;
	return asprintf(&s, "%s/images", opts->state_dir) < 0 ? NULL : s;
}

int dp_child_close_fds(int keep)
{
	if (keep >= 0 && keep != 3) {
		if (dup2(keep, 3) < 0)
			_exit(127);
		keep = 3;
	}
	if (keep == 3)
		fcntl(3, F_SETFD, FD_CLOEXEC);
	close_range(keep == 3 ? 4 : 3, ~0U, 0);
	return keep;
}

/* A download can take minutes: it runs in a child, watched through a pipe
 * whose end comes with the child's exit; the loop then reaps it (in a
 * container the daemon is PID 1: an orphan would be its zombie too). */
struct dp_prefetch {
	struct dp_daemon *d;
	pid_t pid;
	int fd;
	struct ky_loop_io *io;
	struct dp_prefetch *next;
};

static void prefetch_free(struct dp_prefetch *f)
{
	struct dp_prefetch **pp = &f->d->prefetches;
	while (*pp && *pp != f)
		pp = &(*pp)->next;
	if (*pp)
		*pp = f->next;
	ky_loop_io_free(f->io);
	if (f->fd >= 0)
		close(f->fd);
	free(f);
}

void dp_fpga_prefetch_release(struct dp_daemon *d)
{
	while (d->prefetches)
		prefetch_free(d->prefetches);
}

static void on_prefetch_end(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct dp_prefetch *f = userdata;
	(void)io;
	(void)events;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN)))
		return;
	/* The child has closed its end: it is exiting, if not gone already. */
	while (waitpid(f->pid, NULL, 0) < 0 && errno == EINTR)
		;
	prefetch_free(f);
}

void dp_fpga_prefetch(struct dp_daemon *d, const struct dp_resource *res)
{
	if (!res->has_bitstream || !res->bitstream.url)
		return;
	int fds[2];
	struct dp_prefetch *f = calloc(1, sizeof(*f));
	if (!f || pipe2(fds, O_CLOEXEC) < 0) {
		free(f);
		ky_warn("bitstream-prefetch-failed", "resource=%s errno=%d", res->name, errno);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		close(fds[0]);
		dp_child_close_fds(fds[1]); /* held until exit: its end is the child's */
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_free_ char *cache = dp_image_cache_dir(d->opts), *path = NULL;
		if (!cache || ky_image_resolve(&res->bitstream, cache, d->opts->fetch_helper, &path, &err) < 0)
			ky_log_err(KY_LOG_WARN, "bitstream-prefetch-failed", err, "resource=%s url=%s", res->name,
				   res->bitstream.url);
		else
			ky_info("bitstream-cached", "resource=%s id=%s path=%s", res->name, res->bitstream.id, path);
		_exit(0);
	}
	close(fds[1]);
	if (pid < 0) {
		ky_warn("bitstream-prefetch-failed", "resource=%s errno=%d", res->name, errno);
		close(fds[0]);
		free(f);
		return;
	}
	*f = (struct dp_prefetch){ .d = d, .pid = pid, .fd = fds[0], .next = d->prefetches };
	d->prefetches = f;
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_loop_io_add(d->loop, f->fd, KY_LOOP_READ, on_prefetch_end, f, &f->io, &err) < 0) {
		/* Cannot watch it: wait here rather than leave a zombie. */
		ky_log_err(KY_LOG_WARN, "bitstream-prefetch-wait", err, "resource=%s", res->name);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		prefetch_free(f);
	}
}

int dp_fpga_prepare(struct dp_daemon *d, const struct dp_resource *res, const struct dp_device *dev,
		    bool *programmed, struct ky_error **err)
{
	struct ky_fpga *f = NULL;
	_cleanup_free_ char *cache = dp_image_cache_dir(d->opts);
	*programmed = false;
	if (!res->has_bitstream)
		return 0;
	if (!cache)
		return ky_error_set(err, ENOMEM, "out of memory");
	int r = ky_fpga_find(dev->pci->syspath, dev->pci->addr, &f, err);
	if (r < 0)
		return r;
	struct ky_fpga_loader l = { .program = res->program, .envp = environ, .timeout_ms = DP_LOADER_TIMEOUT_MS };
	r = ky_fpga_ensure(f, &res->bitstream, cache, d->opts->fetch_helper, &l, programmed, err);
	ky_fpga_free(f);
	return r;
}
