/* FPGA resources: bitstreams fetched into the image cache ahead of time
 * (start, reload), and a device's region programmed in PreStartContainer,
 * which kubelet gives 30 s, never in Allocate, which it waits on with no
 * deadline while it admits every pod of the node. */
#include "dp_daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kyborg/error.h"
#include "kyborg/fpga.h"
#include "kyborg/log.h"

extern char **environ;

/* Under kubelet's 30 s PreStartContainer deadline. */
#define DP_LOADER_TIMEOUT_MS 25000

char *dp_image_cache_dir(const struct dp_options *opts)
{
	char *s;
	return asprintf(&s, "%s/images", opts->state_dir) < 0 ? NULL : s;
}

/* A download can take minutes: it runs in a detached grandchild, so the
 * loop never waits on it and no zombie is left to reap. */
void dp_fpga_prefetch(struct dp_daemon *d, const struct dp_resource *res)
{
	if (!res->has_bitstream || !res->bitstream.url)
		return;
	pid_t pid = fork();
	if (pid < 0) {
		ky_warn("bitstream-prefetch-failed", "resource=%s errno=%d", res->name, errno);
		return;
	}
	if (pid > 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return;
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (fork() != 0)
		_exit(0);
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *cache = dp_image_cache_dir(d->opts), *path = NULL;
	if (!cache || ky_image_resolve(&res->bitstream, cache, d->opts->fetch_helper, &path, &err) < 0)
		ky_log_err(KY_LOG_WARN, "bitstream-prefetch-failed", err, "resource=%s url=%s", res->name,
			   res->bitstream.url);
	else
		ky_info("bitstream-cached", "resource=%s id=%s path=%s", res->name, res->bitstream.id, path);
	_exit(0);
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
