/* The device plugin's allocation record and its JSON: every key of it is
 * named here, once, for the device plugin that writes it and kyborgctl
 * that reads it. */
#include "kyborg/base/str.h"
#include "kyborg/state/dp_record.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/state/state_store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_VERSION "version"
#define K_RESOURCE "resource"
#define K_KIND "kind"
#define K_DEVICE "device"
#define K_PCI "pci"
#define K_ALLOCATED_AT "allocatedAt"
#define K_BITSTREAM "bitstream"
/* the earlier layout: {ID: {...}} per resource */
#define K_DEVICES "devices"

#define RECORD_DIR "allocations"
/* "version" before it existed. */
#define LEGACY_VERSION 1

void ky_dp_record_clear(struct ky_dp_record *rec)
{
	free(rec->resource);
	free(rec->kind);
	free(rec->device);
	free(rec->pci);
	free(rec->allocated_at);
	free(rec->bitstream);
	memset(rec, 0, sizeof(*rec));
}

void ky_dp_records_free(struct ky_dp_record *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ky_dp_record_clear(&v[i]);
	free(v);
}

char *ky_dp_record_dir(const char *state_dir)
{
	char *s;
	return asprintf(&s, "%s/" RECORD_DIR, state_dir) < 0 ? NULL : s;
}

char *ky_dp_record_key(const char *resource, const char *device)
{
	char *s;
	if (asprintf(&s, "%s@%s", resource, device) < 0)
		return NULL;
	return ky_str_replace_char(s, '/', '_');
}

static int take(const cJSON *o, const char *k, char **out)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
	*out = s ? strdup(s) : NULL;
	return s && !*out ? -ENOMEM : 0;
}

/* The device's fields from o; device is its ID (NULL: o's "device"). */
static int device_from_json(const cJSON *o, const char *device, struct ky_dp_record *rec)
{
	if (device && !(rec->device = strdup(device)))
		return -ENOMEM;
	if ((!device && take(o, K_DEVICE, &rec->device) < 0) || take(o, K_PCI, &rec->pci) < 0 ||
	    take(o, K_ALLOCATED_AT, &rec->allocated_at) < 0 || take(o, K_BITSTREAM, &rec->bitstream) < 0)
		return -ENOMEM;
	return 0;
}

static int version_of(const cJSON *doc, unsigned *out, struct ky_error **err)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, K_VERSION);
	if (!cJSON_IsObject(doc))
		return ky_error_set(err, EBADMSG, "allocation record is not a JSON object");
	if (cJSON_IsNumber(v) && v->valuedouble > KY_DP_RECORD_VERSION)
		return ky_error_set(err, EPROTO, "allocation record version %g is newer than this binary's (%d)",
				    v->valuedouble, KY_DP_RECORD_VERSION);
	*out = cJSON_IsNumber(v) && v->valuedouble >= 1 ? (unsigned)v->valuedouble : LEGACY_VERSION;
	return 0;
}

static int records_from_json(const cJSON *doc, unsigned version, struct ky_dp_record *v, size_t *n)
{
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(doc, K_DEVICES), *d;
	if (!devices) {
		v[0].version = version;
		*n = 1;
		if (take(doc, K_RESOURCE, &v[0].resource) < 0 || take(doc, K_KIND, &v[0].kind) < 0)
			return -ENOMEM;
		return device_from_json(doc, NULL, &v[0]);
	}
	cJSON_ArrayForEach(d, devices)
	{
		struct ky_dp_record *r = &v[(*n)++];
		r->version = version;
		if (take(doc, K_RESOURCE, &r->resource) < 0 || take(doc, K_KIND, &r->kind) < 0 ||
		    device_from_json(d, d->string ? d->string : "", r) < 0)
			return -ENOMEM;
	}
	return 0;
}

int ky_dp_records_from_json(const cJSON *doc, struct ky_dp_record **out, size_t *n, struct ky_error **err)
{
	unsigned version;
	int r = version_of(doc, &version, err);
	if (r < 0)
		return r;
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(doc, K_DEVICES);
	size_t max = devices ? (size_t)cJSON_GetArraySize(devices) : 1;
	struct ky_dp_record *v = calloc(max ? max : 1, sizeof(*v));
	size_t got = 0;
	if (!v || records_from_json(doc, version, v, &got) < 0) {
		if (v)
			ky_dp_records_free(v, got);
		return ky_error_set(err, ENOMEM, "allocation record: out of memory");
	}
	*out = v;
	*n = got;
	return 0;
}

static bool add_str(cJSON *o, const char *k, const char *v)
{
	return !v || cJSON_AddStringToObject(o, k, v);
}

int ky_dp_record_to_json(const struct ky_dp_record *rec, cJSON **out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *o = cJSON_CreateObject();
	if (!o || !cJSON_AddNumberToObject(o, K_VERSION, rec->version ? rec->version : KY_DP_RECORD_VERSION) ||
	    !add_str(o, K_RESOURCE, rec->resource) || !add_str(o, K_KIND, rec->kind) ||
	    !add_str(o, K_DEVICE, rec->device) || !add_str(o, K_PCI, rec->pci) ||
	    !add_str(o, K_ALLOCATED_AT, rec->allocated_at) || !add_str(o, K_BITSTREAM, rec->bitstream))
		return ky_error_set(err, ENOMEM, "allocation record: out of memory");
	*out = TAKE_PTR(o);
	return 0;
}

int ky_dp_record_load(struct ky_state_lock *l, struct ky_dp_record *out, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_state_read(l, &doc, err);
	unsigned version;
	if (r < 0 || (r = version_of(doc, &version, err)) < 0)
		return r;
	if (cJSON_GetObjectItemCaseSensitive(doc, K_DEVICES))
		return ky_error_set(err, EBADMSG, "allocation record %s holds a resource's devices, not one device",
				    ky_state_lock_key(l));
	struct ky_dp_record rec = { 0 };
	size_t n = 0;
	if (records_from_json(doc, version, &rec, &n) < 0) {
		ky_dp_record_clear(&rec);
		return ky_error_set(err, ENOMEM, "allocation record: out of memory");
	}
	*out = rec;
	return 0;
}

int ky_dp_records_get(struct ky_state_store *s, const char *key, struct ky_dp_record **out, size_t *n,
		      struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_state_get(s, key, &doc, err);
	if (r < 0)
		return r;
	return ky_dp_records_from_json(doc, out, n, err);
}

int ky_dp_record_save(struct ky_state_lock *l, const struct ky_dp_record *rec, struct ky_error **err)
{
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	int r = ky_dp_record_to_json(rec, &doc, err);
	if (r < 0)
		return r;
	return ky_state_write_fast(l, doc, err);
}
