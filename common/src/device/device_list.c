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
#include "kyborg/base/log.h"
#include "kyborg/base/strv.h"

static bool on_default_route(const struct ky_pci_dev *dev, const struct ky_device_host *host)
{
	for (size_t i = 0; host && i < dev->n_netdevs; i++)
		for (size_t k = 0; k < host->n_default_route; k++)
			if (strcmp(dev->netdevs[i], host->default_route[k]) == 0)
				return true;
	return false;
}

/* Whether a function is of the kind at all, and if not why (for notes). */
static bool kind_takes(enum ky_device_kind kind, const struct ky_pci_dev *dev, const struct ky_device_host *host,
		       const char **why)
{
	switch (kind) {
	case KY_DEVICE_GPU:
		*why = "not a GPU";
		return strcmp(ky_pci_family(dev), "gpu") == 0;
	case KY_DEVICE_FPGA:
		*why = "not an FPGA";
		return strcmp(ky_pci_family(dev), "fpga") == 0;
	case KY_DEVICE_NIC_VF:
		*why = "not a VF";
		return ky_pci_is_vf(dev);
	case KY_DEVICE_NET:
		/* SRIOV-DP's netDevice: network controllers (class 02), but not
		 * a PF whose VFs are made (they are the devices then) nor one
		 * that carries the node's default route. */
		*why = "not a network controller (class 02)";
		if (dev->class_code >> 16 != 0x02)
			return false;
		*why = "a PF with VFs (its VFs are the devices)";
		if (!ky_pci_is_vf(dev) && dev->sriov_numvfs > 0)
			return false;
		*why = "on the node's default route";
		return !on_default_route(dev, host);
	case KY_DEVICE_ACCEL:
		/* SRIOV-DP's accelerator is a processing accelerator (class
		 * 12); co-processors (0b40: QuickAssist) are ours too. */
		*why = "not a processing accelerator (class 12) or co-processor (0b40)";
		return dev->class_code >> 16 == 0x12 || dev->class_code >> 8 == 0x0b40;
	}
	return false;
}

int ky_device_resource_match(const struct ky_device_resource *res, const struct ky_pci_dev *dev,
			     const struct ky_pci_list *all, const struct ky_device_host *host)
{
	const char *why;
	if (!kind_takes(res->kind, dev, host, &why))
		return -1;
	for (size_t i = 0; i < res->n_selectors; i++)
		if (ky_pci_selector_matches(&res->selectors[i].pci, dev, all))
			return (int)i;
	return -1;
}

bool ky_device_resource_matches(const struct ky_device_resource *res, const struct ky_pci_dev *dev, const struct ky_pci_list *all)
{
	return ky_device_resource_match(res, dev, all, NULL) >= 0;
}

void ky_device_host_release(struct ky_device_host *host)
{
	ky_strv_free(host->default_route);
	*host = (struct ky_device_host){ 0 };
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
	return ky_devices_build_host(cfg, pci, NULL, out, err);
}

int ky_devices_build_host(const struct ky_device_config *cfg, const struct ky_pci_list *pci,
			  const struct ky_device_host *host, struct ky_devlist **out, struct ky_error **err)
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
			int sel = ky_device_resource_match(res, dev, pci, host);
			if (sel < 0)
				continue;
			/* A device with no driver bound cannot be used, but
			 * kubelet must hear it is gone: Unhealthy, not absent. */
			struct ky_device d = { .pci = dev, .replica = -1,
					       .numa_node = res->exclude_topology ? -1 : dev->numa_node,
					       .healthy = dev->driver != NULL, .selector = (uint8_t)sel,
					       .host_nodes = (uint8_t)(host ? host->nodes : 0) };
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

/* ---- what names nothing ---- */

/* Why no device came of a selector: the first function its fields match,
 * and what kept it out (the kind's rules, or an earlier taker). */
static int why_nothing(const struct ky_device_config *cfg, size_t k, size_t j, const struct ky_pci_list *pci,
		       const struct ky_devlist *lists, char **out)
{
	const struct ky_device_resource *res = &cfg->resources[k];
	const struct ky_device_selector *sel = &res->selectors[j];
	*out = NULL;
	for (size_t i = 0; i < pci->n; i++) {
		const struct ky_pci_dev *dev = &pci->devs[i];
		const char *why;
		if (!ky_pci_selector_matches(&sel->pci, dev, pci))
			continue;
		if (!kind_takes(res->kind, dev, NULL, &why))
			return asprintf(out, "%s matches its fields but is %s", dev->addr, why) < 0 ? -ENOMEM : 0;
		for (size_t o = 0; o < cfg->n_resources; o++) {
			const struct ky_device *d = ky_devlist_find_pci(&lists[o], dev->addr);
			if (!d)
				continue;
			if (o == k)
				return asprintf(out, "%s matches its fields but %s took it first",
						dev->addr, res->selectors[d->selector].path) < 0 ? -ENOMEM : 0;
			return asprintf(out, "%s matches its fields but %s (%s) took it first", dev->addr,
					cfg->resources[o].path, cfg->resources[o].name) < 0 ? -ENOMEM : 0;
		}
		/* The kind took it without the host's facts: the default route. */
		return asprintf(out, "%s matches its fields but is on the node's default route", dev->addr) < 0
			       ? -ENOMEM
			       : 0;
	}
	return 0;
}

int ky_devices_notes(const struct ky_device_config *cfg, const struct ky_pci_list *pci,
		     const struct ky_devlist *lists, char ***notes, size_t *n_notes)
{
	for (size_t k = 0; k < cfg->n_resources; k++) {
		const struct ky_device_resource *res = &cfg->resources[k];
		for (size_t j = 0; j < res->n_selectors; j++) {
			const struct ky_device_selector *sel = &res->selectors[j];
			size_t taken = 0;
			for (size_t i = 0; i < lists[k].n; i++)
				taken += lists[k].devs[i].selector == j;
			_cleanup_strv_free_ char **sub = NULL;
			size_t n_sub = 0;
			int r = ky_pci_selector_notes(&sel->pci, pci, &sub, &n_sub);
			for (size_t i = 0; r == 0 && i < n_sub; i++)
				r = ky_strv_append(notes, n_notes, "%s.%s", sel->path, sub[i]);
			if (r == 0 && !taken) {
				_cleanup_free_ char *why = NULL;
				r = why_nothing(cfg, k, j, pci, lists, &why);
				if (r == 0)
					r = ky_strv_append(notes, n_notes, "%s: matches no device on this node (%s gets none "
									   "from it)%s%s",
							   sel->path, res->name, why ? ": " : "", why ? why : "");
			}
			if (r < 0)
				return r;
		}
	}
	return 0;
}

void ky_devices_log_notes(const struct ky_device_config *cfg, const struct ky_pci_list *pci,
			  const struct ky_devlist *lists)
{
	_cleanup_strv_free_ char **notes = NULL;
	size_t n = 0;
	char q[1024];
	for (size_t i = 0; i < cfg->n_warnings; i++)
		ky_warn("config-warning", "message=%s", ky_log_quote(cfg->warnings[i], q, sizeof(q)));
	if (ky_devices_notes(cfg, pci, lists, &notes, &n) < 0)
		ky_warn("selector-note", "error=%s", strerror(ENOMEM));
	for (size_t i = 0; i < n; i++)
		ky_warn("selector-note", "message=%s", ky_log_quote(notes[i], q, sizeof(q)));
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
		if (strcmp(x->id, y->id) != 0 || x->healthy != y->healthy || x->numa_node != y->numa_node ||
		    x->selector != y->selector || x->host_nodes != y->host_nodes)
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

static const char *const dra_kinds[] = { "gpu", "fpga", "vf", "net", "accel" };

const char *ky_device_dra_kind(enum ky_device_kind kind)
{
	return (unsigned)kind < KY_ARRAY_SIZE(dra_kinds) ? dra_kinds[kind] : "device";
}

void ky_device_dra_name_of(const char *kind, const char *pci_addr, int replica, char out[KY_DEVICE_DRA_NAME_MAX])
{
	int n = snprintf(out, KY_DEVICE_DRA_NAME_MAX, "%s-%s", kind, pci_addr);
	for (char *c = out + strlen(kind); *c; c++)
		if (*c == ':' || *c == '.')
			*c = '-';
	if (replica >= 0 && n > 0 && n < KY_DEVICE_DRA_NAME_MAX)
		snprintf(out + n, KY_DEVICE_DRA_NAME_MAX - (size_t)n, "-r%d", replica);
}

void ky_device_dra_name(enum ky_device_kind kind, const char *pci_addr, int replica,
			char out[KY_DEVICE_DRA_NAME_MAX])
{
	ky_device_dra_name_of(ky_device_dra_kind(kind), pci_addr, replica, out);
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
