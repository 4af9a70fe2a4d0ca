/* The DRA driver's checkpoint record and its JSON: every key of it is
 * named here, once, for the driver that writes it and the readers that
 * count the devices it holds. */
#include "kyborg/state/dra_record.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/strv.h"
#include "kyborg/json/json.h"
#include "kyborg/state/state_store.h"
#include "record_vf.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_VERSION "version"
#define K_CLAIM_UID "claimUID"
#define K_NAMESPACE "namespace"
#define K_NAME "name"
#define K_DRIVER "driver"
#define K_STATE "state"
#define K_CDI_SPEC "cdiSpec"
#define K_UPDATED_AT "updatedAt"
#define K_DEVICES "devices"
#define K_REQUESTS "requests"
#define K_POOL "pool"
#define K_DEVICE "device"
#define K_PCI "pci"
#define K_KIND "kind"
#define K_RESOURCE "resource"
#define K_SHARE_ID "shareID"
#define K_CDI_ID "cdiID"
#define K_BITSTREAM "bitstream"
/* version 2, in a device */
#define K_CONFIG_PATH "configPath"
#define K_VF "vf"
#define K_FPGA "fpga"
#define K_GPU "gpu"
/* in "vf" (the settings themselves: record_vf.h) */
#define K_PF "pf"
#define K_VF_INDEX "vfIndex"
#define K_SET "set"
#define K_VF_DRIVER "driver"
#define K_SAVED "saved"
#define K_SAVED_DRIVER "savedDriver"
#define K_SAVED_OVERRIDE "savedOverride"
/* in "fpga" (K_BITSTREAM: an image spec, pci/image_cache.h) */
#define K_PREVIOUS_ID "previousId"
/* in "gpu" */
#define K_SHARING "sharing"
#define K_ENV "env"

#define RECORD_DIR "dra-claims"
#define LEGACY_VERSION 1

static const char *const state_names[] = { "preparing", "prepared" };
static const char *const vf_driver_names[] = { "", "netdevice", "vfio-pci" };

const char *ky_dra_claim_state_name(enum ky_dra_claim_state s)
{
	return (unsigned)s < KY_ARRAY_SIZE(state_names) ? state_names[s] : "unknown";
}

const char *ky_dra_vf_driver_name(enum ky_dra_vf_driver d)
{
	return (unsigned)d < KY_ARRAY_SIZE(vf_driver_names) ? vf_driver_names[d] : "unknown";
}

unsigned ky_dra_record_version_needed(const struct ky_dra_record *rec)
{
	for (size_t i = 0; i < rec->n_devices; i++) {
		const struct ky_dra_record_device *d = &rec->devices[i];
		if (d->config_path || d->vf || d->fpga || d->gpu)
			return 2;
	}
	return LEGACY_VERSION;
}

static void vf_free(struct ky_dra_record_vf *v)
{
	if (!v)
		return;
	free(v->pf);
	free(v->prev_driver);
	free(v->prev_override);
	free(v);
}

static void fpga_free(struct ky_dra_record_fpga *f)
{
	if (!f)
		return;
	ky_image_spec_release(&f->bitstream);
	free(f->prev_id);
	free(f);
}

static void gpu_free(struct ky_dra_record_gpu *g)
{
	if (!g)
		return;
	free(g->sharing);
	ky_strv_free(g->env);
	free(g);
}

static void device_clear(struct ky_dra_record_device *d)
{
	for (size_t i = 0; i < d->n_requests; i++)
		free(d->requests[i]);
	free(d->requests);
	free(d->pool);
	free(d->device);
	free(d->pci);
	free(d->kind);
	free(d->resource);
	free(d->share_id);
	free(d->cdi_id);
	free(d->bitstream);
	free(d->config_path);
	vf_free(d->vf);
	fpga_free(d->fpga);
	gpu_free(d->gpu);
	memset(d, 0, sizeof(*d));
}

void ky_dra_record_clear(struct ky_dra_record *rec)
{
	for (size_t i = 0; i < rec->n_devices; i++)
		device_clear(&rec->devices[i]);
	free(rec->devices);
	free(rec->claim_uid);
	free(rec->namespace_);
	free(rec->name);
	free(rec->driver);
	free(rec->cdi_spec);
	free(rec->updated_at);
	memset(rec, 0, sizeof(*rec));
}

char *ky_dra_record_dir(const char *state_dir)
{
	char *s;
	return asprintf(&s, "%s/" RECORD_DIR, state_dir) < 0 ? NULL : s;
}

/* A required string: -EBADMSG naming the key when absent or not a string. */
static int req_str(const cJSON *o, const char *where, const char *k, char **out, struct ky_error **err)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	if (!s)
		return ky_error_set(err, EBADMSG, "DRA claim record: %s%s: missing or not a string", where, k);
	if (!(*out = strdup(s)))
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	return 0;
}

/* An optional string: NULL when absent. */
static int opt_str(const cJSON *o, const char *k, char **out, struct ky_error **err)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	*out = s ? strdup(s) : NULL;
	return s && !*out ? ky_error_set(err, ENOMEM, "DRA claim record: out of memory") : 0;
}

static int vf_from_json(const cJSON *o, const char *where, struct ky_dra_record_vf **out, struct ky_error **err)
{
	struct ky_dra_record_vf *v = calloc(1, sizeof(*v));
	const cJSON *idx = cJSON_GetObjectItemCaseSensitive(o, K_VF_INDEX);
	const char *drv = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, K_VF_DRIVER));
	int r;
	*out = v;
	if (!v)
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	if (!cJSON_IsObject(o))
		return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_VF ": not an object", where);
	char w[48];
	snprintf(w, sizeof(w), "%s" K_VF ".", where);
	if ((r = req_str(o, w, K_PF, &v->pf, err)) < 0)
		return r;
	if (!cJSON_IsNumber(idx) || idx->valuedouble < 0 || idx->valuedouble > 65535)
		return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_VF "." K_VF_INDEX ": missing or not a VF index",
				    where);
	v->vf_index = (int)idx->valuedouble;
	ky_record_vf_from_json(cJSON_GetObjectItemCaseSensitive(o, K_SET), &v->set);
	size_t k = 0;
	while (drv && k < KY_ARRAY_SIZE(vf_driver_names) && strcmp(drv, vf_driver_names[k]) != 0)
		k++;
	if (drv && (k == 0 || k == KY_ARRAY_SIZE(vf_driver_names)))
		return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_VF "." K_VF_DRIVER ": not netdevice or vfio-pci",
				    where);
	v->driver = drv ? (enum ky_dra_vf_driver)k : KY_DRA_VF_DRIVER_KEEP;
	const cJSON *saved = cJSON_GetObjectItemCaseSensitive(o, K_SAVED);
	v->saved = saved != NULL;
	ky_record_vf_from_json(saved, &v->prev);
	if ((r = opt_str(o, K_SAVED_DRIVER, &v->prev_driver, err)) < 0 ||
	    (r = opt_str(o, K_SAVED_OVERRIDE, &v->prev_override, err)) < 0)
		return r;
	return 0;
}

static int fpga_from_json(const cJSON *o, const char *where, struct ky_dra_record_fpga **out, struct ky_error **err)
{
	struct ky_dra_record_fpga *f = calloc(1, sizeof(*f));
	struct ky_jnode node, spec;
	int r;
	*out = f;
	if (!f)
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	ky_json_root(o, &node);
	snprintf(node.path, sizeof(node.path), "%s" K_FPGA, where);
	if ((r = ky_json_child(&node, K_BITSTREAM, KY_JSON_REQUIRED, &spec, err)) < 0 ||
	    (r = ky_image_spec_parse(&spec, &f->bitstream, err)) < 0) {
		if (r == -ENOMEM)
			return r;
		_cleanup_free_ char *msg = strdup(ky_error_msg(*err));
		return ky_error_set(err, msg ? EBADMSG : ENOMEM, "DRA claim record: %s", msg ? msg : "out of memory");
	}
	return opt_str(o, K_PREVIOUS_ID, &f->prev_id, err);
}

static int gpu_from_json(const cJSON *o, const char *where, struct ky_dra_record_gpu **out, struct ky_error **err)
{
	struct ky_dra_record_gpu *g = calloc(1, sizeof(*g));
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, K_ENV), *e;
	int r;
	*out = g;
	if (!g)
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	char w[48];
	snprintf(w, sizeof(w), "%s" K_GPU ".", where);
	if ((r = req_str(o, w, K_SHARING, &g->sharing, err)) < 0)
		return r;
	if (env && !cJSON_IsArray(env))
		return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_GPU "." K_ENV ": not an array", where);
	if (!(g->env = calloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(*g->env))))
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	cJSON_ArrayForEach(e, env)
	{
		if (!cJSON_IsString(e) || !strchr(e->valuestring, '='))
			return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_GPU "." K_ENV "[%zu]: not NAME=value",
					    where, g->n_env);
		if (!(g->env[g->n_env++] = strdup(e->valuestring)))
			return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	}
	return 0;
}

static int device_from_json(const cJSON *o, size_t i, struct ky_dra_record_device *d, struct ky_error **err)
{
	char where[32];
	int r;
	snprintf(where, sizeof(where), "devices[%zu].", i);
	if (!cJSON_IsObject(o))
		return ky_error_set(err, EBADMSG, "DRA claim record: devices[%zu]: not an object", i);
	const cJSON *reqs = cJSON_GetObjectItemCaseSensitive(o, K_REQUESTS), *q;
	if (!cJSON_IsArray(reqs))
		return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_REQUESTS ": missing or not an array", where);
	d->requests = calloc((size_t)cJSON_GetArraySize(reqs) + 1, sizeof(*d->requests));
	if (!d->requests)
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	cJSON_ArrayForEach(q, reqs)
	{
		if (!cJSON_IsString(q))
			return ky_error_set(err, EBADMSG, "DRA claim record: %s" K_REQUESTS "[%zu]: not a string", where,
					    d->n_requests);
		if (!(d->requests[d->n_requests] = strdup(q->valuestring)))
			return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
		d->n_requests++;
	}
	if ((r = req_str(o, where, K_POOL, &d->pool, err)) < 0 || (r = req_str(o, where, K_DEVICE, &d->device, err)) < 0 ||
	    (r = req_str(o, where, K_PCI, &d->pci, err)) < 0 || (r = req_str(o, where, K_KIND, &d->kind, err)) < 0 ||
	    (r = req_str(o, where, K_RESOURCE, &d->resource, err)) < 0 ||
	    (r = req_str(o, where, K_CDI_ID, &d->cdi_id, err)) < 0 || (r = opt_str(o, K_SHARE_ID, &d->share_id, err)) < 0 ||
	    (r = opt_str(o, K_BITSTREAM, &d->bitstream, err)) < 0 ||
	    (r = opt_str(o, K_CONFIG_PATH, &d->config_path, err)) < 0)
		return r;
	const cJSON *vf = cJSON_GetObjectItemCaseSensitive(o, K_VF), *fpga = cJSON_GetObjectItemCaseSensitive(o, K_FPGA),
		    *gpu = cJSON_GetObjectItemCaseSensitive(o, K_GPU);
	if ((vf && (r = vf_from_json(vf, where, &d->vf, err)) < 0) ||
	    (fpga && (r = fpga_from_json(fpga, where, &d->fpga, err)) < 0) ||
	    (gpu && (r = gpu_from_json(gpu, where, &d->gpu, err)) < 0))
		return r;
	return 0;
}

static int record_from_json(const cJSON *doc, struct ky_dra_record *rec, struct ky_error **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, K_VERSION);
	int r;
	if (!cJSON_IsObject(doc))
		return ky_error_set(err, EBADMSG, "DRA claim record is not a JSON object");
	if (cJSON_IsNumber(v) && v->valuedouble > KY_DRA_RECORD_VERSION)
		return ky_error_set(err, EPROTO, "DRA claim record version %g is newer than this binary's (%d)",
				    v->valuedouble, KY_DRA_RECORD_VERSION);
	rec->version = cJSON_IsNumber(v) && v->valuedouble >= 1 ? (unsigned)v->valuedouble : LEGACY_VERSION;
	if ((r = req_str(doc, "", K_CLAIM_UID, &rec->claim_uid, err)) < 0 ||
	    (r = req_str(doc, "", K_NAMESPACE, &rec->namespace_, err)) < 0 ||
	    (r = req_str(doc, "", K_NAME, &rec->name, err)) < 0 || (r = req_str(doc, "", K_DRIVER, &rec->driver, err)) < 0 ||
	    (r = req_str(doc, "", K_CDI_SPEC, &rec->cdi_spec, err)) < 0 ||
	    (r = opt_str(doc, K_UPDATED_AT, &rec->updated_at, err)) < 0)
		return r;
	const char *state = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(doc, K_STATE));
	size_t s = 0;
	while (state && s < KY_ARRAY_SIZE(state_names) && strcmp(state, state_names[s]) != 0)
		s++;
	if (!state || s == KY_ARRAY_SIZE(state_names))
		return ky_error_set(err, EBADMSG, "DRA claim record: " K_STATE ": not one of preparing, prepared");
	rec->state = (enum ky_dra_claim_state)s;
	const cJSON *devs = cJSON_GetObjectItemCaseSensitive(doc, K_DEVICES), *d;
	if (!cJSON_IsArray(devs))
		return ky_error_set(err, EBADMSG, "DRA claim record: " K_DEVICES ": missing or not an array");
	rec->devices = calloc((size_t)cJSON_GetArraySize(devs) + 1, sizeof(*rec->devices));
	if (!rec->devices)
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	cJSON_ArrayForEach(d, devs)
	{
		rec->n_devices++;
		if ((r = device_from_json(d, rec->n_devices - 1, &rec->devices[rec->n_devices - 1], err)) < 0)
			return r;
	}
	return 0;
}

int ky_dra_record_from_json(const cJSON *doc, struct ky_dra_record *out, struct ky_error **err)
{
	struct ky_dra_record rec = { 0 };
	int r = record_from_json(doc, &rec, err);
	if (r < 0) {
		ky_dra_record_clear(&rec);
		return r;
	}
	*out = rec;
	return 0;
}

static bool add_str(cJSON *o, const char *k, const char *v)
{
	return !v || cJSON_AddStringToObject(o, k, v);
}

static bool vf_to_json(cJSON *o, const struct ky_dra_record_vf *v)
{
	bool ok = o && add_str(o, K_PF, v->pf) && cJSON_AddNumberToObject(o, K_VF_INDEX, v->vf_index) &&
		  ky_record_vf_to_json(&v->set, cJSON_AddObjectToObject(o, K_SET)) &&
		  (v->driver == KY_DRA_VF_DRIVER_KEEP || add_str(o, K_VF_DRIVER, ky_dra_vf_driver_name(v->driver)));
	if (ok && v->saved)
		ok = ky_record_vf_to_json(&v->prev, cJSON_AddObjectToObject(o, K_SAVED)) &&
		     add_str(o, K_SAVED_DRIVER, v->prev_driver) && add_str(o, K_SAVED_OVERRIDE, v->prev_override);
	return ok;
}

static bool fpga_to_json(cJSON *o, const struct ky_dra_record_fpga *f)
{
	const struct ky_image_spec *b = &f->bitstream;
	cJSON *spec = o ? cJSON_AddObjectToObject(o, K_BITSTREAM) : NULL;
	return spec && add_str(spec, "id", b->id) && add_str(spec, "path", b->path) && add_str(spec, "url", b->url) &&
	       cJSON_AddStringToObject(spec, "sha256", b->sha256) && add_str(o, K_PREVIOUS_ID, f->prev_id);
}

static bool gpu_to_json(cJSON *o, const struct ky_dra_record_gpu *g)
{
	cJSON *env = o && add_str(o, K_SHARING, g->sharing) ? cJSON_AddArrayToObject(o, K_ENV) : NULL;
	for (size_t i = 0; env && i < g->n_env; i++) {
		cJSON *s = cJSON_CreateString(g->env[i]);
		if (!s || !cJSON_AddItemToArray(env, s))
			return false;
	}
	return env != NULL;
}

static bool device_to_json(cJSON *arr, const struct ky_dra_record_device *d)
{
	cJSON *o = cJSON_CreateObject(), *reqs;
	if (!o || !cJSON_AddItemToArray(arr, o) || !(reqs = cJSON_AddArrayToObject(o, K_REQUESTS)))
		return false;
	for (size_t i = 0; i < d->n_requests; i++) {
		cJSON *s = cJSON_CreateString(d->requests[i]);
		if (!s || !cJSON_AddItemToArray(reqs, s))
			return false;
	}
	return add_str(o, K_POOL, d->pool) && add_str(o, K_DEVICE, d->device) && add_str(o, K_PCI, d->pci) &&
	       add_str(o, K_KIND, d->kind) && add_str(o, K_RESOURCE, d->resource) &&
	       add_str(o, K_SHARE_ID, d->share_id && *d->share_id ? d->share_id : NULL) &&
	       add_str(o, K_CDI_ID, d->cdi_id) && add_str(o, K_BITSTREAM, d->bitstream) &&
	       add_str(o, K_CONFIG_PATH, d->config_path) && (!d->vf || vf_to_json(cJSON_AddObjectToObject(o, K_VF), d->vf)) &&
	       (!d->fpga || fpga_to_json(cJSON_AddObjectToObject(o, K_FPGA), d->fpga)) &&
	       (!d->gpu || gpu_to_json(cJSON_AddObjectToObject(o, K_GPU), d->gpu));
}

int ky_dra_record_to_json(const struct ky_dra_record *rec, cJSON **out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	cJSON *devs;
	unsigned version = ky_dra_record_version_needed(rec);
	bool ok = o && cJSON_AddNumberToObject(o, K_VERSION, rec->version > version ? rec->version : version) &&
		  add_str(o, K_CLAIM_UID, rec->claim_uid) && add_str(o, K_NAMESPACE, rec->namespace_) &&
		  add_str(o, K_NAME, rec->name) && add_str(o, K_DRIVER, rec->driver) &&
		  add_str(o, K_STATE, ky_dra_claim_state_name(rec->state)) && add_str(o, K_CDI_SPEC, rec->cdi_spec) &&
		  add_str(o, K_UPDATED_AT, rec->updated_at) && (devs = cJSON_AddArrayToObject(o, K_DEVICES));
	for (size_t i = 0; ok && i < rec->n_devices; i++)
		ok = device_to_json(devs, &rec->devices[i]);
	if (!ok)
		return ky_error_set(err, ENOMEM, "DRA claim record: out of memory");
	*out = TAKE_PTR(o);
	return 0;
}

int ky_dra_record_copy(const struct ky_dra_record *rec, struct ky_dra_record *out, struct ky_error **err)
{
	/* Through the JSON: one description of the fields, not two. */
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_dra_record_to_json(rec, &doc, err);
	return r < 0 ? r : ky_dra_record_from_json(doc, out, err);
}

int ky_dra_record_load(struct ky_state_lock *l, struct ky_dra_record *out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_state_read(l, &doc, err);
	if (r < 0)
		return r;
	if ((r = ky_dra_record_from_json(doc, out, err)) < 0)
		return ky_error_prefix(err, "%s", ky_state_lock_key(l));
	return 0;
}

int ky_dra_record_get(struct ky_state_store *s, const char *key, struct ky_dra_record *out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_state_get(s, key, &doc, err);
	if (r < 0)
		return r;
	if ((r = ky_dra_record_from_json(doc, out, err)) < 0)
		return ky_error_prefix(err, "%s", key);
	return 0;
}

int ky_dra_record_save(struct ky_state_lock *l, const struct ky_dra_record *rec, bool durable,
		       struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_dra_record_to_json(rec, &doc, err);
	if (r < 0)
		return r;
	return durable ? ky_state_write(l, doc, err) : ky_state_write_fast(l, doc, err);
}
