/* A device's health beyond its driver: a VF is Unhealthy while its PF's
 * link has no carrier, and so is a PF given as the device, where its
 * resource checks the PF link (checkHealthOnPf, on by default). The link
 * states come from the caller (kyborg/net/link_watch.h on the loop), so
 * this stays pure; the device plugin and the DRA driver share it. */
#pragma once

#include <stdbool.h>

#include "kyborg/device/device_list.h"

/* Whether a link carries (kyborg/net/link_watch.h's KY_LINK_UP 1, DOWN 0,
 * UNKNOWN -1 for a name this netns does not have). */
typedef int (*ky_device_link_fn)(void *userdata, const char *ifname);
/* Health again for every device: a driver bound, and for resources that
 * check the PF link (NIC kinds), its PF's link (a VF's) or its own (a PF
 * given as the device) not down. A link this netns does not know (moved
 * into a pod with its PF) does not make a device Unhealthy. changed[i]
 * (NULL: not wanted) tells whether list i changed. */
void ky_devices_link_health(const struct ky_device_config *cfg, struct ky_devlist *lists,
			    const struct ky_pci_list *pci, ky_device_link_fn link, void *userdata, bool *changed);
/* The interface whose link decides a device's health, or NULL: a VF's
 * PF's first interface, a PF's own. */
const char *ky_device_health_link(const struct ky_device_resource *res, const struct ky_device *d,
				  const struct ky_pci_list *pci);

