/* Hot-plug events of PCI functions through a libudev monitor: the fd the
 * event loop watches, and draining it. What changed is read again by
 * discovery, so an event lost to a full socket buffer costs nothing. */
#include "kyborg/pci/pci_monitor.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"

#include <errno.h>
#include <libudev.h>
#include <stdlib.h>
#include <string.h>

struct ky_pci_monitor {
	struct udev *udev;
	struct udev_monitor *mon;
};

void ky_pci_monitor_free(struct ky_pci_monitor *m)
{
	if (!m)
		return;
	if (m->mon)
		udev_monitor_unref(m->mon);
	if (m->udev)
		udev_unref(m->udev);
	free(m);
}

int ky_pci_monitor_new(struct ky_pci_monitor **out, struct ky_error **err)
{
	_cleanup_(ky_pci_monitor_freep) struct ky_pci_monitor *m = calloc(1, sizeof(*m));
	int r;
	if (!m)
		return ky_error_set(err, ENOMEM, "out of memory");
	errno = 0;
	if (!(m->udev = udev_new()))
		return ky_error_set(err, errno ? errno : ENOMEM, "udev_new failed");
	/* "udev", not "kernel": once udevd has processed the event, the
	 * device nodes and links it describes exist. */
	if (!(m->mon = udev_monitor_new_from_netlink(m->udev, "udev")))
		return ky_error_set(err, errno ? errno : EIO, "udev monitor: cannot open the netlink socket");
	if ((r = udev_monitor_filter_add_match_subsystem_devtype(m->mon, "pci", NULL)) < 0)
		return ky_error_set(err, -r, "udev monitor: filter pci: %s", strerror(-r));
	if ((r = udev_monitor_enable_receiving(m->mon)) < 0)
		return ky_error_set(err, -r, "udev monitor: enable receiving: %s", strerror(-r));
	*out = TAKE_PTR(m);
	return 0;
}

int ky_pci_monitor_fd(const struct ky_pci_monitor *m)
{
	return udev_monitor_get_fd(m->mon);
}

int ky_pci_monitor_drain(struct ky_pci_monitor *m)
{
	int n = 0;
	struct udev_device *dev;
	/* The socket is non-blocking: NULL once nothing waits. */
	while ((dev = udev_monitor_receive_device(m->mon))) {
		const char *action = udev_device_get_action(dev);
		const char *name = udev_device_get_sysname(dev);
		ky_debug("pci-uevent", "action=%s addr=%s", action ? action : "-", name ? name : "-");
		udev_device_unref(dev);
		n++;
	}
	return n;
}
