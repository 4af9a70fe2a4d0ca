/* What the DRA driver publishes about one device (pure): the facts taken
 * from its PCI function (struct dra_dev), its name in the pool, and the
 * attributes the scheduler's CEL selectors read. Attribute names, in the
 * driver's domain unless qualified (device.attributes["kyborg.io"].kind):
 *
 *   kind                 string  gpu | fpga | vf | pf
 *   pciAddress           string  "0000:3b:00.0"
 *   vendorID, deviceID   string  "10de", "2330" (4 hex digits)
 *   subsystemVendorID, subsystemDeviceID   string, when the function has them
 *   vendorName, deviceName  string, from the PCI ID database when it names them
 *   driver               string  the kernel driver bound, when one is
 *   iommuGroup           int     when the function has one
 *   resourceName         string  the config resource it is published for
 *   shares               int     a GPU shared that many ways (> 1)
 *   replica              int     one pre-split share of a GPU (0 .. shares-1)
 *   imageID              string  an FPGA's loaded image (AFU id)
 *   pfName, pfPciAddress string  a VF's PF: its netdev and address
 *   vfIndex              int     a VF's index on its PF (virtfnN)
 *   interfaceName        string  a PF's netdev
 *   resource.kubernetes.io/pciBusID   string  the standard PCI address
 *   resource.kubernetes.io/pcieRoot   string  "pci0000:3a": aligns a GPU with a NIC
 *   resource.kubernetes.io/numaNode   int     when known (-1 is never published)
 *   k8s.cni.cncf.io/deviceID          string  a VF's address: what Multus's DRA
 *   k8s.cni.cncf.io/resourceName      string  mode hands the CNI (VFs only)
 *
 * A string value is at most 64 bytes: names from the PCI ID database are cut
 * at a character boundary, bytes that are not UTF-8 or are control
 * characters become '?', so the server stores exactly what was sent. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "dra_validate.h"
#include "kyborg/device/device_config.h"
#include "kyborg/pci/pci.h"

struct ky_error;

enum dra_kind {
	DRA_KIND_GPU = 0,
	DRA_KIND_FPGA = 1,
	DRA_KIND_VF = 2,
	DRA_KIND_PF = 3,
};

/* "gpu", "fpga", "vf" (the device layer's words), "pf"; "?" out of range. */
const char *dra_kind_name(enum dra_kind kind);
/* The kind a resource of the config publishes its devices as. */
enum dra_kind dra_kind_of(enum ky_device_kind kind);

#define DRA_PCIE_ROOT_LEN 24 /* "pci0000:3a"; a VMD domain is longer, still fits */
#define DRA_MAX_SHARES 1024  /* as the device plugin's replicas */

/* One device as published. The strings are borrowed (from the ky_pci_dev,
 * the config); dra_publish_set() copies what it keeps. */
struct dra_dev {
	enum dra_kind kind;
	char addr[KY_PCI_ADDR_LEN];                /* the function's PCI address */
	char pf_addr[KY_PCI_ADDR_LEN];             /* a VF's PF, "" otherwise */
	char pcie_root[DRA_PCIE_ROOT_LEN];         /* "" when unknown */
	uint16_t vendor, device;
	uint16_t subsys_vendor, subsys_device;     /* 0 when absent */
	int numa_node;                             /* -1 when unknown */
	int iommu_group;                           /* -1 when none */
	int vf_index;                              /* a VF's index on its PF, -1 otherwise */
	unsigned shares;                           /* a GPU shared N ways (N > 1); 0 or 1: whole */
	bool healthy;
	const char *resource;                      /* the config resource name: "kyborg.io/gpu" */
	const char *driver;                        /* kernel driver, NULL when none */
	const char *vendor_name, *device_name;     /* NULL when unknown */
	const char *pf_name;                       /* a VF's PF netdev, NULL when unknown */
	const char *netdev;                        /* a PF's netdev, NULL when none */
	const char *image_id;                      /* an FPGA's loaded image id, NULL when unknown */
	const char *unhealthy_reason;              /* a label value ("driver-unbound"), may be NULL */
};

/* Fills out from a discovered function: IDs, names, driver, NUMA node,
 * IOMMU group, the PCIe root from its sysfs path, and for a VF its PF (found
 * in all, may be NULL) with the PF's netdev and the VF's index. healthy is
 * whether a driver is bound; shares, image_id and unhealthy_reason are the
 * caller's to set. The strings borrow from pci, all and resource.
 * -EINVAL naming the device for a kind the function is not (a VF kind
 * without a PF link) or a resource name the API would refuse. */
int dra_dev_from_pci(const struct ky_pci_dev *pci, const struct ky_pci_list *all, enum dra_kind kind,
		     const char *resource, struct dra_dev *out, struct ky_error **err);

/* The PCIe root of a sysfs path ("/sys/devices/pci0000:3a/0000:3a:00.0/...")
 * into out: the first component under devices/, when it reads
 * pci<domain>:<bus>; "" (and false) otherwise. */
bool dra_pcie_root(const char *syspath, char out[DRA_PCIE_ROOT_LEN]);

/* Checks what the attributes are made of, naming the device and the field:
 * kind, address, shares, and the strings that are not cut (resource name,
 * image id, at most 64 bytes; a reason that is a label value). */
int dra_dev_check(const struct dra_dev *d, struct ky_error **err);

/* The device's name in the pool: "<kind>-<domain>-<bus>-<slot>-<function>"
 * ("gpu-0000-3b-00-0"), "-r<replica>" for one pre-split share (replica >=
 * 0; -1 for the whole device). Stable across restarts, unique per function
 * and share, a DNS label. Returns the length, or -EINVAL for a bad address. */
int dra_dev_name(const struct dra_dev *d, int replica, char out[DRA_NAME_MAX + 1]);

/* An attribute string as the server would store it: UTF-8 kept, invalid
 * bytes and control characters as '?', cut to at most 64 bytes at a
 * character boundary. */
void dra_value_clean(const char *in, char out[DRA_VALUE_MAX + 1]);

/* The "attributes" object of the device (replica as for dra_dev_name),
 * checked with dra_check_device's rules. */
int dra_dev_attributes(const struct dra_dev *d, int replica, cJSON **out, struct ky_error **err);
