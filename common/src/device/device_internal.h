/* Private to the device layer: the pieces of a container's answer that
 * device_alloc.c and device_sriovdp_alloc.c share. */
#pragma once

#include "kyborg/device/device_alloc.h"

/* Takes key and value (freed on failure); 0 or -ENOMEM. */
int ky_device_add_kv(struct ky_kv **v, size_t *n, char *key, char *value);
/* A device node given as is ("rw"), once however often it is added. */
int ky_device_add_spec(struct ky_device_alloc *a, const char *node);
/* The VFIO group node among a function's nodes, or NULL. */
const char *ky_device_vfio_group(const struct ky_pci_dev *pci);

/* ---- device_sriovdp_alloc.c: a resource of SRIOV-DP's config ---- */

/* PCIDEVICE_<PREFIX>_<NAME> as SRIOV-DP makes it: '.' and the '/' as '_',
 * upper case, '-' kept ("PCIDEVICE_INTEL_COM_SRIOV-NET"). */
char *ky_device_sriovdp_env_name(const char *resource);
/* The nodes SRIOV-DP gives for one device: VFIO's or UIO's, RDMA's
 * (isRdma), vhost-net's and tun's (needVhostNet). */
int ky_device_sriovdp_specs(const struct ky_device_resource *res, const struct ky_device *d, struct ky_device_alloc *a);
/* PCIDEVICE_..._INFO for devs, as SRIOV-DP writes it:
 * {"<id>":{"generic":{"deviceID":..},"vfio":{..},"rdma":{..},"vhost":{..},"extra":{..}}}
 * printed as Go prints it. NULL on ENOMEM. */
char *ky_device_sriovdp_info(const struct ky_device_resource *res, const struct ky_device *const *devs, size_t n);
