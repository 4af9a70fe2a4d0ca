/* The node's devices now and as they change: discovery into the config's
 * device lists, and hot-plug (a PCI function added, removed, bound or
 * unbound, as udev reports it on the event loop) answered by a new look a
 * few milliseconds later, since events come in bursts. */
#pragma once

#include "kyborg/base/cleanup.h"
#include "kyborg/device/device_list.h"

struct ky_error;
struct ky_loop;
struct ky_device_watch;

/* What the node offers besides its PCI functions: /dev/vhost-net,
 * /dev/net/tun, /dev/infiniband/rdma_cm, and (for a config with
 * SRIOV-DP's netDevice resources) the default route's interfaces. */
int ky_device_host_probe(const struct ky_device_config *cfg, struct ky_device_host *host, struct ky_error **err);
/* Discovers every PCI function and what the node offers besides, and
 * builds cfg's lists (ky_devices_build_host): *pci and *lists
 * (cfg->n_resources) are the caller's to free. Health is the drivers'
 * (kyborg/device/device_health.h adds the links'). */
int ky_device_discover(const struct ky_device_config *cfg, struct ky_pci_list **pci, struct ky_devlist **lists,
		       struct ky_error **err);

#define KY_DEVICE_RESCAN_DELAY_MS 5
#define KY_DEVICE_RESCAN_RETRY_MS 1000

/* Looks again (discovers and compares what it serves); a failure is
 * logged and retried after KY_DEVICE_RESCAN_RETRY_MS. */
typedef int (*ky_device_rescan_fn)(void *userdata, struct ky_error **err);

/* Listens to udev before the caller's first discovery, so a change in
 * between is not lost. */
int ky_device_watch_new(struct ky_loop *loop, ky_device_rescan_fn rescan, void *userdata,
			struct ky_device_watch **out, struct ky_error **err);
void ky_device_watch_free(struct ky_device_watch *w);
KY_DEFINE_CLEANUP(struct ky_device_watch, ky_device_watch_free)

/* --check-config's look at the node, changing nothing: discovers the
 * devices cfg would serve here and appends to *lines what it would
 * advertise ("intel.com/sriov_a: 4 devices") and to *notes the config's
 * warnings and what names nothing (ky_devices_notes). */
int ky_device_check(const struct ky_device_config *cfg, char ***lines, size_t *n_lines, char ***notes,
		    size_t *n_notes, struct ky_error **err);
