/* PF link health, as the device plugin has it (deviceplugin/dp_link.c): the
 * core's link watch (rtnetlink link events on the loop) tells the moment a
 * PF's carrier changes; every device's health is taken again
 * (kyborg/device/device_health.h: a VF of a resource that checks its PF
 * link is unhealthy while that link has no carrier, and so is a PF given as
 * the device), and when any changed the health streams hear it at once
 * and the ResourceSlice publisher is told (a taint, or the device left
 * out). Discovery takes health through here too, so a list is never
 * compared or published without its links'. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/device/device_health.h"
#include "kyborg/net/link_watch.h"

static void on_link(void *userdata, const char *ifname, int before, int now)
{
	struct dra_daemon *d = userdata;
	_cleanup_free_ bool *changed = calloc(d->cfg->n_resources + 1, sizeof(*changed));
	if (!changed) {
		ky_warn("link-health", "ifname=%s error=%s", ifname, strerror(ENOMEM));
		return;
	}
	dra_link_apply(d, d->lists, d->pci, changed);
	bool any = false;
	for (size_t i = 0; i < d->cfg->n_resources; i++) {
		if (!changed[i] || d->cfg->resources[i].frontend != KY_FRONTEND_DRA)
			continue;
		size_t healthy = 0;
		for (size_t k = 0; k < d->lists[i].n; k++)
			healthy += d->lists[i].devs[k].healthy;
		ky_info("link-health", "ifname=%s carrier=%d was=%d resource=%s devices=%zu healthy=%zu", ifname, now,
			before, d->cfg->resources[i].name, d->lists[i].n, healthy);
		any = true;
	}
	if (!any)
		return;
	dra_health_broadcast(d);
	dra_publisher_devices_changed(d);
}

int dra_link_start(struct dra_daemon *d, struct ky_error **err)
{
	int r = ky_link_watch_new(d->loop, on_link, d, &d->links, err);
	if (r < 0) {
		/* Drivers still decide health: serve, and say what is missing. */
		ky_log_err(KY_LOG_WARN, "link-watch", *err, "pf_link_health=off");
		ky_error_clear(err);
		return 0;
	}
	dra_link_apply(d, d->lists, d->pci, NULL);
	return 0;
}

void dra_link_stop(struct dra_daemon *d)
{
	ky_link_watch_free(d->links);
	d->links = NULL;
}

void dra_link_apply(struct dra_daemon *d, struct ky_devlist *lists, const struct ky_pci_list *pci, bool *changed)
{
	if (d->links)
		ky_devices_link_health(d->cfg, lists, pci, ky_link_watch_carrier_fn, d->links, changed);
	else if (changed)
		memset(changed, 0, d->cfg->n_resources * sizeof(*changed));
}
