/* What each resource offers (kyborg/device/device_list.h): the PCI
 * functions its selector takes (a function goes to the first resource that
 * matches), GPU replicas, their IDs, health and NUMA node, and the DRA
 * names of the functions. Pure: works on a ky_pci_list. */
#include "kyborg/device/device_list.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"

static bool kind_takes(enum ky_device_kind kind, const struct ky_pci_dev *dev)
{
	switch (kind) {
	case KY_DEVICE_GPU:
		return strcmp(ky_pci_family(dev), "gpu") == 0;
	case KY_DEVICE_FPGA:
		return strcmp(ky_pci_family(dev), "fpga") == 0;
	case KY_DEVICE_NIC_VF:
		return ky_pci_is_vf(dev);
	}
	return false;
}

bool ky_device_resource_matches(const struct ky_device_resource *res, const struct ky_pci_dev *dev, const struct ky_pci_list *all)
{
	return kind_takes(res->kind, dev) && ky_pci_selector_matches(&res->selector, dev, all);
}

void ky_devlists_free(struct ky_devlist *lists, size_t n)
{
	if (!lists)
		return;
	for (size_t i = 0; i < n; i++)
		free(lists[i].devs);
	free(lists);
}

static int push(struct ky_devlist *l, size_t *cap, const struct ky_device *d)
{
	if (l->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		struct ky_device *nd = realloc(l->devs, nc * sizeof(*nd));
		if (!nd)
			return -ENOMEM;
		l->devs = nd;
		*cap = nc;
	}
	l->devs[l->n++] = *d;
	return 0;
}

int ky_devices_build(const struct ky_device_config *cfg, const struct ky_pci_list *pci, struct ky_devlist **out,
		     struct ky_error **err)
{
	struct ky_devlist *lists = calloc(cfg->n_resources ? cfg->n_resources : 1, sizeof(*lists));
	size_t *caps = calloc(cfg->n_resources ? cfg->n_resources : 1, sizeof(*caps));
	if (!lists || !caps) {
		free(lists);
		free(caps);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < pci->n; i++) {
		const struct ky_pci_dev *dev = &pci->devs[i];
		for (size_t k = 0; k < cfg->n_resources; k++) {
			const struct ky_device_resource *res = &cfg->resources[k];
			if (!ky_device_resource_matches(res, dev, pci))
				continue;
			/* A device with no driver bound cannot be used, but
			 * kubelet must hear it is gone: Unhealthy, not absent. */
			struct ky_device d = { .pci = dev, .replica = -1, .numa_node = dev->numa_node,
					       .healthy = dev->driver != NULL };
			unsigned n = res->kind == KY_DEVICE_GPU ? res->replicas : 1;
			for (unsigned rep = 0; rep < n; rep++) {
				int len;
				if (n > 1) {
					d.replica = (int)rep;
					len = snprintf(d.id, sizeof(d.id), "%s::%u", dev->addr, rep);
				} else {
					len = snprintf(d.id, sizeof(d.id), "%s", dev->addr);
				}
				if (len < 0 || len > KY_DEVICE_MAX_ID_LEN) {
					ky_devlists_free(lists, cfg->n_resources);
					free(caps);
					return ky_error_set(err, ENAMETOOLONG, "device ID for %s is over %d characters",
							    dev->addr, KY_DEVICE_MAX_ID_LEN);
				}
				if (push(&lists[k], &caps[k], &d) < 0) {
					ky_devlists_free(lists, cfg->n_resources);
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
const struct ky_device *ky_devlist_find(const struct ky_devlist *list, const char *id)
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
		if (*end || errno || rep > KY_DEVICE_MAX_REPLICAS)
			return NULL;
	}
	size_t lo = 0, hi = list->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ky_device *d = &list->devs[mid];
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

bool ky_devlist_equal(const struct ky_devlist *a, const struct ky_devlist *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct ky_device *x = &a->devs[i], *y = &b->devs[i];
		if (strcmp(x->id, y->id) != 0 || x->healthy != y->healthy || x->numa_node != y->numa_node)
			return false;
	}
	return true;
}

const struct ky_device *ky_devlist_find_pci(const struct ky_devlist *list, const char *addr)
{
	size_t lo = 0, hi = list->n;
	if (!addr)
		return NULL;
	/* The first entry of the function: replicas follow it in order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(list->devs[mid].pci->addr, addr) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < list->n && strcmp(list->devs[lo].pci->addr, addr) == 0 ? &list->devs[lo] : NULL;
}

/* ---- DRA device names ---- */

static const char *const dra_kinds[] = { "gpu", "fpga", "vf" };

const char *ky_device_dra_kind(enum ky_device_kind kind)
{
	return (unsigned)kind < KY_ARRAY_SIZE(dra_kinds) ? dra_kinds[kind] : "device";
}

void ky_device_dra_name(enum ky_device_kind kind, const char *pci_addr, int replica,
			char out[KY_DEVICE_DRA_NAME_MAX])
{
	int n = snprintf(out, KY_DEVICE_DRA_NAME_MAX, "%s-%s", ky_device_dra_kind(kind), pci_addr);
	for (char *c = out + strlen(ky_device_dra_kind(kind)); *c; c++)
		if (*c == ':' || *c == '.')
			*c = '-';
	if (replica >= 0 && n > 0 && n < KY_DEVICE_DRA_NAME_MAX)
		snprintf(out + n, KY_DEVICE_DRA_NAME_MAX - (size_t)n, "-r%d", replica);
}

/* "-r<replica>" at s: the replica, or -1 when s is not exactly that. */
static int parse_replica(const char *s)
{
	if (s[0] != '-' || s[1] != 'r' || !isdigit((unsigned char)s[2]) || (s[2] == '0' && s[3]))
		return -1;
	long v = 0;
	for (const char *c = s + 2; *c; c++) {
		if (!isdigit((unsigned char)*c) || (v = v * 10 + (*c - '0')) >= KY_DEVICE_MAX_REPLICAS)
			return -1;
	}
	return (int)v;
}

int ky_device_dra_name_parse(const char *name, enum ky_device_kind *kind, char addr[KY_PCI_ADDR_LEN], int *replica)
{
	if (!name)
		return -EINVAL;
	for (size_t k = 0; k < KY_ARRAY_SIZE(dra_kinds); k++) {
		size_t len = strlen(dra_kinds[k]);
		if (strncmp(name, dra_kinds[k], len) != 0 || name[len] != '-')
			continue;
		const char *a = name + len + 1;
		/* "dddd-bb-ss-f": the address's own shape with '-' for ':' and '.' */
		size_t alen = strnlen(a, KY_PCI_ADDR_LEN);
		if (alen < KY_PCI_ADDR_LEN - 1 || a[4] != '-' || a[7] != '-' || a[10] != '-')
			return -EINVAL;
		int rep = -1;
		if (a[KY_PCI_ADDR_LEN - 1] && (k != KY_DEVICE_GPU || (rep = parse_replica(a + KY_PCI_ADDR_LEN - 1)) < 0))
			return -EINVAL;
		char canon[KY_PCI_ADDR_LEN];
		memcpy(canon, a, KY_PCI_ADDR_LEN - 1);
		canon[KY_PCI_ADDR_LEN - 1] = '\0';
		canon[4] = ':';
		canon[7] = ':';
		canon[10] = '.';
		/* Lower case only: the name must be a DNS label, and one device
		 * has one name. */
		for (size_t i = 0; i < KY_PCI_ADDR_LEN - 1; i++)
			if (isupper((unsigned char)a[i]))
				return -EINVAL;
		if (!ky_pci_addr_valid(canon))
			return -EINVAL;
		*kind = (enum ky_device_kind)k;
		memcpy(addr, canon, KY_PCI_ADDR_LEN);
		*replica = rep;
		return 0;
	}
	return -EINVAL;
}
