/* The daemon's side of the ResourceSlice publisher (dra_publish.h): the
 * devices the config gives this driver, as the publisher takes them (a
 * shared GPU's replicas, health, an FPGA's loaded image), handed over at
 * start and after every hot-plug, health change or FPGA load; stopped at
 * SIGTERM with the slices kept, as the kubeletplugin helper keeps them: a
 * restarted driver adopts them without a write, and kubelet deletes them 30 s
 * after the plugin's socket went away if it does not come back. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dra_publish.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/pci/fpga.h"

struct dra_publisher {
	struct dra_publish *pub;
	struct dra_daemon *d;
	bool first_logged;
};

/* The image an FPGA's port holds (malloc'd), or NULL when it cannot be
 * read: published without imageID rather than not at all. */
static char *loaded_image(const struct ky_pci_dev *pci)
{
	struct ky_fpga *f = NULL;
	char *id = NULL;
	_cleanup_error_ struct ky_error *err = NULL;
	if (ky_fpga_find(pci->syspath, pci->addr, &f, &err) < 0 || ky_fpga_loaded_id(f, &id, &err) < 0)
		ky_log_err(KY_LOG_DEBUG, "fpga-image-unknown", err, "pci=%s", pci->addr);
	ky_fpga_free(f);
	return id;
}

/* The devices to publish, with the strings they borrow (image ids) in
 * *owned; each device that cannot be described is logged and left out. */
static int build(struct dra_daemon *d, struct dra_dev **out, size_t *n_out, char ***owned)
{
	size_t n = dra_devices_count(d), k = 0;
	struct dra_dev *devs = calloc(n + 1, sizeof(*devs));
	char **ids = calloc(n + 1, sizeof(*ids));
	if (!devs || !ids) {
		free(devs);
		free(ids);
		return -ENOMEM;
	}
	DRA_FOREACH_DEVICE(d, i, j)
	{
		const struct ky_device_resource *res = &d->cfg->resources[i];
		const struct ky_device *dev = &d->lists[i].devs[j];
		struct dra_dev *dd = &devs[k];
		_cleanup_error_ struct ky_error *err = NULL;
		if (dra_dev_from_pci(dev->pci, d->pci, dra_kind_of(res->kind), res->name, dd, &err) < 0) {
			ky_log_err(KY_LOG_WARN, "publish-device-skipped", err, "resource=%s", res->name);
			continue;
		}
		dd->healthy = dev->healthy;
		dd->unhealthy_reason = dev->healthy ? NULL : "driver-unbound";
		if (ky_device_resource_shared(res))
			dd->shares = res->replicas;
		if (res->kind == KY_DEVICE_FPGA && dev->healthy)
			dd->image_id = ids[k] = loaded_image(dev->pci);
		k++;
	}
	*out = devs;
	*n_out = k;
	*owned = ids;
	return 0;
}

static void set_devices(struct dra_publisher *p)
{
	struct dra_dev *devs = NULL;
	char **ids = NULL;
	size_t n = 0;
	_cleanup_error_ struct ky_error *err = NULL;
	if (build(p->d, &devs, &n, &ids) < 0)
		ky_error_set(&err, ENOMEM, "out of memory");
	else if (dra_publish_set(p->pub, devs, n, &err) == 0)
		ky_debug("publish-set", "devices=%zu", n);
	if (err)
		ky_log_err(KY_LOG_ERROR, "publish-set", err, "devices=%zu", n);
	for (size_t i = 0; ids && i < n; i++)
		free(ids[i]);
	free(ids);
	free(devs);
}

static void on_published(void *userdata, int64_t generation, size_t slices)
{
	struct dra_publisher *p = userdata;
	/* How long the node took to appear to the scheduler (bench/). */
	ky_info("slices-published", "generation=%lld slices=%zu since_start_ms=%llu first=%s", (long long)generation,
		slices, (unsigned long long)(ky_loop_now_ms() - p->d->started_ms), p->first_logged ? "no" : "yes");
	p->first_logged = true;
}

int dra_publisher_start(struct dra_daemon *d, struct ky_error **err)
{
	const struct dra_options *o = d->opts;
	if (!d->k8s) {
		ky_info("publish-skipped", "driver=%s pool=%s devices=%zu reason=\"no API server (--claims-dir without "
					   "--api-server)\"",
			o->driver_name, o->node_name, dra_devices_count(d));
		return 0;
	}
	struct dra_publisher *p = calloc(1, sizeof(*p));
	if (!p)
		return ky_error_set(err, ENOMEM, "out of memory");
	p->d = d;
	/* The Node's UID is read for ownerReferences (RBAC nodes get); a
	 * Node that cannot be read leaves the slices without an owner. */
	struct dra_publish_opts po = { .sharing = o->gpu_sharing,
				       .unhealthy = o->unhealthy,
				       .published = on_published,
				       .userdata = p };
	int r = dra_publish_new(d->loop, d->k8s, o->driver_name, o->node_name, &po, &p->pub, err);
	if (r < 0) {
		free(p);
		return ky_error_prefix(err, "ResourceSlice publisher");
	}
	d->publisher = p;
	set_devices(p);
	return 0;
}

void dra_publisher_devices_changed(struct dra_daemon *d)
{
	if (d->publisher)
		set_devices(d->publisher);
}

void dra_publisher_stop(struct dra_daemon *d)
{
	struct dra_publisher *p = d->publisher;
	if (!p)
		return;
	/* Whatever is in flight is cancelled; the server's slices stay. */
	struct dra_publish_stats s;
	dra_publish_stats(p->pub, &s);
	ky_info("slices-kept", "driver=%s pool=%s generation=%lld slices=%zu in_step=%s", d->opts->driver_name,
		d->opts->node_name, (long long)s.generation, s.slices, dra_publish_in_step(p->pub) ? "yes" : "no");
	dra_publish_free(p->pub);
	free(p);
	d->publisher = NULL;
}
