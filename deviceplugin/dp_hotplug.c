/* Hot-plug: a PCI function added, removed, bound or unbound (a udev event,
 * watched by the core's device layer) leads to a new discovery, new device
 * lists, and the full list on every ListAndWatch stream of each resource
 * whose list changed, without a restart. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

/* Discovers again and sends what changed. */
static int rescan(void *userdata, struct ky_error **err)
{
	struct dp_daemon *d = userdata;
	struct ky_pci_list *pci = NULL;
	struct ky_devlist *devs = NULL;
	int r;
	if ((r = ky_device_discover(d->cfg, &pci, &devs, err)) < 0)
		return r;
	dp_link_apply(d, d->cfg, devs, pci, NULL);
	struct ky_pci_list *old_pci = d->pci;
	struct ky_devlist *old_devs = d->devs;
	d->pci = pci;
	d->devs = devs;
	for (size_t i = 0; i < d->n_plugins; i++) {
		struct dp_plugin *p = d->plugins[i];
		if (!p)
			continue;
		bool same = ky_devlist_equal(&old_devs[i], &devs[i]);
		size_t healthy = 0;
		p->devs = &devs[i];
		if (same)
			continue;
		for (size_t k = 0; k < devs[i].n; k++)
			healthy += devs[i].devs[k].healthy;
		ky_info("devices-changed", "resource=%s devices=%zu healthy=%zu streams=%zu", p->res->name,
			devs[i].n, healthy, p->n_streams);
		dp_server_write_cdi(p);
		dp_server_broadcast(p);
	}
	ky_devlists_free(old_devs, d->cfg->n_resources);
	ky_pci_list_free(old_pci);
	return 0;
}

int dp_hotplug_start(struct dp_daemon *d, struct ky_error **err)
{
	return ky_device_watch_new(d->loop, rescan, d, &d->watch, err);
}

void dp_hotplug_stop(struct dp_daemon *d)
{
	ky_device_watch_free(d->watch);
	d->watch = NULL;
}
