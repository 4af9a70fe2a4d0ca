/* PF link health: the core's link watch (rtnetlink link events on the
 * loop) tells us the moment a PF's carrier changes; each device's health
 * is taken again (kyborg/device/device_health.h) and every resource whose
 * list changed gets a new CDI spec and the full list on its ListAndWatch
 * streams. Discovery and reload take health through here too, so a list
 * is never compared or sent without its links'. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/device/device_health.h"

static void on_link(void *userdata, const char *ifname, int before, int now)
{
	struct dp_daemon *d = userdata;
	/* plugins[i] serves cfg->resources[i]: one flag per resource. */
	_cleanup_free_ bool *changed = calloc(d->cfg->n_resources + 1, sizeof(*changed));
	if (!changed) {
		ky_warn("link-health", "ifname=%s error=%s", ifname, strerror(ENOMEM));
		return;
	}
	dp_link_apply(d, d->cfg, d->devs, d->pci, changed);
	for (size_t i = 0; i < d->n_plugins && i < d->cfg->n_resources; i++) {
		struct dp_plugin *p = d->plugins[i];
		if (!p || !changed[i]) /* NULL: the DRA driver's resource */
			continue;
		size_t healthy = 0;
		for (size_t k = 0; k < p->devs->n; k++)
			healthy += p->devs->devs[k].healthy;
		ky_info("link-health", "ifname=%s carrier=%d was=%d resource=%s devices=%zu healthy=%zu streams=%zu",
			ifname, now, before, p->res->name, p->devs->n, healthy, p->n_streams);
		dp_server_broadcast(p);
		dp_server_write_cdi(p);
	}
}

int dp_link_start(struct dp_daemon *d, struct ky_error **err)
{
	int r = ky_link_watch_new(d->loop, on_link, d, &d->links, err);
	if (r < 0) {
		/* Drivers still decide health: serve, and say what is missing. */
		ky_log_err(KY_LOG_WARN, "link-watch", *err, "pf_link_health=off");
		ky_error_clear(err);
	}
	return 0;
}

void dp_link_stop(struct dp_daemon *d)
{
	ky_link_watch_free(d->links);
	d->links = NULL;
}

void dp_link_apply(struct dp_daemon *d, const struct ky_device_config *cfg, struct ky_devlist *devs,
		   const struct ky_pci_list *pci, bool *changed)
{
	if (d->links)
		ky_devices_link_health(cfg, devs, pci, ky_link_watch_carrier_fn, d->links, changed);
	else if (changed)
		memset(changed, 0, cfg->n_resources * sizeof(*changed));
}
