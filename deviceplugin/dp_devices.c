/* What each resource advertises: the PCI functions its selector takes (a
 * function goes to the first resource that matches), GPU replicas, their
 * IDs, health and NUMA node. Pure: works on a ky_pci_list. */
#include "dp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"

static bool kind_takes(enum dp_kind kind, const struct ky_pci_dev *dev)
{
	switch (kind) {
	case DP_KIND_GPU:
		return strcmp(ky_pci_family(dev), "gpu") == 0;
	case DP_KIND_FPGA:
		return strcmp(ky_pci_family(dev), "fpga") == 0;
	case DP_KIND_NIC_VF:
		return ky_pci_is_vf(dev);
	}
	return false;
}

bool dp_resource_matches(const struct dp_resource *res, const struct ky_pci_dev *dev, const struct ky_pci_list *all)
{
	return kind_takes(res->kind, dev) && ky_pci_selector_matches(&res->selector, dev, all);
}

void dp_devlists_free(struct dp_devlist *lists, size_t n)
{
	if (!lists)
		return;
	for (size_t i = 0; i < n; i++)
		free(lists[i].devs);
	free(lists);
}

static int push(struct dp_devlist *l, size_t *cap, const struct dp_device *d)
{
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct dp_device *nd = realloc(l->devs, nc * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		l->devs = nd;
		*cap = nc;
	}
	l->devs[l->n++] = *d;
	return 0;
}

int dp_devices_build(const struct dp_config *cfg, const struct ky_pci_list *pci, struct dp_devlist **out,
		     struct ky_error **err)
{
	struct dp_devlist *lists = calloc(cfg->n_resources ? cfg->n_resources : 1, sizeof(*lists));
	size_t *caps = calloc(cfg->n_resources ? cfg->n_resources : 1, sizeof(*caps));
	if (!lists || !caps) {
		free(lists);
		free(caps);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < pci->n; i++) {
		const struct ky_pci_dev *dev = &pci->devs[i];
		for (size_t k = 0; k < cfg->n_resources; k++) {
			const struct dp_resource *res = &cfg->resources[k];
			if (!dp_resource_matches(res, dev, pci))
				continue;
			/* A device with no driver bound cannot be used, but
			 * kubelet must hear it is gone: Unhealthy, not absent. */
			struct dp_device d = { .pci = dev, .replica = -1, .numa_node = dev->numa_node,
					       .healthy = dev->driver != NULL };
			unsigned n = res->kind == DP_KIND_GPU ? res->replicas : 1;
			for (unsigned rep = 0; rep < n; rep++) {
				int len;
				if (n > 1) {
					d.replica = (int)rep;
					len = snprintf(d.id, sizeof(d.id), "%s::%u", dev->addr, rep);
				} else {
					len = snprintf(d.id, sizeof(d.id), "%s", dev->addr);
				}
				if (len < 0 || len > DP_MAX_ID_LEN) {
					dp_devlists_free(lists, cfg->n_resources);
					free(caps);
					return ky_error_set(err, ENAMETOOLONG, "device ID for %s is over %d characters",
							    dev->addr, DP_MAX_ID_LEN);
				}
				if (push(&lists[k], &caps[k], &d) < 0) {
					dp_devlists_free(lists, cfg->n_resources);
					free(caps);
					return ky_error_set(err, ENOMEM, "out of memory");
				}
			}
			break; /* the first resource that matches takes it */
		}
	}
	free(caps);
	*out = lists;
	return 0;
}

/* Lists are in (PCI address, replica) order, which is not the IDs' string
 * order ("::10" sorts before "::2"): search by the parsed parts. Kubelet
 * sends every available ID to GetPreferredAllocation, so this is
 * O(log n) per ID. */
const struct dp_device *dp_devlist_find(const struct dp_devlist *list, const char *id)
{
	const size_t alen = KY_PCI_ADDR_LEN - 1;
	long rep = -1;
	if (!id || strlen(id) < alen)
		return NULL;
	if (id[alen]) {
		char *end;
		if (strncmp(id + alen, "::", 2) != 0 || id[alen + 2] < '0' || id[alen + 2] > '9')
			return NULL;
		errno = 0;
		rep = strtol(id + alen + 2, &end, 10);
		if (*end || errno || rep > DP_MAX_REPLICAS)
			return NULL;
	}
	size_t lo = 0, hi = list->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct dp_device *d = &list->devs[mid];
		int c = strncmp(d->pci->addr, id, alen);
		if (c == 0)
			c = d->replica < rep ? -1 : d->replica > rep;
		if (c == 0)
			return strcmp(d->id, id) == 0 ? d : NULL; /* "::01" is not "::1" */
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool dp_devlist_equal(const struct dp_devlist *a, const struct dp_devlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct dp_device *x = &a->devs[i], *y = &b->devs[i];
		if (strcmp(x->id, y->id) != 0 || x->healthy != y->healthy || x->numa_node != y->numa_node)
			return false;
	}
	return true;
}
