/* A prepared claim's CDI spec (<cdi dir>/<driver>-claim_<UID>.json, through
 * the core's cdi_spec): the env each resource's devices give a container
 * (what the device plugin's Allocate gives), common to the claim's devices,
 * and each device's nodes under its own name "<UID>-<device>", so the CDI ID
 * "<driver>/claim=<UID>-<device>" resolves, with what the claim's own
 * config gives it (a GPU's sharing and environment, an FPGA's image id, a
 * VF's nodes as its driver leaves them). Written atomically; removed at
 * Unprepare, by the path the record names and the one the UID gives. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/device/device_alloc.h"
#include "kyborg/pci/sriov_sysfs.h"
#include "dra_config.h"

char *dra_cdi_spec_path(const struct dra_daemon *d, const char *uid)
{
	_cleanup_free_ char *name = ky_cdi_claim_spec_name(d->opts->driver_name, uid);
	char *s;
	return name && asprintf(&s, "%s/%s", d->opts->cdi_dir, name) >= 0 ? s : NULL;
}

/* Appends what a's envs hold to common's (a's strings move). */
static int take_envs(struct ky_device_alloc *common, struct ky_device_alloc *a)
{
	struct ky_kv *nv = realloc(common->envs, (common->n_envs + a->n_envs + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	common->envs = nv;
	memcpy(&nv[common->n_envs], a->envs, a->n_envs * sizeof(*nv));
	common->n_envs += a->n_envs;
	free(a->envs);
	a->envs = NULL;
	a->n_envs = 0;
	return 0;
}

/* A device as the claim leaves it: a VF its VfConfig binds to vfio-pci
 * gives its VFIO group, one it gives back to a network driver no VFIO node
 * (discovery sees a rebind only once udev tells, later than this spec). */
struct view {
	struct ky_pci_dev pci;
	struct ky_device dev;
	char **nodes;
	char group[32];
};

struct spec_parts {
	size_t n;
	struct ky_device_alloc *nodes;
	struct ky_cdi_device *devs;
	char **names;
	struct view *views;
	struct ky_device_alloc common;
};

static void parts_release(struct spec_parts *p)
{
	for (size_t i = 0; p->nodes && i < p->n; i++)
		ky_device_alloc_release(&p->nodes[i]);
	for (size_t i = 0; p->names && i < p->n; i++)
		free(p->names[i]);
	for (size_t i = 0; p->views && i < p->n; i++)
		free(p->views[i].nodes);
	free(p->nodes);
	free(p->devs);
	free(p->names);
	free(p->views);
	ky_device_alloc_release(&p->common);
}

/* The device of plan device rd as a container gets it: dev->dev itself, or
 * its view. */
static const struct ky_device *as_claimed(const struct ky_dra_record_device *rd, const struct dra_device *dev,
					  struct view *v)
{
	if (!rd->vf || rd->vf->driver == KY_DRA_VF_DRIVER_KEEP)
		return dev->dev;
	const struct ky_pci_dev *pci = dev->dev->pci;
	v->pci = *pci;
	v->dev = *dev->dev;
	v->dev.pci = &v->pci;
	if (!(v->nodes = calloc(pci->n_devnodes + 2, sizeof(*v->nodes))))
		return NULL;
	v->pci.devnodes = v->nodes;
	v->pci.n_devnodes = 0;
	for (size_t i = 0; i < pci->n_devnodes; i++)
		if (strncmp(pci->devnodes[i], "/dev/vfio/", 10) != 0)
			v->nodes[v->pci.n_devnodes++] = pci->devnodes[i];
	if (rd->vf->driver == KY_DRA_VF_DRIVER_VFIO) {
		v->pci.driver = "vfio-pci";
		v->pci.netdevs = NULL;
		v->pci.n_netdevs = 0;
		if (pci->iommu_group >= 0) {
			snprintf(v->group, sizeof(v->group), "/dev/vfio/%d", pci->iommu_group);
			v->nodes[v->pci.n_devnodes++] = v->group;
		}
	} else if (ky_pci_driver_is_userspace(pci->driver)) {
		v->pci.driver = NULL; /* the kernel's choice of network driver, bound since */
	}
	return &v->dev;
}

static int add_env(struct ky_device_alloc *a, const char *key, const char *value)
{
	struct ky_kv *nv = realloc(a->envs, (a->n_envs + 1) * sizeof(*nv));
	if (!nv)
		return -ENOMEM;
	a->envs = nv;
	if (!(nv[a->n_envs].key = strdup(key)) || !(nv[a->n_envs].value = strdup(value))) {
		free(nv[a->n_envs].key);
		return -ENOMEM;
	}
	a->n_envs++;
	return 0;
}

/* What the claim's own config gives the container of one device: a GPU's
 * sharing and environment (GpuConfig), an FPGA's image id (as the device
 * plugin annotates it: kyborg.io/bitstream-id). */
static int device_env(const struct ky_dra_record_device *rd, const struct dra_device *dev, struct ky_device_alloc *a)
{
	int r = 0;
	if (dev->res->kind == KY_DEVICE_GPU) {
		struct dra_gpu_use use;
		dra_gpu_use_of(rd->gpu, ky_device_resource_shared(dev->res), &use);
		r = add_env(a, DRA_ENV_GPU_SHARING, dra_gpu_sharing_name(use.sharing));
		for (size_t i = 0; r == 0 && i < use.n_env; i++) {
			_cleanup_free_ char *name = strndup(use.env[i], strcspn(use.env[i], "="));
			r = name ? add_env(a, name, strchr(use.env[i], '=') + 1) : -ENOMEM;
		}
	}
	if (r == 0 && dev->res->kind == KY_DEVICE_FPGA && rd->bitstream)
		r = add_env(a, DRA_ENV_BITSTREAM_ID, rd->bitstream);
	return r;
}

/* The list of res (index li) with the plan's devices seen as claimed: the
 * daemon's own list, or a copy (*copy, to free) where a view differs. */
static const struct ky_devlist *list_as_claimed(const struct dra_daemon *d, const struct ky_dra_record *plan,
						const struct spec_parts *p, size_t li, struct ky_devlist *copy)
{
	const struct ky_devlist *list = &d->lists[li];
	for (size_t i = 0; i < plan->n_devices; i++) {
		const struct view *v = &p->views[i];
		if (!v->nodes)
			continue;
		for (size_t k = 0; k < list->n; k++) {
			if (list->devs[k].pci != v->dev.pci && strcmp(list->devs[k].id, v->dev.id) == 0) {
				if (!copy->devs) {
					if (!(copy->devs = malloc(list->n * sizeof(*copy->devs))))
						return NULL;
					memcpy(copy->devs, list->devs, list->n * sizeof(*copy->devs));
					copy->n = list->n;
				}
				copy->devs[k].pci = &v->pci;
			}
		}
	}
	return copy->devs ? copy : list;
}

static int build(const struct dra_daemon *d, const struct ky_dra_record *plan, struct spec_parts *p,
		 struct ky_error **err)
{
	size_t n = plan->n_devices;
	_cleanup_free_ const char **ids = calloc(n + 1, sizeof(*ids));
	_cleanup_free_ bool *grouped = calloc(n + 1, sizeof(*grouped));
	_cleanup_free_ struct dra_device *devs = calloc(n + 1, sizeof(*devs));
	p->n = n;
	if (!ids || !grouped || !devs || !(p->nodes = calloc(n + 1, sizeof(*p->nodes))) ||
	    !(p->devs = calloc(n + 1, sizeof(*p->devs))) || !(p->names = calloc(n + 1, sizeof(*p->names))) ||
	    !(p->views = calloc(n + 1, sizeof(*p->views))))
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct ky_dra_record_device *rd = &plan->devices[i];
		const struct ky_device *one;
		if (dra_device_find(d, rd->device, &devs[i]) < 0)
			return ky_error_set(err, ENODEV, "device %s is gone from the node", rd->device);
		if (!(one = as_claimed(rd, &devs[i], &p->views[i])) || ky_device_specs(devs[i].res, one, &p->nodes[i]) < 0 ||
		    device_env(rd, &devs[i], &p->nodes[i]) < 0 ||
		    !(p->names[i] = ky_cdi_claim_device_name(plan->claim_uid, rd->device)))
			return ky_error_set(err, ENOMEM, "out of memory");
		p->devs[i] = (struct ky_cdi_device){ p->names[i], &p->nodes[i] };
	}
	for (size_t i = 0; i < n; i++) {
		if (grouped[i])
			continue;
		/* This resource's devices in the claim: one env, as for one
		 * container of the device plugin. */
		size_t m = 0;
		for (size_t j = i; j < n; j++) {
			if (!grouped[j] && devs[j].res == devs[i].res) {
				grouped[j] = true;
				ids[m++] = devs[j].dev->id;
			}
		}
		struct ky_devlist copy = { 0 };
		const struct ky_devlist *list = list_as_claimed(d, plan, p, devs[i].list, &copy);
		struct ky_device_alloc a = { 0 };
		int r = list ? ky_device_allocate(devs[i].res, list, ids, m, false, &a, err)
			     : ky_error_set(err, ENOMEM, "out of memory");
		if (r == 0 && take_envs(&p->common, &a) < 0)
			r = ky_error_set(err, ENOMEM, "out of memory");
		ky_device_alloc_release(&a);
		free(copy.devs);
		if (r < 0)
			return r;
	}
	return 0;
}

int dra_cdi_write(const struct dra_daemon *d, const struct ky_dra_record *plan, struct ky_error **err)
{
	struct spec_parts p = { 0 };
	_cleanup_free_ char *kind = ky_cdi_claim_kind(d->opts->driver_name), *text = NULL, *dir = NULL;
	const char *slash = strrchr(plan->cdi_spec, '/');
	int r = build(d, plan, &p, err);
	if (r == 0 && (!kind || !(text = ky_cdi_spec_json(kind, &p.common, p.devs, p.n))))
		r = ky_error_set(err, ENOMEM, "out of memory");
	if (r == 0 && (!slash || !(dir = strndup(plan->cdi_spec, (size_t)(slash - plan->cdi_spec)))))
		r = ky_error_set(err, slash ? ENOMEM : EINVAL, "CDI spec path %s", plan->cdi_spec);
	if (r == 0)
		r = ky_cdi_spec_write(*dir ? dir : "/", slash + 1, text, err);
	parts_release(&p);
	return r < 0 ? ky_error_prefix(err, "CDI spec") : 0;
}

/* The record's path, if its file name is the one the claim's spec has: a
 * record that names any other file is not obeyed. */
static int remove_recorded(const struct dra_daemon *d, const char *path, const char *uid, struct ky_error **err)
{
	_cleanup_free_ char *name = ky_cdi_claim_spec_name(d->opts->driver_name, uid);
	const char *slash = strrchr(path, '/');
	if (!name)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (!slash || strcmp(slash + 1, name) != 0)
		return ky_error_set(err, EINVAL, "the record names CDI spec %s, not %s", path, name);
	_cleanup_free_ char *dir = strndup(path, (size_t)(slash - path));
	if (!dir)
		return ky_error_set(err, ENOMEM, "out of memory");
	return ky_cdi_spec_remove(*dir ? dir : "/", name, err);
}

int dra_cdi_remove(const struct dra_daemon *d, const char *recorded_path, const char *uid, struct ky_error **err)
{
	_cleanup_free_ char *name = ky_cdi_claim_spec_name(d->opts->driver_name, uid);
	int r;
	if (!name)
		return ky_error_set(err, ENOMEM, "out of memory");
	if (recorded_path && (r = remove_recorded(d, recorded_path, uid, err)) < 0)
		return r;
	/* --cdi-dir may have changed since the record: both places. */
	return ky_cdi_spec_remove(d->opts->cdi_dir, name, err);
}
