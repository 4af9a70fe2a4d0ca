/* What a resource of the SR-IOV network device plugin's config gives a
 * container, as SRIOV-DP gives it (its info providers: generic, vfio,
 * uio, rdma, vhost, extra): the env names, the _INFO document byte for
 * byte, and the device nodes in the same order. Pure: what the node
 * offers was found when the devices were listed. */
#include "device_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/json/json.h"

#define RDMA_CM "/dev/infiniband/rdma_cm"
#define VHOST_NET "/dev/vhost-net"
#define TUN "/dev/net/tun"

char *ky_device_sriovdp_env_name(const char *resource)
{
	char *s;
	if (asprintf(&s, "PCIDEVICE_%s", resource) < 0)
		return NULL;
	for (char *p = s; *p; p++)
		*p = *p == '.' || *p == '/' ? '_' : (char)toupper((unsigned char)*p);
	return s;
}

static bool is_driver(const struct ky_pci_dev *pci, const char *name)
{
	return pci->driver && strcmp(pci->driver, name) == 0;
}

static bool uio(const struct ky_pci_dev *pci)
{
	return is_driver(pci, "uio") || is_driver(pci, "igb_uio");
}

static bool rdma(const struct ky_device_resource *res, const struct ky_device *d)
{
	return res->kind == KY_DEVICE_NET && d->selector < res->n_selectors && res->selectors[d->selector].pci.rdma &&
	       d->pci->n_rdma_devs > 0;
}

/* needVhostNet gives both nodes or, without /dev/net/tun, neither (as
 * SRIOV-DP's provider does); without /dev/vhost-net, no provider at all. */
static bool vhost(const struct ky_device_resource *res, const struct ky_device *d)
{
	return res->kind == KY_DEVICE_NET && d->selector < res->n_selectors && res->selectors[d->selector].vhost_net &&
	       (d->host_nodes & KY_DEVICE_HOST_VHOST_NET);
}

/* The RDMA character devices of the function, in rdmamap's order: ucm,
 * issm, umad, uverbs, then the node's rdma_cm. */
static const char *const rdma_prefixes[] = { "/dev/infiniband/ucm", "/dev/infiniband/issm", "/dev/infiniband/umad",
					     "/dev/infiniband/uverbs" };

int ky_device_sriovdp_specs(const struct ky_device_resource *res, const struct ky_device *d, struct ky_device_alloc *a)
{
	const struct ky_pci_dev *pci = d->pci;
	int r;
	if (is_driver(pci, "vfio-pci")) {
		const char *group = ky_device_vfio_group(pci);
		if ((r = ky_device_add_spec(a, "/dev/vfio/vfio")) < 0 || (group && (r = ky_device_add_spec(a, group)) < 0))
			return r;
	} else if (uio(pci)) {
		for (size_t i = 0; i < pci->n_devnodes; i++)
			if (strncmp(pci->devnodes[i], "/dev/uio", 8) == 0 && (r = ky_device_add_spec(a, pci->devnodes[i])) < 0)
				return r;
	}
	if (rdma(res, d)) {
		for (size_t p = 0; p < KY_ARRAY_SIZE(rdma_prefixes); p++)
			for (size_t i = 0; i < pci->n_devnodes; i++)
				if (strncmp(pci->devnodes[i], rdma_prefixes[p], strlen(rdma_prefixes[p])) == 0 &&
				    (r = ky_device_add_spec(a, pci->devnodes[i])) < 0)
					return r;
		if ((d->host_nodes & KY_DEVICE_HOST_RDMA_CM) && (r = ky_device_add_spec(a, RDMA_CM)) < 0)
			return r;
	}
	if (vhost(res, d) && (d->host_nodes & KY_DEVICE_HOST_TUN) &&
	    ((r = ky_device_add_spec(a, VHOST_NET)) < 0 || (r = ky_device_add_spec(a, TUN)) < 0))
		return r;
	return 0;
}

static bool add_str(cJSON *obj, const char *key, const char *value)
{
	return cJSON_AddStringToObject(obj, key, value) != NULL;
}

static cJSON *provider(cJSON *dev, const char *name)
{
	return cJSON_AddObjectToObject(dev, name);
}

static bool add_rdma(cJSON *dev, const struct ky_device *d)
{
	const struct ky_pci_dev *pci = d->pci;
	cJSON *o = provider(dev, "rdma");
	if (!o)
		return false;
	/* SRIOV-DP keys each node by what its path holds: with several of a
	 * kind, the last one stays. */
	static const char *const keys[] = { "ucm", "issm", "umad", "uverbs" };
	for (size_t p = 0; p < KY_ARRAY_SIZE(rdma_prefixes); p++) {
		const char *last = NULL;
		for (size_t i = 0; i < pci->n_devnodes; i++)
			if (strncmp(pci->devnodes[i], rdma_prefixes[p], strlen(rdma_prefixes[p])) == 0)
				last = pci->devnodes[i];
		/* ucm has no key of its own in SRIOV-DP's provider. */
		if (last && p > 0 && !add_str(o, keys[p], last))
			return false;
	}
	if ((d->host_nodes & KY_DEVICE_HOST_RDMA_CM) && !add_str(o, "rdma_cm", RDMA_CM))
		return false;
	return add_str(o, "rdma_dev", pci->rdma_devs[0]);
}

static bool add_extra(cJSON *dev, const struct ky_device_resource *res, const char *addr)
{
	if (!res->n_info)
		return true;
	cJSON *o = provider(dev, "extra");
	if (!o)
		return false;
	/* "*" first, then the device's own, which wins a key both have. */
	const char *order[] = { "*", addr };
	for (size_t w = 0; w < 2; w++)
		for (size_t i = 0; i < res->n_info; i++) {
			const struct ky_device_info *info = &res->info[i];
			if (strcmp(info->device, order[w]) != 0)
				continue;
			for (size_t k = 0; k < info->n_kvs; k++) {
				cJSON_DeleteItemFromObjectCaseSensitive(o, info->kvs[k].key);
				if (!add_str(o, info->kvs[k].key, info->kvs[k].value))
					return false;
			}
		}
	return true;
}

char *ky_device_sriovdp_info(const struct ky_device_resource *res, const struct ky_device *const *devs, size_t n)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct ky_device *d = devs[i];
		const struct ky_pci_dev *pci = d->pci;
		cJSON *dev = cJSON_AddObjectToObject(root, d->id), *o;
		if (!dev || !(o = provider(dev, "generic")) || !add_str(o, "deviceID", d->id))
			return NULL;
		if (is_driver(pci, "vfio-pci")) {
			const char *group = ky_device_vfio_group(pci);
			if (!(o = provider(dev, "vfio")) || !add_str(o, "mount", "/dev/vfio/vfio") ||
			    (group && !add_str(o, "dev-mount", group)))
				return NULL;
		} else if (uio(pci)) {
			if (!(o = provider(dev, "uio")))
				return NULL;
			for (size_t k = 0; k < pci->n_devnodes; k++)
				if (strncmp(pci->devnodes[k], "/dev/uio", 8) == 0 && !cJSON_GetObjectItem(o, "mount") &&
				    !add_str(o, "mount", pci->devnodes[k]))
					return NULL;
		}
		if (!add_extra(dev, res, pci->addr))
			return NULL;
		if (rdma(res, d) && !add_rdma(dev, d))
			return NULL;
		if (vhost(res, d) &&
		    (!(o = provider(dev, "vhost")) || !add_str(o, "net-mount", VHOST_NET) || !add_str(o, "tun-mount", TUN)))
			return NULL;
	}
	return ky_json_print_go(root);
}
