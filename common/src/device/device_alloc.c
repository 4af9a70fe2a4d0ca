/* What devices give a container (kyborg/device/device_alloc.h): the envs
 * users rely on, device specs, annotations and CDI names. Pure. */
#include "kyborg/device/device_alloc.h"
#include "device_internal.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/str.h"
#include "kyborg/json/json.h"

const char *ky_kv_get(const struct ky_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

char *ky_device_env_name(const char *resource)
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

char *ky_device_cdi_name(const char *resource, const char *id)
{
	char *s;
	return asprintf(&s, "%s=%s", resource, id) < 0 ? NULL : s;
}

void ky_device_alloc_release(struct ky_device_alloc *a)
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
	*a = (struct ky_device_alloc){ 0 };
}

int ky_device_add_kv(struct ky_kv **v, size_t *n, char *key, char *value)
{
	struct ky_kv *nv = key && value ? realloc(*v, (*n + 1) * sizeof(**v)) : NULL;
	if (!nv) {
		free(key);
		free(value);
		return -ENOMEM;
	}
	*v = nv;
	nv[(*n)++] = (struct ky_kv){ key, value };
	return 0;
}

int ky_device_add_spec(struct ky_device_alloc *a, const char *node)
{
	for (size_t i = 0; i < a->n_specs; i++)
		if (strcmp(a->specs[i].host_path, node) == 0)
			return 0;
	struct ky_device_spec *ns = realloc(a->specs, (a->n_specs + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	a->specs = ns;
	struct ky_device_spec s = { strdup(node), strdup(node), strdup("rw") };
	if (!s.host_path || !s.container_path || !s.permissions) {
		free(s.host_path);
		free(s.container_path);
		free(s.permissions);
		return -ENOMEM;
	}
	a->specs[a->n_specs++] = s;
	return 0;
}

const char *ky_device_vfio_group(const struct ky_pci_dev *pci)
{
	for (size_t i = 0; i < pci->n_devnodes; i++)
		if (strncmp(pci->devnodes[i], "/dev/vfio/", 10) == 0 && strcmp(pci->devnodes[i], "/dev/vfio/vfio") != 0)
			return pci->devnodes[i];
	return NULL;
}

/* The device nodes a container needs for one function: an FPGA's port
 * (the FME stays with us, it programs the region), a VF's VFIO group and
 * the VFIO container node, anything else's nodes as discovered. */
static int add_device_specs(struct ky_device_alloc *a, enum ky_device_kind kind, const struct ky_pci_dev *pci)
{
	int r;
	for (size_t i = 0; i < pci->n_devnodes; i++) {
		const char *node = pci->devnodes[i];
		if (kind == KY_DEVICE_FPGA && strncmp(node, "/dev/dfl-port.", 14) != 0)
			continue;
		if ((r = ky_device_add_spec(a, node)) < 0)
			return r;
	}
	if (ky_device_vfio_group(pci) && (r = ky_device_add_spec(a, "/dev/vfio/vfio")) < 0)
		return r;
	return 0;
}

int ky_device_specs(const struct ky_device_resource *res, const struct ky_device *d, struct ky_device_alloc *out)
{
	struct ky_device_alloc a = { 0 };
	int r = res->schema == KY_DEVICE_SCHEMA_SRIOVDP ? ky_device_sriovdp_specs(res, d, &a)
							 : add_device_specs(&a, res->kind, d->pci);
	if (r < 0) {
		ky_device_alloc_release(&a);
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
		const char *group = ky_device_vfio_group(pcis[i]);
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

char *ky_device_cdi_annotation_key(const char *resource)
{
	char *s;
	if (asprintf(&s, KY_DEVICE_CDI_ANNOTATION_PREFIX "kyborg_%s", resource) < 0)
		return NULL;
	ky_str_replace_char(s + strlen(KY_DEVICE_CDI_ANNOTATION_PREFIX), '/', '_');
	return s;
}

int ky_device_allocate(const struct ky_device_resource *res, const struct ky_devlist *list, const char *const *ids, size_t n,
		bool with_cdi, struct ky_device_alloc *out, struct ky_error **err)
{
	_cleanup_free_ const struct ky_pci_dev **pcis = calloc(n + 1, sizeof(*pcis));
	_cleanup_free_ const struct ky_device **devs = calloc(n + 1, sizeof(*devs));
	const bool sriovdp = res->schema == KY_DEVICE_SCHEMA_SRIOVDP;
	struct ky_device_alloc a = { 0 };
	size_t n_pcis = 0;
	bool nvidia = false;
	int r = -ENOMEM;

	if (!pcis || !devs)
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct ky_device *d = ky_devlist_find(list, ids[i]);
		if (!d) {
			/* kubelet's ID, as it sent it: quoted and escaped when it
			 * holds a control byte, so the message stays one line. */
			char q[96];
			return ky_error_set(err, EINVAL, "unknown device %s for %s",
					    ky_json_quote_controls(ids[i], q, sizeof(q)), res->name);
		}
		if (!d->healthy)
			return ky_error_set(err, EINVAL, "device %s of %s is unhealthy", ids[i], res->name);
		bool seen = false;
		for (size_t j = 0; j < n_pcis && !seen; j++)
			seen = pcis[j] == d->pci;
		if (!seen) {
			devs[n_pcis] = d;
			pcis[n_pcis++] = d->pci;
		}
		nvidia |= res->kind == KY_DEVICE_GPU && d->pci->vendor == 0x10de;
	}

	char *env = sriovdp ? ky_device_sriovdp_env_name(res->name) : ky_device_env_name(res->name);
	if (ky_device_add_kv(&a.envs, &a.n_envs, env, join_addrs(pcis, n_pcis)) < 0)
		goto fail;
	if (nvidia && ky_device_add_kv(&a.envs, &a.n_envs, strdup("NVIDIA_VISIBLE_DEVICES"), join_addrs(pcis, n_pcis)) < 0)
		goto fail;
	if (sriovdp || res->kind == KY_DEVICE_NIC_VF) {
		char *base = sriovdp ? ky_device_sriovdp_env_name(res->name) : ky_device_env_name(res->name), *key = NULL;
		if (base && asprintf(&key, "%s_INFO", base) < 0)
			key = NULL;
		free(base);
		char *info = sriovdp ? ky_device_sriovdp_info(res, devs, n_pcis) : vf_info(pcis, n_pcis);
		if (ky_device_add_kv(&a.envs, &a.n_envs, key, info) < 0)
			goto fail;
	}
	for (size_t i = 0; i < n_pcis; i++)
		if ((r = sriovdp ? ky_device_sriovdp_specs(res, devs[i], &a) : add_device_specs(&a, res->kind, pcis[i])) < 0)
			goto fail;
	if (with_cdi) {
		a.cdi_devices = calloc(n + 1, sizeof(*a.cdi_devices));
		if (!a.cdi_devices)
			goto fail;
		for (size_t i = 0; i < n; i++) {
			if (!(a.cdi_devices[i] = ky_device_cdi_name(res->name, ids[i])))
				goto fail;
			a.n_cdi_devices = i + 1;
		}
		/* Runtimes that take CDI devices from annotations (containerd
		 * before the CRI field) read the same names here. */
		char *key = ky_device_cdi_annotation_key(res->name);
		if (key && strlen(key) - strlen(KY_DEVICE_CDI_ANNOTATION_PREFIX) > 63) {
			free(key); /* an annotation name past 63 characters: the CRI field alone */
		} else if (ky_device_add_kv(&a.annotations, &a.n_annotations, key, join_strs(a.cdi_devices, a.n_cdi_devices)) < 0) {
			goto fail;
		}
	}
	if (res->has_bitstream &&
	    ky_device_add_kv(&a.annotations, &a.n_annotations, strdup(KY_DEVICE_ANNOTATION_BITSTREAM), strdup(res->bitstream.id)) < 0)
		goto fail;
	*out = a;
	return 0;
fail:
	ky_device_alloc_release(&a);
	return ky_error_set(err, ENOMEM, "out of memory");
}
