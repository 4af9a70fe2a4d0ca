/* The hook of the ResourceSlice publisher (issue 16's API-server side):
 * the daemon starts it once the devices are known, tells it after every
 * change of the devices or their health, and stops it before it goes.
 *
 * NOT YET: the publisher (branch wip-dra-slices: dra_publish.h) plugs in
 * here: dra_publish_new on d->k8s (the daemon's API client; NULL with the
 * stand-in claim source) at start, dra_publish_set with the devices at
 * start and on every change, dra_publish_stop/free at the end, its state in
 * d->publisher. Until then the hook only logs what it would publish. */
#include "dra_daemon.h"

#include "kyborg/base/log.h"

int dra_publisher_start(struct dra_daemon *d, struct ky_error **err)
{
	(void)err;
	ky_info("publish-skipped", "driver=%s pool=%s devices=%zu reason=\"no publisher yet\"",
		d->opts->driver_name, d->opts->node_name, dra_devices_count(d));
	return 0;
}

void dra_publisher_devices_changed(struct dra_daemon *d)
{
	ky_debug("publish-skipped", "driver=%s devices=%zu", d->opts->driver_name, dra_devices_count(d));
}

void dra_publisher_stop(struct dra_daemon *d)
{
	(void)d;
}
