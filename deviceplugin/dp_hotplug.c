/* Hot-plug: a PCI function added, removed, bound or unbound (a udev event)
 * leads to a new discovery a few milliseconds later (events come in
 * bursts), new device lists, and the full list on every ListAndWatch
 * stream of each resource whose list changed, without a restart. */
#include "dp_daemon.h"

#include <errno.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/pci/pci_monitor.h"

/* Discovers again and sends what changed. */
static int rescan(struct dp_daemon *d, struct ky_error **err)
{
	struct ky_pci_list *pci = NULL;
	struct dp_devlist *devs = NULL;
	int r;
	if ((r = ky_pci_discover(&pci, err)) < 0)
		return ky_error_prefix(err, "rediscover PCI devices");
	if ((r = dp_devices_build(d->cfg, pci, &devs, err)) < 0) {
		ky_pci_list_free(pci);
		return r;
	}
	struct ky_pci_list *old_pci = d->pci;
	struct dp_devlist *old_devs = d->devs;
	d->pci = pci;
	d->devs = devs;
	for (size_t i = 0; i < d->n_plugins; i++) {
		struct dp_plugin *p = d->plugins[i];
		bool same = dp_devlist_equal(&old_devs[i], &devs[i]);
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
	dp_devlists_free(old_devs, d->cfg->n_resources);
	ky_pci_list_free(old_pci);
	return 0;
}

static void on_rescan(struct ky_loop_timer *t, void *userdata)
{
	struct dp_daemon *d = userdata;
	_cleanup_error_ struct ky_error *err = NULL;
	(void)t;
	if (rescan(d, &err) < 0)
		ky_log_err(KY_LOG_ERROR, "rescan-failed", err, "retry_ms=%d", 1000);
	if (err)
		ky_loop_timer_arm(d->rescan, 1000, 0);
}

static void on_uevent(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct dp_daemon *d = userdata;
	(void)io;
	(void)fd;
	(void)events;
	if (ky_pci_monitor_drain(d->mon) > 0 && !ky_loop_timer_armed(d->rescan))
		ky_loop_timer_arm(d->rescan, DP_RESCAN_DELAY_MS, 0);
}

int dp_hotplug_start(struct dp_daemon *d, struct ky_error **err)
{
	int r;
	if ((r = ky_pci_monitor_new(&d->mon, err)) < 0 ||
	    (r = ky_loop_timer_new(d->loop, on_rescan, d, &d->rescan, err)) < 0)
		return r;
	return ky_loop_io_add(d->loop, ky_pci_monitor_fd(d->mon), KY_LOOP_READ, on_uevent, d, &d->mon_io, err);
}

void dp_hotplug_stop(struct dp_daemon *d)
{
	ky_loop_io_free(d->mon_io);
	d->mon_io = NULL;
	ky_loop_timer_free(d->rescan);
	d->rescan = NULL;
	ky_pci_monitor_free(d->mon);
	d->mon = NULL;
}
