/* GetPreferredAllocation's choice (the device plugin's alone; what the
 * chosen devices give a container is the core's, kyborg/device/): every
 * must-include first, then one NUMA node, replicas packed or spread. Pure. */
#include "dp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"

struct cand {
	const char *id;
	const struct ky_device *dev;
	bool taken;
};

struct pick {
	const char **ids;
	const struct ky_pci_dev **pcis; /* NULL for an ID we do not know */
	size_t n;
};

static bool picked(const struct pick *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (strcmp(p->ids[i], id) == 0)
			return true;
	return false;
}

static size_t uses_of(const struct pick *p, const struct ky_pci_dev *pci)
{
	size_t n = 0;
	for (size_t i = 0; i < p->n; i++)
		n += p->pcis[i] == pci;
	return n;
}

/* Negative when a is the better next pick. */
static int cand_cmp(const struct ky_device_resource *res, const struct pick *p, int numa, const struct cand *a,
		    const struct cand *b)
{
	bool an = a->dev->numa_node == numa, bn = b->dev->numa_node == numa;
	if (an != bn)
		return an ? -1 : 1;
	if (a->dev->replica >= 0 && a->dev->pci != b->dev->pci) {
		size_t ua = uses_of(p, a->dev->pci), ub = uses_of(p, b->dev->pci);
		if (ua != ub) {
			if (res->strategy == KY_DEVICE_SPREAD)
				return ua < ub ? -1 : 1;
			return ua > ub ? -1 : 1;
		}
	}
	return 0; /* keep kubelet's order */
}

int dp_preferred(const struct ky_device_resource *res, const struct ky_devlist *list, const char *const *available,
		 size_t n_available, const char *const *must, size_t n_must, size_t size, const char ***out,
		 size_t *n_out, struct ky_error **err)
{
	/* The size comes from the peer (allocation_size): no answer can hold
	 * more than the IDs offered, so neither may what is reserved for it. */
	if (size > n_available + n_must)
		size = n_available + n_must;
	size_t cap = size > n_must ? size : n_must;
	_cleanup_free_ const char **ids = calloc(cap + 1, sizeof(*ids));
	_cleanup_free_ const struct ky_pci_dev **pcis = calloc(cap + 1, sizeof(*pcis));
	_cleanup_free_ struct cand *cands = calloc(n_available + 1, sizeof(*cands));
	struct pick p = { .ids = ids, .pcis = pcis };
	size_t n_cands = 0;
	int numa = -1;

	if (!ids || !pcis || !cands)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_must; i++) {
		if (picked(&p, must[i]))
			continue;
		const struct ky_device *d = ky_devlist_find(list, must[i]);
		p.ids[p.n] = must[i];
		p.pcis[p.n++] = d ? d->pci : NULL;
		if (d && numa < 0)
			numa = d->numa_node;
	}
	_cleanup_free_ bool *listed = calloc(list->n + 1, sizeof(*listed));
	if (!listed)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_available; i++) {
		const struct ky_device *d = ky_devlist_find(list, available[i]);
		if (!d || !d->healthy || listed[d - list->devs] || picked(&p, available[i]))
			continue;
		listed[d - list->devs] = true;
		cands[n_cands++] = (struct cand){ .id = available[i], .dev = d };
	}
	size_t need = size > p.n ? size - p.n : 0;
	if (need && numa < 0) {
		/* No node forced: the lowest node that holds all we need, else
		 * the node that holds most of it. */
		int best = -1;
		size_t best_count = 0;
		for (size_t i = 0; i < n_cands; i++) {
			int node = cands[i].dev->numa_node;
			size_t count = 0;
			if (node < 0)
				continue;
			for (size_t j = 0; j < n_cands; j++)
				count += cands[j].dev->numa_node == node;
			bool fits = count >= need, best_fits = best_count >= need;
			if (best < 0 || (fits && !best_fits) || (fits == best_fits && !fits && count > best_count) ||
			    (fits && best_fits && node < best)) {
				best = node;
				best_count = count;
			}
		}
		numa = best;
	}
	for (; need > 0; need--) {
		struct cand *best = NULL;
		for (size_t i = 0; i < n_cands; i++) {
			if (cands[i].taken)
				continue;
			if (!best || cand_cmp(res, &p, numa, &cands[i], best) < 0)
				best = &cands[i];
		}
		if (!best)
			break;
		best->taken = true;
		p.ids[p.n] = best->id;
		p.pcis[p.n++] = best->dev->pci;
	}
	*n_out = p.n;
	*out = TAKE_PTR(ids);
	return 0;
}
