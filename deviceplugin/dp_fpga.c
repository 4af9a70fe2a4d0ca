/* FPGA resources: bitstreams fetched into the image cache ahead of time
 * (start, reload), and a device's region programmed in PreStartContainer,
 * which kubelet gives 30 s, never in Allocate, which it waits on with no
 * deadline while it admits every pod of the node. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/loop/child.h"
#include "kyborg/pci/fpga.h"

extern char **environ;

/* Under kubelet's 30 s PreStartContainer deadline. */
#define DP_LOADER_TIMEOUT_MS 25000

/* "<state dir>/images" (malloc'd). */
static char *image_cache_dir(const struct dp_options *opts)
{
	char *s;
	return asprintf(&s, "%s/images", opts->state_dir) < 0 ? NULL : s;
}

/* A download can take minutes: it runs in a child on the loop, which reaps
 * it when it ends (in a container the daemon is PID 1: an orphan would be
 * its zombie too). */
struct dp_prefetch {
	struct dp_daemon *d;
	struct ky_child *child;
	struct dp_prefetch *prev, *next;
};

void dp_fpga_prefetch_release(struct dp_daemon *d)
{
	while (d->prefetches) {
		struct dp_prefetch *f = d->prefetches;
		KY_LIST_REMOVE(d->prefetches, f);
		ky_child_free(f->child); /* left to finish */
		free(f);
	}
}

static void on_prefetch_end(void *userdata, struct ky_child *child, const struct ky_child_result *res)
{
	struct dp_prefetch *f = userdata;
	(void)child;
	(void)res; /* the child logged how it went */
	KY_LIST_REMOVE(f->d->prefetches, f);
	free(f);
}

struct prefetch_job {
	struct dp_daemon *d;
	const struct dp_resource *res;
};

/* In the child: fetch into the cache, log how it went, exit. */
static int prefetch(void *data, int fd)
{
	const struct prefetch_job *job = data;
	const struct dp_resource *res = job->res;
	_cleanup_error_ struct ky_error *err = NULL;
	_cleanup_free_ char *cache = image_cache_dir(job->d->opts), *path = NULL;
	(void)fd;
	if (!cache || ky_image_resolve(&res->bitstream, cache, job->d->opts->fetch_helper, &path, &err) < 0)
		ky_log_err(KY_LOG_WARN, "bitstream-prefetch-failed", err, "resource=%s url=%s", res->name,
			   res->bitstream.url);
	else
		ky_info("bitstream-cached", "resource=%s id=%s path=%s", res->name, res->bitstream.id, path);
	return 0;
}

void dp_fpga_prefetch(struct dp_daemon *d, const struct dp_resource *res)
{
	if (!res->has_bitstream || !res->bitstream.url)
		return;
	_cleanup_error_ struct ky_error *err = NULL;
	struct dp_prefetch *f = calloc(1, sizeof(*f));
	struct prefetch_job job = { d, res };
	struct ky_child_spec spec = { .name = "bitstream prefetch", .run = prefetch, .run_data = &job };
	if (!f) {
		ky_warn("bitstream-prefetch-failed", "resource=%s error=\"out of memory\"", res->name);
		return;
	}
	*f = (struct dp_prefetch){ .d = d };
	if (ky_child_start(d->loop, &spec, on_prefetch_end, f, &f->child, &err) < 0) {
		ky_log_err(KY_LOG_WARN, "bitstream-prefetch-failed", err, "resource=%s", res->name);
		free(f);
		return;
	}
	KY_LIST_PREPEND(d->prefetches, f);
}

int dp_fpga_prepare(struct dp_daemon *d, const struct dp_resource *res, const struct dp_device *dev,
		    bool *programmed, struct ky_error **err)
{
	struct ky_fpga *f = NULL;
	_cleanup_free_ char *cache = image_cache_dir(d->opts);
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
