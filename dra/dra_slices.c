/* The pool's layout, its ResourceSlice objects, their digests and the plan
 * that brings the server's slices to them. */
#include "dra_slices.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra_quantity.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/sha256.h"
#include "kyborg/json/json.h"

#define INDEX_MIN_LEN 5

/* ---- layout ---- */

void dra_layout_free(struct dra_layout *l)
{
	if (!l)
		return;
	free(l->entries);
	free(l->first);
	free(l);
}

bool dra_entry_tainted(const struct dra_pool *pool, const struct dra_entry *e)
{
	return pool->taints && !e->dev->healthy;
}

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct dra_entry *)a)->name, ((const struct dra_entry *)b)->name);
}

int dra_layout_build(const struct dra_pool *pool, const struct dra_dev *devs, size_t n, struct dra_layout **out,
		     struct ky_error **err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		int r = dra_dev_check(&devs[i], err);
		if (r < 0)
			return r;
		if (!devs[i].healthy && !pool->taints)
			continue;
		total += devs[i].shares > 1 && !pool->consumable ? devs[i].shares : 1;
	}
	struct dra_layout *l = calloc(1, sizeof(*l));
	if (!l || !(l->entries = calloc(total ? total : 1, sizeof(*l->entries))) ||
	    !(l->first = calloc(total + 2, sizeof(*l->first)))) {
		dra_layout_free(l);
		return ky_error_set(err, ENOMEM, "pool layout of %zu devices", n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct dra_dev *d = &devs[i];
		if (!d->healthy && !pool->taints)
			continue;
		bool split = d->shares > 1 && !pool->consumable;
		for (unsigned rep = 0; rep < (split ? d->shares : 1); rep++) {
			struct dra_entry *e = &l->entries[l->n++];
			e->dev = d;
			e->replica = split ? (int)rep : -1;
			dra_dev_name(d, e->replica, e->name);
		}
	}
	qsort(l->entries, l->n, sizeof(*l->entries), entry_cmp);
	for (size_t i = 1; i < l->n; i++) {
		if (!strcmp(l->entries[i - 1].name, l->entries[i].name)) {
			int r = ky_error_set(err, EINVAL, "device %s: published twice (as %s and %s)", l->entries[i].name,
					     l->entries[i - 1].dev->resource, l->entries[i].dev->resource);
			dra_layout_free(l);
			return r;
		}
	}
	/* Greedy cut: a slice that holds a tainted device may hold only 64. */
	size_t in_slice = 0;
	bool tainted = false;
	l->n_slices = 1;
	for (size_t i = 0; i < l->n; i++) {
		bool t = dra_entry_tainted(pool, &l->entries[i]);
		size_t max = tainted || t ? DRA_SLICE_MAX_TAINTED : DRA_SLICE_MAX_DEVICES;
		if (in_slice + 1 > max) {
			l->first[l->n_slices++] = i;
			in_slice = 0;
			tainted = false;
		}
		in_slice++;
		tainted |= t;
	}
	l->first[l->n_slices] = l->n;
	*out = l;
	return 0;
}

/* ---- objects ---- */

static void lower(const char *in, char *out, size_t size)
{
	size_t i = 0;
	for (; in[i] && i + 1 < size; i++)
		out[i] = (char)(in[i] >= 'A' && in[i] <= 'Z' ? in[i] - 'A' + 'a' : in[i]);
	out[i] = '\0';
}

int dra_device_json(const struct dra_pool *pool, const struct dra_entry *e, cJSON **out, struct ky_error **err)
{
	const struct dra_dev *d = e->dev;
	_cleanup_(cJSON_Deletep) cJSON *dev = cJSON_CreateObject();
	cJSON *attrs = NULL;
	if (!dev || !cJSON_AddStringToObject(dev, "name", e->name))
		return ky_error_set(err, ENOMEM, "device %s", e->name);
	int r = dra_dev_attributes(d, e->replica, &attrs, err);
	if (r < 0)
		return r;
	cJSON_AddItemToObject(dev, "attributes", attrs);
	bool oom = false;
	if (d->kind == DRA_KIND_GPU && d->shares > 1 && pool->consumable) {
		/* One device many claims share: each takes "shares" (1 unless
		 * it asks for more), at most d->shares in all. */
		char n[16];
		snprintf(n, sizeof(n), "%u", d->shares);
		cJSON *caps = cJSON_AddObjectToObject(dev, "capacity");
		cJSON *c = caps ? cJSON_AddObjectToObject(caps, "shares") : NULL;
		cJSON *policy = c && cJSON_AddStringToObject(c, "value", n) ? cJSON_AddObjectToObject(c, "requestPolicy")
									    : NULL;
		cJSON *range = policy && cJSON_AddStringToObject(policy, "default", "1")
				       ? cJSON_AddObjectToObject(policy, "validRange")
				       : NULL;
		oom = !range || !cJSON_AddStringToObject(range, "min", "1") || !cJSON_AddStringToObject(range, "max", n) ||
		      !cJSON_AddStringToObject(range, "step", "1") ||
		      !cJSON_AddBoolToObject(dev, "allowMultipleAllocations", true);
	}
	if (!oom && dra_entry_tainted(pool, e)) {
		char key[128], domain[64];
		lower(pool->driver, domain, sizeof(domain));
		snprintf(key, sizeof(key), "%s/unhealthy", domain);
		cJSON *taints = cJSON_AddArrayToObject(dev, "taints");
		cJSON *t = cJSON_CreateObject();
		oom = !taints || !t || !cJSON_AddItemToArray(taints, t) || !cJSON_AddStringToObject(t, "key", key) ||
		      (d->unhealthy_reason && *d->unhealthy_reason &&
		       !cJSON_AddStringToObject(t, "value", d->unhealthy_reason)) ||
		      !cJSON_AddStringToObject(t, "effect", "NoSchedule");
	}
	if (oom)
		return ky_error_set(err, ENOMEM, "device %s", e->name);
	char field[96];
	snprintf(field, sizeof(field), "device %s", e->name);
	if ((r = dra_check_device(dev, field, err)) < 0)
		return r;
	*out = TAKE_PTR(dev);
	return 0;
}

size_t dra_slice_index_len(size_t n_slices)
{
	size_t len = 1;
	for (size_t v = n_slices > 1 ? n_slices - 1 : 0; v >= 16; v /= 16)
		len++;
	return len < INDEX_MIN_LEN ? INDEX_MIN_LEN : len;
}

long dra_slice_index(const char *name, size_t index_len)
{
	const char *dash = strchr(name, '-');
	if (!dash || (size_t)(dash - name) != index_len || index_len > 15)
		return -1;
	long v = 0;
	for (const char *p = name; p < dash; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

int dra_slice_json(const struct dra_pool *pool, const struct dra_layout *l, size_t index, int64_t generation,
		   const char *node_uid, cJSON **out, struct ky_error **err)
{
	char gen_name[400];
	snprintf(gen_name, sizeof(gen_name), "%0*zx-%s-%s-", (int)dra_slice_index_len(l->n_slices), index,
		 pool->driver, pool->node);
	_cleanup_(cJSON_Deletep) cJSON *s = cJSON_CreateObject();
	cJSON *meta = NULL, *spec = NULL, *p = NULL, *devices = NULL;
	bool ok = s && cJSON_AddStringToObject(s, "apiVersion", "resource.k8s.io/v1") &&
		  cJSON_AddStringToObject(s, "kind", "ResourceSlice") && (meta = cJSON_AddObjectToObject(s, "metadata")) &&
		  cJSON_AddStringToObject(meta, "generateName", gen_name);
	if (ok && node_uid) {
		/* The Node owns its slices: deleting it collects them. */
		cJSON *refs = cJSON_AddArrayToObject(meta, "ownerReferences");
		cJSON *ref = cJSON_CreateObject();
		ok = refs && ref && cJSON_AddItemToArray(refs, ref) && cJSON_AddStringToObject(ref, "apiVersion", "v1") &&
		     cJSON_AddStringToObject(ref, "kind", "Node") && cJSON_AddStringToObject(ref, "name", pool->node) &&
		     cJSON_AddStringToObject(ref, "uid", node_uid) && cJSON_AddBoolToObject(ref, "controller", true);
	}
	ok = ok && (spec = cJSON_AddObjectToObject(s, "spec")) && cJSON_AddStringToObject(spec, "driver", pool->driver) &&
	     cJSON_AddStringToObject(spec, "nodeName", pool->node) && (p = cJSON_AddObjectToObject(spec, "pool")) &&
	     cJSON_AddStringToObject(p, "name", pool->node) &&
	     cJSON_AddNumberToObject(p, "generation", (double)generation) &&
	     cJSON_AddNumberToObject(p, "resourceSliceCount", (double)l->n_slices) &&
	     (devices = cJSON_AddArrayToObject(spec, "devices"));
	if (!ok)
		return ky_error_set(err, ENOMEM, "slice %zu", index);
	for (size_t i = l->first[index]; i < l->first[index + 1]; i++) {
		cJSON *dev = NULL;
		int r = dra_device_json(pool, &l->entries[i], &dev, err);
		if (r < 0)
			return r;
		cJSON_AddItemToArray(devices, dev);
	}
	*out = TAKE_PTR(s);
	return 0;
}

unsigned dra_slice_features(const cJSON *slice)
{
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(slice, "spec");
	const cJSON *d;
	unsigned f = 0;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(spec, "devices"))
	{
		if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(d, "taints")) > 0)
			f |= DRA_FEATURE_TAINTS;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "allowMultipleAllocations")))
			f |= DRA_FEATURE_CONSUMABLE;
	}
	return f;
}

/* ---- digest ---- */

/* Every token is a tag and a length-prefixed value, so no two different
 * specs feed the same bytes. */
static void feed(struct ky_sha256 *h, char tag, const char *s)
{
	uint32_t len = s ? (uint32_t)strlen(s) : UINT32_MAX;
	ky_sha256_update(h, &tag, 1);
	ky_sha256_update(h, &len, sizeof(len));
	if (s)
		ky_sha256_update(h, s, len);
}

static void feed_int(struct ky_sha256 *h, char tag, double v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, (int64_t)v);
	feed(h, tag, buf);
}

static void feed_quantity(struct ky_sha256 *h, char tag, const cJSON *q)
{
	dra_quantity v;
	char buf[48];
	if (cJSON_IsString(q) && dra_quantity_parse(q->valuestring, &v) == 0)
		feed(h, tag, dra_quantity_nano_string(v, buf, sizeof(buf)));
	else if (cJSON_IsNumber(q))
		feed_int(h, tag, q->valuedouble * 1e9);
	else
		feed(h, tag, cJSON_IsString(q) ? q->valuestring : NULL);
}

static const char *sval(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int child_cmp(const void *a, const void *b)
{
	return strcmp((*(const cJSON *const *)a)->string, (*(const cJSON *const *)b)->string);
}

/* The members of an object sorted by key: Go writes maps sorted, this
 * driver in the order it builds them. *out is malloc'd (NULL when empty). */
static size_t sorted_members(const cJSON *obj, const cJSON ***out)
{
	*out = NULL;
	size_t n = (size_t)cJSON_GetArraySize(obj);
	if (!cJSON_IsObject(obj) || !n)
		return 0;
	const cJSON **v = malloc(n * sizeof(*v));
	if (!v)
		return 0;
	size_t i = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, obj)
		v[i++] = c;
	qsort(v, n, sizeof(*v), child_cmp);
	*out = v;
	return n;
}

static void feed_list(struct ky_sha256 *h, char tag, const cJSON *arr)
{
	feed_int(h, tag, cJSON_GetArraySize(arr));
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x))
			feed(h, 's', x->valuestring);
		else if (cJSON_IsBool(x))
			feed(h, 'b', cJSON_IsTrue(x) ? "1" : "0");
		else if (cJSON_IsNumber(x))
			feed_int(h, 'i', x->valuedouble);
		else
			feed(h, '?', NULL);
	}
}

static void feed_attribute(struct ky_sha256 *h, const cJSON *a)
{
	feed(h, 'A', a->string);
	const cJSON *v;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(a, "int")))
		feed_int(h, 'i', v->valuedouble);
	else if (cJSON_IsBool(v = cJSON_GetObjectItemCaseSensitive(a, "bool")))
		feed(h, 'b', cJSON_IsTrue(v) ? "1" : "0");
	else if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(a, "string")))
		feed(h, 's', v->valuestring);
	else if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(a, "version")))
		feed(h, 'v', v->valuestring);
	else if (cJSON_IsArray(v = cJSON_GetObjectItemCaseSensitive(a, "ints")) ||
		 cJSON_IsArray(v = cJSON_GetObjectItemCaseSensitive(a, "bools")) ||
		 cJSON_IsArray(v = cJSON_GetObjectItemCaseSensitive(a, "strings")) ||
		 cJSON_IsArray(v = cJSON_GetObjectItemCaseSensitive(a, "versions")))
		feed_list(h, 'L', v);
	else
		feed(h, '?', NULL);
}

static void feed_capacity(struct ky_sha256 *h, const cJSON *c)
{
	feed(h, 'C', c->string);
	feed_quantity(h, 'q', cJSON_GetObjectItemCaseSensitive(c, "value"));
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "requestPolicy");
	if (!cJSON_IsObject(p))
		return;
	feed_quantity(h, 'd', cJSON_GetObjectItemCaseSensitive(p, "default"));
	const cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(p, "validValues"))
		feed_quantity(h, 'o', x);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "validRange");
	if (cJSON_IsObject(r)) {
		feed_quantity(h, 'n', cJSON_GetObjectItemCaseSensitive(r, "min"));
		feed_quantity(h, 'x', cJSON_GetObjectItemCaseSensitive(r, "max"));
		feed_quantity(h, 't', cJSON_GetObjectItemCaseSensitive(r, "step"));
	}
}

static void feed_device(struct ky_sha256 *h, const cJSON *d)
{
	feed(h, 'D', sval(d, "name"));
	const cJSON **m = NULL;
	size_t n = sorted_members(cJSON_GetObjectItemCaseSensitive(d, "attributes"), &m);
	for (size_t i = 0; i < n; i++)
		feed_attribute(h, m[i]);
	free(m);
	n = sorted_members(cJSON_GetObjectItemCaseSensitive(d, "capacity"), &m);
	for (size_t i = 0; i < n; i++)
		feed_capacity(h, m[i]);
	free(m);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(d, "allowMultipleAllocations")))
		feed(h, 'M', "1");
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "taints"))
	{
		/* timeAdded is the server's (set when missing) and is ignored,
		 * as the helper's DevicesDeepEqual does. */
		feed(h, 'T', sval(t, "key"));
		feed(h, 'V', sval(t, "value"));
		feed(h, 'E', sval(t, "effect"));
	}
}

void dra_slice_digest(const cJSON *slice, uint8_t out[DRA_DIGEST_LEN])
{
	struct ky_sha256 h;
	ky_sha256_init(&h);
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(slice, "spec");
	const cJSON *pool = cJSON_GetObjectItemCaseSensitive(spec, "pool");
	feed(&h, 'r', sval(spec, "driver"));
	feed(&h, 'N', sval(spec, "nodeName"));
	feed(&h, 'P', sval(pool, "name"));
	const cJSON *count = cJSON_GetObjectItemCaseSensitive(pool, "resourceSliceCount");
	feed_int(&h, 'c', cJSON_IsNumber(count) ? count->valuedouble : -1);
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(spec, "devices");
	feed_int(&h, 'n', cJSON_GetArraySize(devices));
	const cJSON *d;
	cJSON_ArrayForEach(d, devices)
		feed_device(&h, d);
	ky_sha256_final(&h, out);
}

/* ---- plan ---- */

void dra_plan_release(struct dra_plan *p)
{
	free(p->ops);
	*p = (struct dra_plan){ 0 };
}

int dra_plan_make(const char *pool, const uint8_t (*desired)[DRA_DIGEST_LEN], size_t n_desired,
		  const struct dra_slice_state *actual, size_t n_actual, struct dra_plan *out)
{
	*out = (struct dra_plan){ 0 };
	_cleanup_free_ long *match = calloc(n_actual ? n_actual : 1, sizeof(*match));   /* actual -> desired, or -1 */
	_cleanup_free_ long *matched = calloc(n_desired ? n_desired : 1, sizeof(*matched)); /* desired -> actual, or -1 */
	_cleanup_free_ struct dra_op *ops = calloc(n_actual + n_desired + 1, sizeof(*ops));
	if (!match || !matched || !ops)
		return -ENOMEM;
	int64_t generation = 0;
	for (size_t i = 0; i < n_actual; i++)
		if (actual[i].pool && !strcmp(actual[i].pool, pool) && actual[i].generation > generation)
			generation = actual[i].generation;
	for (size_t k = 0; k < n_desired; k++)
		matched[k] = -1;
	size_t len = dra_slice_index_len(n_desired);
	for (size_t i = 0; i < n_actual; i++) {
		match[i] = -1;
		if (!actual[i].pool || strcmp(actual[i].pool, pool) || actual[i].generation < generation)
			continue;
		long idx = dra_slice_index(actual[i].name, len);
		if (idx >= 0 && (size_t)idx < n_desired && matched[idx] < 0) {
			matched[idx] = (long)i;
			match[i] = idx;
		}
	}
	size_t changed = 0, created = 0;
	for (size_t k = 0; k < n_desired; k++) {
		if (matched[k] < 0)
			created++;
		else if (memcmp(actual[matched[k]].digest, desired[k], DRA_DIGEST_LEN))
			changed++;
	}
	bool bump = created > 0 || changed > 1;
	size_t n = 0;
	for (size_t i = 0; i < n_actual; i++)
		if (match[i] < 0)
			ops[n++] = (struct dra_op){ .kind = DRA_OP_DELETE, .actual = i };
	out->n_delete = n;
	for (size_t k = 0; k < n_desired; k++) {
		if (matched[k] >= 0 && (bump || memcmp(actual[matched[k]].digest, desired[k], DRA_DIGEST_LEN)))
			ops[n++] = (struct dra_op){ .kind = DRA_OP_UPDATE, .slice = k, .actual = (size_t)matched[k] };
	}
	out->n_update = n - out->n_delete;
	for (size_t k = 0; k < n_desired; k++)
		if (matched[k] < 0)
			ops[n++] = (struct dra_op){ .kind = DRA_OP_CREATE, .slice = k };
	out->n_create = created;
	out->n = n;
	out->generation = bump ? generation + 1 : generation;
	out->ops = n ? TAKE_PTR(ops) : NULL;
	return 0;
}
