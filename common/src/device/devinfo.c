/* Device-info files (kyborg/device/devinfo.h): for each allocated VF, the
 * file the k8snetworkplumbingwg device-info spec puts under the plugin's
 * devinfo dir, which the CNI side (Multus, our CNI plugin) reads by
 * resource and device. */
#include "kyborg/device/devinfo.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/fileio.h"
#include "kyborg/base/error.h"
#include "kyborg/base/str.h"
#include "kyborg/json/json.h"

#define DEVINFO_VERSION "1.1.0"

char *ky_devinfo_name(const char *resource, const char *id)
{
	char *s;
	/* The spec's name keeps the resource with '/' turned into '-'; only
	 * the resource part can hold one. */
	return asprintf(&s, "%s-%s-device.json", resource, id) < 0 ? NULL : ky_str_replace_char(s, '/', '-');
}

char *ky_devinfo_json(const struct ky_pci_dev *pci)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	cJSON *p;
	if (!root || !cJSON_AddStringToObject(root, "type", "pci") ||
	    !cJSON_AddStringToObject(root, "version", DEVINFO_VERSION) || !(p = cJSON_AddObjectToObject(root, "pci")) ||
	    !cJSON_AddStringToObject(p, "pci-address", pci->addr))
		return NULL;
	if (pci->physfn[0] && !cJSON_AddStringToObject(p, "pf-pci-address", pci->physfn))
		return NULL;
	return cJSON_PrintUnformatted(root);
}

/* SRIOV-DP's: the address, and with isRdma the function's RDMA devices
 * (comma-separated) as "rdma-device"; the fields in its struct's order. */
static char *sriovdp_json(const struct ky_device_resource *res, const struct ky_device *d)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	_cleanup_free_ char *rdma = NULL;
	cJSON *p;
	if (!root || !cJSON_AddStringToObject(root, "type", "pci") ||
	    !cJSON_AddStringToObject(root, "version", DEVINFO_VERSION) || !(p = cJSON_AddObjectToObject(root, "pci")) ||
	    !cJSON_AddStringToObject(p, "pci-address", d->pci->addr))
		return NULL;
	if (d->selector < res->n_selectors && res->selectors[d->selector].pci.rdma && d->pci->n_rdma_devs) {
		size_t len = 1;
		for (size_t i = 0; i < d->pci->n_rdma_devs; i++)
			len += strlen(d->pci->rdma_devs[i]) + 1;
		if (!(rdma = calloc(1, len)))
			return NULL;
		for (size_t i = 0; i < d->pci->n_rdma_devs; i++) {
			if (i)
				strcat(rdma, ",");
			strcat(rdma, d->pci->rdma_devs[i]);
		}
		if (!cJSON_AddStringToObject(p, "rdma-device", rdma))
			return NULL;
	}
	return cJSON_PrintUnformatted(root);
}

bool ky_devinfo_wanted(const struct ky_device_resource *res)
{
	return ky_device_kind_is_nic(res->kind);
}

int ky_devinfo_write(const char *dir, const struct ky_device_resource *res, const struct ky_devlist *list,
		     const char *const *ids, size_t n, struct ky_error **err)
{
	int r;
	if (!ky_devinfo_wanted(res))
		return 0;
	if (n && (r = ky_mkdir_p(dir, 0755)) < 0)
		return ky_error_set(err, -r, "mkdir %s: %s", dir, strerror(-r));
	for (size_t i = 0; i < n; i++) {
		const struct ky_device *d = ky_devlist_find(list, ids[i]);
		if (!d)
			return ky_error_set(err, EINVAL, "unknown device %s", ids[i]);
		_cleanup_free_ char *name = ky_devinfo_name(res->name, ids[i]);
		_cleanup_free_ char *text =
			res->schema == KY_DEVICE_SCHEMA_SRIOVDP ? sriovdp_json(res, d) : ky_devinfo_json(d->pci);
		if (!name || !text)
			return ky_error_set(err, ENOMEM, "out of memory");
		if ((r = ky_write_atomic(dir, name, text, strlen(text), 0644, 0, err)) < 0)
			return ky_error_prefix(err, "device-info for %s", ids[i]);
	}
	return 0;
}
