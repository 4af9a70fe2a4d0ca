/* Allocation choices and answers: GetPreferredAllocation (must-include
 * first, one NUMA node, replicas packed or spread) and one container's
 * Allocate answer (envs users rely on, device specs, CDI names). Pure. */
#include "dp.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/str.h"
#include "kyborg/json/json.h"

/* ---- GetPreferredAllocation ---- */

struct cand {
	const char *id;
	const struct dp_device *dev;
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
static int cand_cmp(const struct dp_resource *res, const struct pick *p, int numa, const struct cand *a,
		    const struct cand *b)
{
	bool an = a->dev->numa_node == numa, bn = b->dev->numa_node == numa;
	if (an != bn)
		return an ? -1 : 1;
	if (a->dev->replica >= 0 && a->dev->pci != b->dev->pci) {
		size_t ua = uses_of(p, a->dev->pci), ub = uses_of(p, b->dev->pci);
		if (ua != ub) {
			if (res->strategy == DP_SPREAD)
				return ua < ub ? -1 : 1;
			return ua > ub ? -1 : 1;
		}
	}
	return 0; /* keep kubelet's order */
}

int dp_preferred(const struct dp_resource *res, const struct dp_devlist *list, const char *const *available,
		 size_t n_available, const char *const *must, size_t n_must, size_t size, const char ***out,
		 size_t *n_out, struct ky_error **err)
{
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
		const struct dp_device *d = dp_devlist_find(list, must[i]);
		p.ids[p.n] = must[i];
		p.pcis[p.n++] = d ? d->pci : NULL;
		if (d && numa < 0)
			numa = d->numa_node;
	}
	_cleanup_free_ bool *listed = calloc(list->n + 1, sizeof(*listed));
	if (!listed)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_available; i++) {
		const struct dp_device *d = dp_devlist_find(list, available[i]);
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

/* ---- Allocate ---- */

const char *dp_kv_get(const struct dp_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

char *dp_env_name(const char *resource)
{
	char *s;
	if (asprintf(&s, "PCIDEVICE_%s", resource) < 0)
		return NULL;
	for (char *p = s; *p; p++) {
		if (*p == '.' || *p == '/' || *p == '-')
			*p = '_';
		else
			*p = (char)toupper((unsigned char)*p);
	}
	return s;
}

char *dp_cdi_name(const char *resource, const char *id)
{
	char *s;
	return asprintf(&s, "%s=%s", resource, id) < 0 ? NULL : s;
}

void dp_container_alloc_release(struct dp_container_alloc *a)
{
	for (size_t i = 0; i < a->n_envs; i++) {
		free(a->envs[i].key);
		free(a->envs[i].value);
	}
	for (size_t i = 0; i < a->n_annotations; i++) {
		free(a->annotations[i].key);
		free(a->annotations[i].value);
	}
	for (size_t i = 0; i < a->n_specs; i++) {
		free(a->specs[i].host_path);
		free(a->specs[i].container_path);
		free(a->specs[i].permissions);
	}
	for (size_t i = 0; i < a->n_cdi_devices; i++)
		free(a->cdi_devices[i]);
	free(a->envs);
	free(a->annotations);
	free(a->specs);
	free(a->cdi_devices);
	*a = (struct dp_container_alloc){ 0 };
}

/* Takes key and value (freed on failure). */
static int add_kv(struct dp_kv **v, size_t *n, char *key, char *value)
{
	struct dp_kv *nv = key && value ? realloc(*v, (*n + 1) * sizeof(**v)) : NULL;
	if (!nv) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = (struct dp_kv){ key, value };
	return 0;
}

static int add_spec(struct dp_container_alloc *a, const char *node)
{
	for (size_t i = 0; i < a->n_specs; i++)
		if (strcmp(a->specs[i].host_path, node) == 0)
			return 0;
	struct dp_spec *ns = realloc(a->specs, (a->n_specs + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	a->specs = ns;
	struct dp_spec s = { strdup(node), strdup(node), strdup("rw") };
	if (!s.host_path || !s.container_path || !s.permissions) {
		free(s.host_path);
		free(s.container_path);
		free(s.permissions);
		return -ENOMEM;
	}
	a->specs[a->n_specs++] = s;
	return 0;
}

static const char *vfio_group_node(const struct ky_pci_dev *pci)
{
	for (size_t i = 0; i < pci->n_devnodes; i++)
		if (strncmp(pci->devnodes[i], "/dev/vfio/", 10) == 0 && strcmp(pci->devnodes[i], "/dev/vfio/vfio") != 0)
			return pci->devnodes[i];
	return NULL;
}

/* The device nodes a container needs for one function: an FPGA's port
 * (the FME stays with us, it programs the region), a VF's VFIO group and
 * the VFIO container node, anything else's nodes as discovered. */
static int add_device_specs(struct dp_container_alloc *a, enum dp_kind kind, const struct ky_pci_dev *pci)
{
	int r;
	for (size_t i = 0; i < pci->n_devnodes; i++) {
		const char *node = pci->devnodes[i];
		if (kind == DP_KIND_FPGA && strncmp(node, "/dev/dfl-port.", 14) != 0)
			continue;
		if ((r = add_spec(a, node)) < 0)
			return r;
	}
	if (vfio_group_node(pci) && (r = add_spec(a, "/dev/vfio/vfio")) < 0)
		return r;
	return 0;
}

int dp_device_specs(const struct dp_resource *res, const struct dp_device *d, struct dp_container_alloc *out)
{
	struct dp_container_alloc a = { 0 };
	int r = add_device_specs(&a, res->kind, d->pci);
	if (r < 0) {
		dp_container_alloc_release(&a);
		return r;
	}
	*out = a;
	return 0;
}

/* PCIDEVICE_<RESOURCE>_INFO as the SR-IOV network device plugin writes it:
 * {"<id>":{"generic":{"deviceID":"<pci>"},"vfio":{...}}}. */
static char *vf_info(const struct ky_pci_dev *const *pcis, size_t n)
{
	_cleanup_(cJSON_Deletep) cJSON *root = cJSON_CreateObject();
	if (!root)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cJSON *dev = cJSON_AddObjectToObject(root, pcis[i]->addr);
		cJSON *gen = dev ? cJSON_AddObjectToObject(dev, "generic") : NULL;
		if (!gen || !cJSON_AddStringToObject(gen, "deviceID", pcis[i]->addr))
			return NULL;
		const char *group = vfio_group_node(pcis[i]);
		if (group) {
			cJSON *vfio = cJSON_AddObjectToObject(dev, "vfio");
			if (!vfio || !cJSON_AddStringToObject(vfio, "dev-mount", group) ||
			    !cJSON_AddStringToObject(vfio, "mount", "/dev/vfio/vfio"))
				return NULL;
		}
	}
	return cJSON_PrintUnformatted(root);
}

static char *join_addrs(const struct ky_pci_dev *const *pcis, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(pcis[i]->addr) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", pcis[i]->addr);
	return s;
}

static char *join_strs(char *const *v, size_t n)
{
	size_t len = 1;
	for (size_t i = 0; i < n; i++)
		len += strlen(v[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	*p = '\0';
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", v[i]);
	return s;
}

char *dp_cdi_annotation_key(const char *resource)
{
	char *s;
	if (asprintf(&s, DP_CDI_ANNOTATION_PREFIX "kyborg_%s", resource) < 0)
		return NULL;
	ky_str_replace_char(s + strlen(DP_CDI_ANNOTATION_PREFIX), '/', '_');
	return s;
}

int dp_allocate(const struct dp_resource *res, const struct dp_devlist *list, const char *const *ids, size_t n,
		bool with_cdi, struct dp_container_alloc *out, struct ky_error **err)
{
	_cleanup_free_ const struct ky_pci_dev **pcis = calloc(n + 1, sizeof(*pcis));
	struct dp_container_alloc a = { 0 };
	size_t n_pcis = 0;
	bool nvidia = false;
	int r = -ENOMEM;

	if (!pcis)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct dp_device *d = dp_devlist_find(list, ids[i]);
		if (!d)
			return ky_error_set(err, EINVAL, "unknown device %s for %s", ids[i], res->name);
		if (!d->healthy)
			return ky_error_set(err, EINVAL, "device %s of %s is unhealthy", ids[i], res->name);
		bool seen = false;
		for (size_t j = 0; j < n_pcis && !seen; j++)
			seen = pcis[j] == d->pci;
		if (!seen)
			pcis[n_pcis++] = d->pci;
		nvidia |= res->kind == DP_KIND_GPU && d->pci->vendor == 0x10de;
	}

	char *env = dp_env_name(res->name);
	if (add_kv(&a.envs, &a.n_envs, env, join_addrs(pcis, n_pcis)) < 0)
		goto fail;
	if (nvidia && add_kv(&a.envs, &a.n_envs, strdup("NVIDIA_VISIBLE_DEVICES"), join_addrs(pcis, n_pcis)) < 0)
		goto fail;
	if (res->kind == DP_KIND_NIC_VF) {
		char *base = dp_env_name(res->name), *key = NULL;
		if (base && asprintf(&key, "%s_INFO", base) < 0)
			key = NULL;
		free(base);
		if (add_kv(&a.envs, &a.n_envs, key, vf_info(pcis, n_pcis)) < 0)
			goto fail;
	}
	for (size_t i = 0; i < n_pcis; i++)
		if ((r = add_device_specs(&a, res->kind, pcis[i])) < 0)
			goto fail;
	if (with_cdi) {
		a.cdi_devices = calloc(n + 1, sizeof(*a.cdi_devices));
		if (!a.cdi_devices)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			if (!(a.cdi_devices[i] = dp_cdi_name(res->name, ids[i])))
				goto fail;
			a.n_cdi_devices = i + 1;
		}
		/* Runtimes that take CDI devices from annotations (containerd
		 * before the CRI field) read the same names here. */
		char *key = dp_cdi_annotation_key(res->name);
		if (key && strlen(key) - strlen(DP_CDI_ANNOTATION_PREFIX) > 63) {
			free(key); /* an annotation name past 63 characters: the CRI field alone */
		} else if (add_kv(&a.annotations, &a.n_annotations, key, join_strs(a.cdi_devices, a.n_cdi_devices)) < 0) {
			goto fail;
		}
	}
	if (res->has_bitstream &&
	    add_kv(&a.annotations, &a.n_annotations, strdup(DP_ANNOTATION_BITSTREAM), strdup(res->bitstream.id)) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	dp_container_alloc_release(&a);
	return ky_error_set(err, ENOMEM, "out of memory");
}
