/* Health from links (kyborg/device/device_health.h): a device of a NIC
 * resource that checks its PF link is Unhealthy while that link has no
 * carrier. The links' states are asked of the caller. Pure. */
#include "kyborg/device/device_health.h"

#include <stddef.h>

const char *ky_device_health_link(const struct ky_device_resource *res, const struct ky_device *d,
				  const struct ky_pci_list *pci)
{
	if (!res->check_pf_link || !ky_device_kind_is_nic(res->kind))
		return NULL;
	const struct ky_pci_dev *pf = d->pci->physfn[0] ? ky_pci_list_find(pci, d->pci->physfn) : d->pci;
	return pf && pf->n_netdevs ? pf->netdevs[0] : NULL;
}

void ky_devices_link_health(const struct ky_device_config *cfg, struct ky_devlist *lists,
			    const struct ky_pci_list *pci, ky_device_link_fn link, void *userdata, bool *changed)
{
	for (size_t k = 0; k < cfg->n_resources; k++) {
		const struct ky_device_resource *res = &cfg->resources[k];
		bool any = false;
		/* Devices of one PF come together (PCI address order): ask once per link. */
		const char *last = NULL;
		int last_state = 1;
		for (size_t i = 0; i < lists[k].n; i++) {
			struct ky_device *d = &lists[k].devs[i];
			const char *ifname = ky_device_health_link(res, d, pci);
			int state = 1;
			if (ifname) {
				if (last != ifname) {
					last = ifname;
					last_state = link(userdata, ifname);
				}
				state = last_state;
			}
			/* Down only: a link this netns does not know is not a reason. */
			bool healthy = d->pci->driver != NULL && state != 0;
			any |= healthy != d->healthy;
			d->healthy = healthy;
		}
		if (changed)
			changed[k] = any;
	}
}
