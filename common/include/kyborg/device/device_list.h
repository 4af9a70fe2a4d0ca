/* What each resource of the config offers: the PCI functions its selector
 * takes (a function goes to the first resource that matches), GPU
 * replicas, their IDs, health and NUMA node; and the names the DRA driver
 * gives them. Pure: works on a ky_pci_list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/device/device_config.h"
#include "kyborg/pci/pci.h"

struct ky_error;

/* Kubelet refuses longer device IDs. */
#define KY_DEVICE_MAX_ID_LEN 63

struct ky_device {
	char id[KY_DEVICE_MAX_ID_LEN + 1]; /* "0000:3b:00.0", a replica "0000:3b:00.0::1" */
	const struct ky_pci_dev *pci;      /* borrowed from the ky_pci_list */
	int replica;                       /* -1 for a device that is not a replica */
	int numa_node;                     /* -1 when unknown (or excludeTopology) */
	bool healthy;                      /* a driver is bound (and, where the resource
	                                    * checks it, its PF's link carries) */
	uint8_t selector;                  /* the resource's selector that took it */
	uint8_t host_nodes;                /* KY_DEVICE_HOST_* of the node when it was listed */
};

/* What the node offers besides its PCI functions (ky_device_host_probe). */
enum {
	KY_DEVICE_HOST_VHOST_NET = 1u << 0, /* /dev/vhost-net */
	KY_DEVICE_HOST_TUN = 1u << 1,       /* /dev/net/tun */
	KY_DEVICE_HOST_RDMA_CM = 1u << 2,   /* /dev/infiniband/rdma_cm */
};

struct ky_device_host {
	unsigned nodes; /* KY_DEVICE_HOST_* */
	/* Interfaces the default route leaves by: SRIOV-DP's netDevice never
	 * takes the function that carries the node's own traffic. */
	char **default_route;
	size_t n_default_route;
};

struct ky_devlist {
	struct ky_device *devs; /* in (PCI address, replica) order */
	size_t n;
};

/* The index of the first selector of res that takes dev (the kind's rules
 * first: a netDevice is a NIC function, a VF or a PF without VFs, not on
 * the default route), or -1. `all` resolves a VF's PF; host may be NULL. */
int ky_device_resource_match(const struct ky_device_resource *res, const struct ky_pci_dev *dev,
			     const struct ky_pci_list *all, const struct ky_device_host *host);
/* The same as a yes or no. */
bool ky_device_resource_matches(const struct ky_device_resource *res, const struct ky_pci_dev *dev,
				const struct ky_pci_list *all);
/* One list per resource (cfg->n_resources of them, in config order), each
 * device in at most one: the first resource that matches it. The lists
 * borrow from pci, which must outlive them. Health is a driver's only:
 * ky_devices_link_health adds the links'. */
int ky_devices_build(const struct ky_device_config *cfg, const struct ky_pci_list *pci, struct ky_devlist **out,
		     struct ky_error **err);
/* The same with what the node offers besides (host may be NULL). */
int ky_devices_build_host(const struct ky_device_config *cfg, const struct ky_pci_list *pci,
			  const struct ky_device_host *host, struct ky_devlist **out, struct ky_error **err);
void ky_device_host_release(struct ky_device_host *host);

/* Notes on what names nothing on this node, one line each with its JSON
 * path ("resourceList[0].selectors[1]: matches no device", "....pfNames[0]:
 * no PCI function has the interface ens2f0"), appended to *notes. */
int ky_devices_notes(const struct ky_device_config *cfg, const struct ky_pci_list *pci,
		     const struct ky_devlist *lists, char ***notes, size_t *n_notes);
void ky_devlists_free(struct ky_devlist *lists, size_t n);
/* The device with that ID, or NULL. */
const struct ky_device *ky_devlist_find(const struct ky_devlist *list, const char *id);
/* The first device (replica 0) of the PCI function at addr, or NULL. */
const struct ky_device *ky_devlist_find_pci(const struct ky_devlist *list, const char *addr);
/* Whether kubelet (and a container) would see the same list: IDs, health,
 * NUMA nodes, the selector that took each, the node's shared nodes. */
bool ky_devlist_equal(const struct ky_devlist *a, const struct ky_devlist *b);

/* ---- DRA device names ---- */

/* A DRA device is a PCI function (a shared GPU once, however many
 * replicas): "<kind>-<address with ':' and '.' as '-'>", a DNS label as
 * ResourceSlices require, e.g. "gpu-0000-3b-00-0", "fpga-0000-af-00-0",
 * "vf-0000-18-01-1". Where a cluster cannot share one device between
 * claims (no consumable capacity), a shared GPU is published as its
 * replicas instead, each "-r<replica>": "gpu-0000-3b-00-0-r1". */
#define KY_DEVICE_DRA_NAME_MAX 32
const char *ky_device_dra_kind(enum ky_device_kind kind); /* "gpu", "fpga", "vf", "net", "accel" */
/* replica -1: the whole function. */
void ky_device_dra_name(enum ky_device_kind kind, const char *pci_addr, int replica,
			char out[KY_DEVICE_DRA_NAME_MAX]);
/* The same for a kind given by its DRA word (ky_device_dra_kind's, or the
 * publisher's "pf", which no resource of the config has): the one place a
 * DRA name is made, so that the names the driver publishes and the names
 * its claims are checked against can never differ. */
void ky_device_dra_name_of(const char *kind, const char *pci_addr, int replica, char out[KY_DEVICE_DRA_NAME_MAX]);
/* The kind, PCI address and replica (-1: none) a DRA name stands for:
 * -EINVAL when it is not exactly a name ky_device_dra_name writes (a
 * replica only of a GPU, below KY_DEVICE_MAX_REPLICAS, no leading zero). */
int ky_device_dra_name_parse(const char *name, enum ky_device_kind *kind, char addr[KY_PCI_ADDR_LEN], int *replica);
/* Logs the config's warnings and ky_devices_notes as warnings (event
 * config-warning, selector-note): what SRIOV-DP would pass over in silence. */
void ky_devices_log_notes(const struct ky_device_config *cfg, const struct ky_pci_list *pci,
			  const struct ky_devlist *lists);
