/* A prepared claim's CDI spec (<cdi dir>/<driver>-claim_<UID>.json, through
 * the core's cdi_spec): the env each resource's devices give a container
 * (what the device plugin's Allocate gives), common to the claim's devices,
 * and each device's nodes under its own name "<UID>-<device>", so the CDI ID
 * "<driver>/claim=<UID>-<device>" resolves. Written atomically; removed at
 * Unprepare, by the path the record names and the one the UID gives. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/device/device_alloc.h"

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

struct spec_parts {
	size_t n;
	struct ky_device_alloc *nodes;
	struct ky_cdi_device *devs;
	char **names;
	struct ky_device_alloc common;
};

static void parts_release(struct spec_parts *p)
{
	for (size_t i = 0; p->nodes && i < p->n; i++)
		ky_device_alloc_release(&p->nodes[i]);
	for (size_t i = 0; p->names && i < p->n; i++)
		free(p->names[i]);
	free(p->nodes);
	free(p->devs);
	free(p->names);
	ky_device_alloc_release(&p->common);
}

static int build(const struct dra_daemon *d, const struct ky_dra_record *plan, struct spec_parts *p,
		 struct ky_error **err)
{
	size_t n = plan->n_devices;
	_cleanup_free_ const char **ids = calloc(n + 1, sizeof(*ids));
	_cleanup_free_ bool *grouped = calloc(n + 1, sizeof(*grouped));
	p->n = n;
	if (!ids || !grouped || !(p->nodes = calloc(n + 1, sizeof(*p->nodes))) ||
	    !(p->devs = calloc(n + 1, sizeof(*p->devs))) || !(p->names = calloc(n + 1, sizeof(*p->names))))
		return ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		struct dra_device dev;
		if (dra_device_find(d, plan->devices[i].device, &dev) < 0)
			return ky_error_set(err, ENODEV, "device %s is gone from the node", plan->devices[i].device);
		if (ky_device_specs(dev.res, dev.dev, &p->nodes[i]) < 0 ||
		    !(p->names[i] = ky_cdi_claim_device_name(plan->claim_uid, plan->devices[i].device)))
			return ky_error_set(err, ENOMEM, "out of memory");
		p->devs[i] = (struct ky_cdi_device){ p->names[i], &p->nodes[i] };
		if (grouped[i])
			continue;
		/* This resource's devices in the claim: one env, as for one
		 * container of the device plugin. */
		size_t m = 0;
		for (size_t j = i; j < n; j++) {
			struct dra_device other;
			if (!grouped[j] && dra_device_find(d, plan->devices[j].device, &other) == 0 && other.res == dev.res) {
				grouped[j] = true;
				ids[m++] = other.dev->id;
			}
		}
		struct ky_device_alloc a = { 0 };
		int r = ky_device_allocate(dev.res, &d->lists[dev.list], ids, m, false, &a, err);
		if (r == 0 && take_envs(&p->common, &a) < 0)
			r = ky_error_set(err, ENOMEM, "out of memory");
		ky_device_alloc_release(&a);
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
