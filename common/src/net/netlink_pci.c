/* Finding a link by the PCI address of its device, through sysfs alone
 * (ky_pci_lookup_net): the CNI plugin resolves VFs without loading libudev. */
#include "kyborg/net/netlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/pci.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>


int ky_link_find_by_pci(struct ky_nl *nl, const char *pci_addr, struct ky_link *out, struct ky_error **err)
{
	_cleanup_(ky_pci_dev_freep) struct ky_pci_dev *dev = NULL;
	int r = ky_pci_lookup_net(pci_addr, &dev, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < dev->n_netdevs; i++) {
		r = ky_link_get(nl, dev->netdevs[i], out, NULL);
		if (r == 0)
			return 0;
	}
	if (dev->n_netdevs == 0)
		return ky_error_set(err, ENODEV, "PCI device %s has no network interface (driver %s)", dev->addr,
				    dev->driver ? dev->driver : "none");
	return ky_error_set(err, ENODEV, "network interface %s of PCI device %s is not in this network namespace",
			    dev->netdevs[0], dev->addr);
}

int ky_link_pci_addr(struct ky_nl *nl, const struct ky_link *link, char out[KY_PCI_ADDR_LEN])
{
	char path[PATH_MAX], target[PATH_MAX];
	if (!ky_ifname_valid(link->name))
		return -EINVAL;
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", link->name);
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return errno == ENOENT ? -ENODEV : -errno;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	if (ky_pci_addr_normalize(base ? base + 1 : target, out) < 0)
		return -ENODEV; /* on another bus (USB, netdevsim...) */
	/* sysfs shows the netdevs of the netns it was mounted in, which need
	 * not be ours: the address counts only when it leads back to this link. */
	struct ky_link back;
	if (ky_link_find_by_pci(nl, out, &back, NULL) < 0 || back.ifindex != link->ifindex)
		return -ENODEV;
	return 0;
}
