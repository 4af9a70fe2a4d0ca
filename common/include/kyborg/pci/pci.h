/* PCI discovery through libudev: every PCI function with the facts an
 * accelerator plugin needs. Runs unchanged under an umockdev testbed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kyborg/base/cleanup.h"

struct ky_error;

#define KY_PCI_ADDR_LEN 13 /* "0000:3b:00.0" */

struct ky_pci_dev {
	char addr[KY_PCI_ADDR_LEN];  /* domain:bus:slot.function, lower case */
	char *syspath;               /* as libudev reports it */
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device; /* 0 when absent */
	uint32_t class_code;         /* 24-bit: base class, subclass, prog-if */
	char *driver;                /* NULL when no driver is bound */
	int numa_node;               /* -1 when unknown */
	int iommu_group;             /* -1 when none */
	int sriov_totalvfs;          /* -1 when not SR-IOV capable */
	int sriov_numvfs;            /* -1 when not SR-IOV capable */
	char physfn[KY_PCI_ADDR_LEN]; /* the PF of a VF, "" otherwise */
	char **virtfns;              /* VF addresses, virtfns[i] is virtfn<i>; NULL holes allowed */
	size_t n_virtfns;
	char **netdevs;              /* network interface names under net/ */
	size_t n_netdevs;
	char *vendor_name, *device_name; /* from the PCI ID database; NULL unless ky_pci_names_fill() named them */
	char **devnodes;             /* device nodes of the function and its children, sorted;
	                              * /dev/vfio/<group> when bound to vfio-pci */
	size_t n_devnodes;
	char *acpi_index;            /* the acpi_index attribute as written, NULL when absent */
	unsigned short link_type;    /* ARPHRD_* of the first netdev (1 Ethernet, 32 InfiniBand);
	                              * 0 when it has none (0, NET/ROM, is never a PCI NIC) */
	char **rdma_devs;            /* RDMA devices under infiniband/ ("mlx5_2"), sorted; their
	                              * character devices are among devnodes (/dev/infiniband/) */
	size_t n_rdma_devs;
};

struct ky_pci_list {
	struct ky_pci_dev *devs; /* sorted by address */
	size_t n;
};

/* Accepts "DDDD:BB:SS.F" (and "BB:SS.F", meaning domain 0000), hex in any
 * case, exactly those widths; writes the canonical lower-case form. Domains
 * above ffff (Intel VMD) do not fit and are -EINVAL. Returns 0 or -EINVAL. */
int ky_pci_addr_normalize(const char *in, char out[KY_PCI_ADDR_LEN]);
bool ky_pci_addr_valid(const char *addr);
/* The "Device Minor: N" of NVIDIA's /proc/driver/nvidia/gpus/<addr>/information
 * (pure): N, or -1 when there is none. */
int ky_pci_nvidia_minor_parse(const char *information);

/* Enumerates every PCI function, sorted by address. A node without PCI
 * gives an empty list. A function whose vendor, device or class attribute is
 * missing or malformed is left out with a warning log (event
 * pci-device-skipped); unreadable optional attributes read as unknown. */
int ky_pci_discover(struct ky_pci_list **out, struct ky_error **err);
/* Reads one function by address (any form ky_pci_addr_normalize takes);
 * -ENODEV (with the address in the message) when there is none, -EINVAL for
 * a bad address or a function discover would skip. */
int ky_pci_lookup(const char *addr, struct ky_pci_dev **out, struct ky_error **err);

/* The network side of one function, read from sysfs without libudev: only
 * addr, syspath (/sys/bus/pci/devices/ADDR), driver, physfn, virtfns and
 * netdevs are filled; IDs and class read 0, the counts, NUMA node and IOMMU
 * group -1, devnodes none. Same errors as ky_pci_lookup. For binaries that
 * only resolve network devices and should not load libudev. */
int ky_pci_lookup_net(const char *addr, struct ky_pci_dev **out, struct ky_error **err);
/* The function at addr (any accepted form), or NULL. */
const struct ky_pci_dev *ky_pci_list_find(const struct ky_pci_list *list, const char *addr);
/* The index N of vf_addr among pf's virtfnN links, or -1. */
int ky_pci_vf_index(const struct ky_pci_dev *pf, const char *vf_addr);
bool ky_pci_is_vf(const struct ky_pci_dev *dev);

/* "gpu", "fpga", "nic", or "other", from the class code (and for FPGAs, the
 * processing-accelerator class 0x12 and known FPGA IDs). A 3D controller is
 * a GPU; a VGA controller only from NVIDIA, AMD or Intel (not a BMC's). Pure. */
const char *ky_pci_family(const struct ky_pci_dev *dev);

/* Both accept NULL. */
void ky_pci_dev_free(struct ky_pci_dev *dev);
void ky_pci_list_free(struct ky_pci_list *list);
KY_DEFINE_CLEANUP(struct ky_pci_dev, ky_pci_dev_free)
KY_DEFINE_CLEANUP(struct ky_pci_list, ky_pci_list_free)
