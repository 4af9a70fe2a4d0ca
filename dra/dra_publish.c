/* The hook of the ResourceSlice publisher (issue 16's API-server side):
 * the daemon starts it once the devices are known, tells it after every
 * change of the devices or their health, and stops it before it goes.
 *
 * NOT YET: publishing needs the core's Kubernetes client, which has not
 * landed; the publisher replaces this file (its state hangs off
 * d->publisher). Until then the hook only logs what it would publish. */
#include "dra_daemon.h"

#include "kyborg/base/log.h"

int dra_publish_start(struct dra_daemon *d, struct ky_error **err)
{
	(void)err;
	ky_info("publish-skipped", "driver=%s pool=%s devices=%zu reason=\"no Kubernetes API client in this build yet\"",
		d->opts->driver_name, d->opts->node_name, dra_devices_count(d));
	return 0;
}

void dra_publish_devices_changed(struct dra_daemon *d)
{
	ky_debug("publish-skipped", "driver=%s devices=%zu", d->opts->driver_name, dra_devices_count(d));
}

void dra_publish_stop(struct dra_daemon *d)
{
	(void)d;
}
