/* Device-info files (k8snetworkplumbingwg device-info spec 1.1.0): for
 * each VF handed to a pod, the file the CNI side (Multus, our CNI plugin)
 * reads by resource and device from the plugin's devinfo dir. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/device/device_list.h"

struct ky_error;

/* "kyborg.io-sriov-vf-0000:18:01.0-device.json" (malloc'd; NULL on ENOMEM). */
char *ky_devinfo_name(const char *resource, const char *id);
/* {"type":"pci","version":"1.1.0","pci":{"pci-address":..,"pf-pci-address":..}} (pure). */
char *ky_devinfo_json(const struct ky_pci_dev *pci);
/* Whether a resource's devices have device-info files: network functions
 * (SRIOV-DP writes none for accelerators). */
bool ky_devinfo_wanted(const struct ky_device_resource *res);
/* Writes the file for each device into dir (created when missing), each
 * atomically (a temporary file renamed over it); nothing for a resource
 * that has none. A resource of SRIOV-DP's config gets SRIOV-DP's content
 * ("pci-address", and "rdma-device" with isRdma). */
int ky_devinfo_write(const char *dir, const struct ky_device_resource *res, const struct ky_devlist *list,
		     const char *const *ids, size_t n, struct ky_error **err);
