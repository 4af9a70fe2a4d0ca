/* What each resource of the config offers: the PCI functions its selector
 * takes (a function goes to the first resource that matches), GPU
 * replicas, their IDs, health and NUMA node; and the names the DRA driver
 * gives them. Pure: works on a ky_pci_list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/device/device_config.h"
#include "kyborg/pci/pci.h"

struct ky_error;

/* Kubelet refuses longer device IDs. */
#define KY_DEVICE_MAX_ID_LEN 63

struct ky_device {
	char id[KY_DEVICE_MAX_ID_LEN + 1]; /* "0000:3b:00.0", a replica "0000:3b:00.0::1" */
	const struct ky_pci_dev *pci;      /* borrowed from the ky_pci_list */
	int replica;                       /* -1 for a device that is not a replica */
	int numa_node;                     /* -1 when unknown */
	bool healthy;                      /* a driver is bound */
};

struct ky_devlist {
	struct ky_device *devs; /* in (PCI address, replica) order */
	size_t n;
};

/* Whether the selector (and the kind) of res takes dev; `all` resolves a
 * VF's PF for pfNames. */
bool ky_device_resource_matches(const struct ky_device_resource *res, const struct ky_pci_dev *dev,
				const struct ky_pci_list *all);
/* One list per resource (cfg->n_resources of them, in config order), each
 * device in at most one: the first resource that matches it. The lists
 * borrow from pci, which must outlive them. */
int ky_devices_build(const struct ky_device_config *cfg, const struct ky_pci_list *pci, struct ky_devlist **out,
		     struct ky_error **err);
void ky_devlists_free(struct ky_devlist *lists, size_t n);
/* The device with that ID, or NULL. */
const struct ky_device *ky_devlist_find(const struct ky_devlist *list, const char *id);
/* The first device (replica 0) of the PCI function at addr, or NULL. */
const struct ky_device *ky_devlist_find_pci(const struct ky_devlist *list, const char *addr);
/* Whether kubelet would see the same list: IDs, health and NUMA nodes. */
bool ky_devlist_equal(const struct ky_devlist *a, const struct ky_devlist *b);

/* ---- DRA device names ---- */

/* A DRA device is a PCI function (a shared GPU once, however many
 * replicas): "<kind>-<address with ':' and '.' as '-'>", a DNS label as
 * ResourceSlices require, e.g. "gpu-0000-3b-00-0", "fpga-0000-af-00-0",
 * "vf-0000-18-01-1". Where a cluster cannot share one device between
 * claims (no consumable capacity), a shared GPU is published as its
 * replicas instead, each "-r<replica>": "gpu-0000-3b-00-0-r1". */
#define KY_DEVICE_DRA_NAME_MAX 32
const char *ky_device_dra_kind(enum ky_device_kind kind); /* "gpu", "fpga", "vf" */
/* replica -1: the whole function. */
void ky_device_dra_name(enum ky_device_kind kind, const char *pci_addr, int replica,
			char out[KY_DEVICE_DRA_NAME_MAX]);
/* The kind, PCI address and replica (-1: none) a DRA name stands for:
 * -EINVAL when it is not exactly a name ky_device_dra_name writes (a
 * replica only of a GPU, below KY_DEVICE_MAX_REPLICAS, no leading zero). */
int ky_device_dra_name_parse(const char *name, enum ky_device_kind *kind, char addr[KY_PCI_ADDR_LEN], int *replica);
