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

size_t dra_layout_slice_size(const struct dra_pool *pool)
{
	return pool->taints ? DRA_SLICE_MAX_TAINTED : DRA_SLICE_MAX_DEVICES;
}

int dra_layout_build(const struct dra_pool *pool, const struct dra_dev *devs, size_t n, struct dra_layout **out,
		     struct ky_error **err)
{
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		int r = dra_dev_check(&devs[i], err);
		if (r < 0)
			return r;
		total += devs[i].shares > 1 && !pool->consumable ? devs[i].shares : 1;
	}
	size_t size = dra_layout_slice_size(pool);
	size_t n_slices = total ? (total + size - 1) / size : 1;
	struct dra_layout *l = calloc(1, sizeof(*l));
	if (!l || !(l->entries = calloc(total ? total : 1, sizeof(*l->entries))) ||
	    !(l->first = calloc(n_slices + 1, sizeof(*l->first)))) {
		dra_layout_free(l);
		return ky_error_set(err, ENOMEM, "pool layout of %zu devices", n);
	}
	for (size_t i = 0; i < n; i++) {
		const struct dra_dev *d = &devs[i];
		bool split = d->shares > 1 && !pool->consumable;
		for (unsigned rep = 0; rep < (split ? d->shares : 1); rep++) {
			struct dra_entry *e = &l->entries[l->n++];
			e->dev = d;
			e->replica = split ? (int)rep : -1;
			char name[DRA_NAME_MAX + 1];
			int len = dra_dev_name(d, e->replica, name);
			if (len < 0 || len >= DRA_DEV_NAME_LEN) {
				int r = ky_error_set(err, EINVAL, "device %s: no name for it", d->addr);
				dra_layout_free(l);
				return r;
			}
			memcpy(e->name, name, (size_t)len + 1);
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
	/* The cut depends only on the sorted list of every device, healthy or
	 * not, so a device turning unhealthy (tainted, or left out) changes
	 * its own slice and no other: one update, the generation kept. */
	size_t kept = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (i % size == 0)
			l->first[i / size] = kept;
		if (l->entries[i].dev->healthy || pool->taints)
			l->entries[kept++] = l->entries[i];
	}
	l->n = kept;
	l->n_slices = n_slices;
	l->first[n_slices] = kept;
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

/* SHA-256 fed through a buffer: a slice is thousands of short tokens. */
struct digest {
	struct ky_sha256 h;
	size_t n;
	uint8_t buf[1024];
};

static void put(struct digest *d, const void *p, size_t len)
{
	if (d->n + len > sizeof(d->buf)) {
		ky_sha256_update(&d->h, d->buf, d->n);
		d->n = 0;
		if (len > sizeof(d->buf)) {
			ky_sha256_update(&d->h, p, len);
			return;
		}
	}
	memcpy(d->buf + d->n, p, len);
	d->n += len;
}

/* Every token is a tag and a length-prefixed value, so no two different
 * specs feed the same bytes: tags are ASCII, and an absent string is its
 * tag with the high bit set. */
static void feed(struct digest *d, char tag, const char *s)
{
	if (!s) {
		uint8_t none = (uint8_t)tag | 0x80;
		put(d, &none, 1);
		return;
	}
	size_t len = strlen(s), l = len;
	uint8_t head[12] = { (uint8_t)tag };
	size_t h = 1;
	do {
		head[h++] = (uint8_t)((l & 0x7f) | (l > 0x7f ? 0x80 : 0));
		l >>= 7;
	} while (l);
	put(d, head, h);
	put(d, s, len);
}

static void feed_int(struct digest *d, char tag, double v)
{
	/* The server's number: outside int64 (INT64_MAX itself is 2^63 as a
	 * double) a cast is undefined (fuzz finding F4), so such a number is
	 * fed as its text, which no integer's bytes can equal. */
	if (!(v >= -0x1p63 && v < 0x1p63)) {
		char text[40];
		snprintf(text, sizeof(text), "%.17g", v);
		return feed(d, tag, text);
	}
	int64_t i = (int64_t)v;
	uint8_t b[9] = { (uint8_t)tag };
	for (int k = 0; k < 8; k++)
		b[1 + k] = (uint8_t)((uint64_t)i >> (8 * k));
	put(d, b, sizeof(b));
}

static void feed_quantity(struct digest *d, char tag, const cJSON *q)
{
	dra_quantity v;
	char buf[48];
	if (cJSON_IsString(q) && dra_quantity_parse(q->valuestring, &v) == 0)
		feed(d, tag, dra_quantity_nano_string(v, buf, sizeof(buf)));
	else if (cJSON_IsNumber(q))
		feed_int(d, tag, q->valuedouble * 1e9);
	else
		feed(d, tag, cJSON_IsString(q) ? q->valuestring : NULL);
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

#define MEMBERS_ON_STACK 64

/* The members of an object sorted by key (Go writes maps sorted, this
 * driver in the order it builds them), into stack (MEMBERS_ON_STACK) or,
 * for more, a malloc'd array in *heap. SIZE_MAX when that fails. */
static size_t sorted_members(const cJSON *obj, const cJSON **stack, const cJSON ***heap, const cJSON ***out)
{
	*heap = NULL;
	*out = stack;
	if (!cJSON_IsObject(obj))
		return 0;
	size_t n = 0;
	const cJSON *c;
	cJSON_ArrayForEach(c, obj)
		n++;
	if (n > MEMBERS_ON_STACK) {
		if (!(*heap = malloc(n * sizeof(**heap))))
			return SIZE_MAX;
		*out = *heap;
	}
	size_t i = 0;
	cJSON_ArrayForEach(c, obj)
		(*out)[i++] = c;
	qsort(*out, n, sizeof(**out), child_cmp);
	return n;
}

static void feed_list(struct digest *d, char tag, const cJSON *arr)
{
	feed_int(d, tag, cJSON_GetArraySize(arr));
	const cJSON *x;
	cJSON_ArrayForEach(x, arr)
	{
		if (cJSON_IsString(x))
			feed(d, 's', x->valuestring);
		else if (cJSON_IsBool(x))
			feed(d, 'b', cJSON_IsTrue(x) ? "1" : "0");
		else if (cJSON_IsNumber(x))
			feed_int(d, 'i', x->valuedouble);
		else
			feed(d, '?', NULL);
	}
}

static void feed_attribute(struct digest *d, const cJSON *a)
{
	feed(d, 'A', a->string);
	/* One value, under the key naming its type ("null" ones skipped).
	 * A slice from the server is read as it comes: an attribute that is
	 * no object (an array's members have no keys) is no value of ours. */
	const cJSON *v;
	if (!cJSON_IsObject(a))
		return feed(d, '?', NULL);
	cJSON_ArrayForEach(v, a)
	{
		const char *k = v->string;
		if (!k)
			continue;
		if (!strcmp(k, "string") && cJSON_IsString(v))
			return feed(d, 's', v->valuestring);
		if (!strcmp(k, "int") && cJSON_IsNumber(v))
			return feed_int(d, 'i', v->valuedouble);
		if (!strcmp(k, "bool") && cJSON_IsBool(v))
			return feed(d, 'b', cJSON_IsTrue(v) ? "1" : "0");
		if (!strcmp(k, "version") && cJSON_IsString(v))
			return feed(d, 'v', v->valuestring);
		if (cJSON_IsArray(v) &&
		    (!strcmp(k, "ints") || !strcmp(k, "bools") || !strcmp(k, "strings") || !strcmp(k, "versions"))) {
			feed(d, 'L', k);
			return feed_list(d, 'l', v);
		}
	}
	feed(d, '?', NULL);
}

static void feed_capacity(struct digest *d, const cJSON *c)
{
	feed(d, 'C', c->string);
	feed_quantity(d, 'q', cJSON_GetObjectItemCaseSensitive(c, "value"));
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "requestPolicy");
	if (!cJSON_IsObject(p))
		return;
	feed_quantity(d, 'd', cJSON_GetObjectItemCaseSensitive(p, "default"));
	const cJSON *x;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(p, "validValues"))
		feed_quantity(d, 'o', x);
	const cJSON *r = cJSON_GetObjectItemCaseSensitive(p, "validRange");
	if (cJSON_IsObject(r)) {
		feed_quantity(d, 'n', cJSON_GetObjectItemCaseSensitive(r, "min"));
		feed_quantity(d, 'x', cJSON_GetObjectItemCaseSensitive(r, "max"));
		feed_quantity(d, 't', cJSON_GetObjectItemCaseSensitive(r, "step"));
	}
}

static void feed_members(struct digest *d, const cJSON *obj, void (*fn)(struct digest *, const cJSON *))
{
	const cJSON *stack[MEMBERS_ON_STACK], **heap, **m;
	size_t n = sorted_members(obj, stack, &heap, &m);
	if (n == SIZE_MAX) {
		/* Out of memory: a digest no slice has, so the slice is
		 * written again rather than taken as unchanged. */
		uint64_t r = (uint64_t)(uintptr_t)obj ^ 0x9e3779b97f4a7c15ull;
		put(d, &r, sizeof(r));
		return;
	}
	for (size_t i = 0; i < n; i++)
		fn(d, m[i]);
	free(heap);
}

static void feed_device(struct digest *d, const cJSON *dev)
{
	feed(d, 'D', sval(dev, "name"));
	feed_members(d, cJSON_GetObjectItemCaseSensitive(dev, "attributes"), feed_attribute);
	feed_members(d, cJSON_GetObjectItemCaseSensitive(dev, "capacity"), feed_capacity);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dev, "allowMultipleAllocations")))
		feed(d, 'M', "1");
	const cJSON *t;
	cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(dev, "taints"))
	{
		/* timeAdded is the server's (set when missing) and is ignored,
		 * as the helper's DevicesDeepEqual does. */
		feed(d, 'T', sval(t, "key"));
		feed(d, 'V', sval(t, "value"));
		feed(d, 'E', sval(t, "effect"));
	}
}

void dra_slice_digest(const cJSON *slice, uint8_t out[DRA_DIGEST_LEN])
{
	struct digest d;
	ky_sha256_init(&d.h);
	d.n = 0;
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(slice, "spec");
	const cJSON *pool = cJSON_GetObjectItemCaseSensitive(spec, "pool");
	feed(&d, 'r', sval(spec, "driver"));
	feed(&d, 'N', sval(spec, "nodeName"));
	feed(&d, 'P', sval(pool, "name"));
	const cJSON *count = cJSON_GetObjectItemCaseSensitive(pool, "resourceSliceCount");
	feed_int(&d, 'c', cJSON_IsNumber(count) ? count->valuedouble : -1);
	const cJSON *devices = cJSON_GetObjectItemCaseSensitive(spec, "devices");
	feed_int(&d, 'n', cJSON_GetArraySize(devices));
	const cJSON *dev;
	cJSON_ArrayForEach(dev, devices)
		feed_device(&d, dev);
	ky_sha256_update(&d.h, d.buf, d.n);
	ky_sha256_final(&d.h, out);
}

/* ---- plan ---- */

void dra_plan_release(struct dra_plan *p)
{
	free(p->ops);
	*p = (struct dra_plan){ 0 };
}

/* Which server slice stands for which desired one: the slices of the
 * pool's highest generation, by the index their name carries, the first
 * one an index is seen in. Returns that generation. */
static int64_t match_slices(const char *pool, size_t n_desired, const struct dra_slice_state *actual, size_t n_actual,
			    long *match, long *matched)
{
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
	return generation;
}

int dra_plan_matched(const char *pool, size_t n_desired, const struct dra_slice_state *actual, size_t n_actual,
		     bool *out)
{
	_cleanup_free_ long *match = calloc(n_actual ? n_actual : 1, sizeof(*match));
	_cleanup_free_ long *matched = calloc(n_desired ? n_desired : 1, sizeof(*matched));
	if (!match || !matched)
		return -ENOMEM;
	match_slices(pool, n_desired, actual, n_actual, match, matched);
	for (size_t k = 0; k < n_desired; k++)
		out[k] = matched[k] >= 0;
	return 0;
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
	int64_t generation = match_slices(pool, n_desired, actual, n_actual, match, matched);
	size_t changed = 0, created = 0;
	for (size_t k = 0; k < n_desired; k++) {
		if (matched[k] < 0)
			created++;
		else if (memcmp(actual[matched[k]].digest, desired[k], DRA_DIGEST_LEN))
			changed++;
	}
	/* A consumer must never see old and new contents side by side under
	 * one generation: that takes two updates, or an update and a create.
	 * Creating slices beside ones that already match (kubelet deleted
	 * some) mixes nothing. A pool that has no slice starts a generation. */
	bool bump = changed > 1 || (changed && created) || created == n_desired;
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
