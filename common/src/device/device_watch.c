/* Discovery and hot-plug for the front ends (kyborg/device/device_watch.h):
 * the udev monitor and a short timer on the loop; the front end decides
 * what a new look changes. */
#include "kyborg/device/device_watch.h"

#include <errno.h>
#include <stdlib.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/loop/loop.h"
#include "kyborg/pci/pci_monitor.h"

struct ky_device_watch {
	struct ky_pci_monitor *mon;
	struct ky_loop_io *io;
	struct ky_loop_timer *timer;
	ky_device_rescan_fn rescan;
	void *userdata;
};

int ky_device_discover(const struct ky_device_config *cfg, struct ky_pci_list **pci, struct ky_devlist **lists,
		       struct ky_error **err)
{
	_cleanup_(ky_pci_list_freep) struct ky_pci_list *p = NULL;
	int r = ky_pci_discover(&p, err);
	if (r < 0)
		return ky_error_prefix(err, "discover PCI devices");
	if ((r = ky_devices_build(cfg, p, lists, err)) < 0)
		return r;
	*pci = TAKE_PTR(p);
	return 0;
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
