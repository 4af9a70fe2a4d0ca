/* Finding a link by the PCI address of its device, through sysfs alone
 * (ky_pci_lookup_net): the CNI plugin resolves VFs without loading libudev. */
#include "kyborg/net/netlink.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/pci/pci.h"

#include <errno.h>


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
