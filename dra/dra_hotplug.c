/* Discovery at start, and hot-plug: a PCI function added, removed, bound or
 * unbound (udev, watched by the core's device layer) leads to a new look;
 * when what the config takes changed, the health streams hear it at once
 * and the ResourceSlice publisher is told. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

static int rescan(void *userdata, struct ky_error **err)
{
	struct dra_daemon *d = userdata;
	struct ky_pci_list *pci = NULL;
	struct ky_devlist *lists = NULL;
	int r = ky_device_discover(d->cfg, &pci, &lists, err);
	if (r < 0)
		return r;
	bool changed = false;
	for (size_t i = 0; i < d->cfg->n_resources; i++)
		changed |= !ky_devlist_equal(&d->lists[i], &lists[i]);
	ky_devlists_free(d->lists, d->cfg->n_resources);
	ky_pci_list_free(d->pci);
	d->pci = pci;
	d->lists = lists;
	if ((r = dra_devices_remember(d)) < 0)
		return ky_error_set(err, -r, "out of memory");
	if (!changed)
		return 0;
	ky_info("devices-changed", "devices=%zu", dra_devices_count(d));
	dra_health_broadcast(d);
	dra_publisher_devices_changed(d);
	return 0;
}

int dra_hotplug_start(struct dra_daemon *d, struct ky_error **err)
{
	int r;
	/* Listen before the first discovery: a change in between is not lost. */
	if ((r = ky_device_watch_new(d->loop, rescan, d, &d->watch, err)) < 0 ||
	    (r = ky_device_discover(d->cfg, &d->pci, &d->lists, err)) < 0)
		return r;
	if ((r = dra_devices_remember(d)) < 0)
		return ky_error_set(err, -r, "out of memory");
	return 0;
}

void dra_hotplug_stop(struct dra_daemon *d)
{
	ky_device_watch_free(d->watch);
	d->watch = NULL;
}
