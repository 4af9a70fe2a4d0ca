/* Discovery and hot-plug for the front ends (kyborg/device/device_watch.h):
 * the udev monitor and a short timer on the loop; the front end decides
 * what a new look changes. */
#include "kyborg/device/device_watch.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"
#include "kyborg/loop/loop.h"
#include "kyborg/net/link_watch.h"
#include "kyborg/pci/pci_monitor.h"

struct ky_device_watch {
	struct ky_pci_monitor *mon;
	struct ky_loop_io *io;
	struct ky_loop_timer *timer;
	ky_device_rescan_fn rescan;
	void *userdata;
};

static bool uses(const struct ky_device_config *cfg, enum ky_device_kind kind)
{
	for (size_t i = 0; i < cfg->n_resources; i++)
		if (cfg->resources[i].kind == kind)
			return true;
	return false;
}

int ky_device_host_probe(const struct ky_device_config *cfg, struct ky_device_host *host, struct ky_error **err)
{
	static const struct {
		const char *path;
		unsigned bit;
	} nodes[] = {
		{ "/dev/vhost-net", KY_DEVICE_HOST_VHOST_NET },
		{ "/dev/net/tun", KY_DEVICE_HOST_TUN },
		{ "/dev/infiniband/rdma_cm", KY_DEVICE_HOST_RDMA_CM },
	};
	*host = (struct ky_device_host){ 0 };
	for (size_t i = 0; i < KY_ARRAY_SIZE(nodes); i++)
		if (access(nodes[i].path, F_OK) == 0)
			host->nodes |= nodes[i].bit;
	/* Only SRIOV-DP's netDevice keeps off the default route's function. */
	if (uses(cfg, KY_DEVICE_NET)) {
		int r = ky_link_default_route(&host->default_route, &host->n_default_route, err);
		if (r < 0)
			return ky_error_prefix(err, "the default route's interfaces");
	}
	return 0;
}

int ky_device_discover(const struct ky_device_config *cfg, struct ky_pci_list **pci, struct ky_devlist **lists,
		       struct ky_error **err)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *p = NULL;
	struct ky_device_host host;
	int r = ky_pci_discover(&p, err);
	if (r < 0)
		return ky_error_prefix(err, "discover PCI devices");
	if ((r = ky_device_host_probe(cfg, &host, err)) < 0)
		return r;
	r = ky_devices_build_host(cfg, p, &host, lists, err);
	ky_device_host_release(&host);
	if (r < 0)
		return r;
	*pci = TAKE_PTR(p);
	return 0;
}

int ky_device_check(const struct ky_device_config *cfg, char ***lines, size_t *n_lines, char ***notes,
		    size_t *n_notes, struct ky_error **err)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *pci = NULL;
	struct ky_devlist *lists = NULL;
	int r;
	for (size_t i = 0; i < cfg->n_warnings; i++)
		if (ky_strv_append(notes, n_notes, "%s", cfg->warnings[i]) < 0)
			return ky_error_set(err, ENOMEM, "out of memory");
	if ((r = ky_device_discover(cfg, &pci, &lists, err)) < 0)
		return r;
	for (size_t i = 0; i < cfg->n_resources && r == 0; i++) {
		size_t healthy = 0;
		for (size_t k = 0; k < lists[i].n; k++)
			healthy += lists[i].devs[k].healthy;
		r = ky_strv_append(lines, n_lines, "%s: %zu device%s (%zu with a driver)%s", cfg->resources[i].name,
				   lists[i].n, lists[i].n == 1 ? "" : "s", healthy,
				   cfg->resources[i].frontend == KY_FRONTEND_DRA ? ", frontend dra: kyborg-dra-driver's" : "");
	}
	if (r == 0)
		r = ky_devices_notes(cfg, pci, lists, notes, n_notes);
	ky_devlists_free(lists, cfg->n_resources);
	return r < 0 ? ky_error_set(err, -r, "out of memory") : 0;
}

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	struct ky_device_watch *w = userdata;
	_cleanup_error_ struct ky_error *err = NULL;
	(void)t;
	if (w->rescan(w->userdata, &err) < 0) {
		ky_log_err(KY_LOG_ERROR, "rescan-failed", err, "retry_ms=%d", KY_DEVICE_RESCAN_RETRY_MS);
		ky_loop_timer_arm(w->timer, KY_DEVICE_RESCAN_RETRY_MS, 0);
	}
}

static void on_uevent(struct ky_loop_io *io, int fd, uint32_t events, void *userdata)
{
	struct ky_device_watch *w = userdata;
	(void)io;
	(void)fd;
	(void)events;
	if (ky_pci_monitor_drain(w->mon) > 0 && !ky_loop_timer_armed(w->timer))
		ky_loop_timer_arm(w->timer, KY_DEVICE_RESCAN_DELAY_MS, 0);
}

int ky_device_watch_new(struct ky_loop *loop, ky_device_rescan_fn rescan, void *userdata,
			struct ky_device_watch **out, struct ky_error **err)
{
	_cleanup_(ky_device_watch_freep) struct ky_device_watch *w = calloc(1, sizeof(*w));
	int r;
	if (!w)
		return ky_error_set(err, ENOMEM, "out of memory");
	w->rescan = rescan;
	w->userdata = userdata;
	if ((r = ky_pci_monitor_new(&w->mon, err)) < 0 || (r = ky_loop_timer_new(loop, on_timer, w, &w->timer, err)) < 0 ||
	    (r = ky_loop_io_add(loop, ky_pci_monitor_fd(w->mon), KY_LOOP_READ, on_uevent, w, &w->io, err)) < 0)
		return r;
	*out = TAKE_PTR(w);
	return 0;
}

void ky_device_watch_free(struct ky_device_watch *w)
{
	if (!w)
		return;
	ky_loop_io_free(w->io);
	ky_loop_timer_free(w->timer);
	ky_pci_monitor_free(w->mon);
	free(w);
}
