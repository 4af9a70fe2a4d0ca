/* What devices give a container: the environment users rely on
 * (PCIDEVICE_<RESOURCE> as the SR-IOV network device plugin names it, its
 * _INFO for VFs, NVIDIA_VISIBLE_DEVICES), the device nodes, annotations
 * and CDI names. The device plugin's Allocate answers with it, the DRA
 * driver writes it into a claim's CDI spec. Pure. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/device/device_list.h"

struct ky_error;

/* A device node as kubelet's DeviceSpec names it. */
struct ky_device_spec {
	char *host_path;
	char *container_path;
	char *permissions;
};

/* One container's share, owned: free with ky_device_alloc_release. */
struct ky_device_alloc {
	struct ky_kv *envs;
	size_t n_envs;
	struct ky_device_spec *specs;
	size_t n_specs;
	struct ky_kv *annotations;
	size_t n_annotations;
	char **cdi_devices;
	size_t n_cdi_devices;
};

/* "PCIDEVICE_KYBORG_IO_GPU" for "kyborg.io/gpu" (malloc'd, NULL on ENOMEM). */
char *ky_device_env_name(const char *resource);
/* "kyborg.io/gpu=0000:3b:00.0::1": the CDI device name of an ID in the
 * resource's spec (kyborg/device/cdi_spec.h). */
char *ky_device_cdi_name(const char *resource, const char *id);
/* CDI names in annotations too, under "cdi.k8s.io/kyborg_kyborg.io_gpu"
 * (malloc'd); left out when the name after the '/' passes 63 characters. */
#define KY_DEVICE_CDI_ANNOTATION_PREFIX "cdi.k8s.io/"
char *ky_device_cdi_annotation_key(const char *resource);
/* An FPGA's container learns which bitstream its port holds. */
#define KY_DEVICE_ANNOTATION_BITSTREAM "kyborg.io/bitstream-id"
/* Checks every ID (unknown or unhealthy: -EINVAL naming it) and builds the
 * container's envs, device specs and annotations; CDI names only with
 * with_cdi (once spec files exist for the runtime to resolve them). */
int ky_device_allocate(const struct ky_device_resource *res, const struct ky_devlist *list, const char *const *ids,
		       size_t n, bool with_cdi, struct ky_device_alloc *out, struct ky_error **err);
void ky_device_alloc_release(struct ky_device_alloc *a);
/* Only the device specs (nodes) one device gives a container (out->specs). */
int ky_device_specs(const struct ky_device_resource *res, const struct ky_device *d, struct ky_device_alloc *out);
const char *ky_kv_get(const struct ky_kv *kv, size_t n, const char *key);
