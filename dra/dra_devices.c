/* The DRA view of the config's device lists: a DRA device is a PCI
 * function a resource takes (a shared GPU once, whatever its replicas),
 * named by the device layer (gpu-0000-3b-00-0); lookups by name, and the
 * names served since the start, with their health. No I/O. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int dra_device_find(const struct dra_daemon *d, const char *name, struct dra_device *out)
{
	enum ky_device_kind kind;
	char addr[KY_PCI_ADDR_LEN];
	int replica;
	if (ky_device_dra_name_parse(name, &kind, addr, &replica) < 0)
		return -EINVAL;
	for (size_t i = 0; i < d->cfg->n_resources; i++) {
		const struct ky_device_resource *res = &d->cfg->resources[i];
		const struct ky_device *dev;
		if (res->kind != kind || !(dev = ky_devlist_find_pci(&d->lists[i], addr)))
			continue;
		if (res->frontend != KY_FRONTEND_DRA) {
			/* The config gives it to the device plugin. */
			*out = (struct dra_device){ .res = res, .dev = dev, .list = i, .replica = replica };
			return -EXDEV;
		}
		/* A replica of a GPU its resource shares that many ways; the
		 * list holds the replicas one after the other. */
		if (replica >= 0 && (!ky_device_resource_shared(res) || (unsigned)replica >= res->replicas))
			return -ENODEV;
		*out = (struct dra_device){ .res = res, .dev = replica >= 0 ? dev + replica : dev, .list = i,
					    .replica = replica };
		return 0;
	}
	return -ENODEV;
}

static bool seen(const struct dra_daemon *d, const char *name)
{
	for (size_t i = 0; i < d->n_seen; i++)
		if (strcmp(d->seen[i], name) == 0)
			return true;
	return false;
}

int dra_devices_remember(struct dra_daemon *d)
{
	DRA_FOREACH_DEVICE(d, i, k)
	{
		const struct ky_device *dev = &d->lists[i].devs[k];
		char name[KY_DEVICE_DRA_NAME_MAX];
		ky_device_dra_name(d->cfg->resources[i].kind, dev->pci->addr, -1, name);
		if (seen(d, name))
			continue;
		char **ns = realloc(d->seen, (d->n_seen + 2) * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		d->seen = ns;
		if (!(ns[d->n_seen] = strdup(name)))
			return -ENOMEM;
		ns[++d->n_seen] = NULL;
	}
	return 0;
}

size_t dra_devices_count(const struct dra_daemon *d)
{
	size_t n = 0;
	DRA_FOREACH_DEVICE(d, i, k)
	n++;
	return n;
}

enum dra_health dra_device_health(const struct dra_daemon *d, const char *name, const char **why)
{
	struct dra_device dev;
	*why = "";
	if (dra_device_find(d, name, &dev) < 0) {
		*why = "removed from the node";
		return DRA_HEALTH_UNHEALTHY;
	}
	if (!dev.dev->healthy) {
		*why = "no driver bound";
		return DRA_HEALTH_UNHEALTHY;
	}
	return DRA_HEALTH_HEALTHY;
}

bool dra_record_names_replicas(const struct ky_dra_record *rec)
{
	enum ky_device_kind kind;
	char addr[KY_PCI_ADDR_LEN];
	int replica;
	for (size_t i = 0; rec && i < rec->n_devices; i++)
		if (ky_device_dra_name_parse(rec->devices[i].device, &kind, addr, &replica) == 0 && replica >= 0)
			return true;
	return false;
}
