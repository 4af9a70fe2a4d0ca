/* The index of the server's slices the publisher keeps. */
#include "dra_known.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void slice_release(struct dra_known_slice *r)
{
	free(r->name);
	free(r->uid);
	free(r->rv);
	free(r->pool);
	for (size_t i = 0; i < r->n_times; i++) {
		free(r->times[i].device);
		free(r->times[i].key);
		free(r->times[i].value);
		free(r->times[i].effect);
		free(r->times[i].time);
	}
	free(r->times);
	*r = (struct dra_known_slice){ 0 };
}

void dra_known_release(struct dra_known *k)
{
	for (size_t i = 0; i < k->n; i++)
		slice_release(&k->s[i]);
	free(k->s);
	*k = (struct dra_known){ 0 };
}

static size_t find(const struct dra_known *k, const char *name, bool *found)
{
	size_t lo = 0, hi = k->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(k->s[mid].name, name);
		if (!c) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

struct dra_known_slice *dra_known_get(struct dra_known *k, const char *name)
{
	bool found;
	size_t at = find(k, name, &found);
	return found ? &k->s[at] : NULL;
}

void dra_known_remove(struct dra_known *k, const char *name)
{
	bool found;
	size_t at = find(k, name, &found);
	if (!found)
		return;
	slice_release(&k->s[at]);
	memmove(&k->s[at], &k->s[at + 1], (k->n - at - 1) * sizeof(*k->s));
	k->n--;
}

static const char *sfield(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *dup_or_empty(const char *s, bool *oom)
{
	char *d = strdup(s ? s : "");
	if (!d)
		*oom = true;
	return d;
}

bool dra_rv_parse(const char *rv, unsigned long long *num)
{
	char *end = NULL;
	*num = 0;
	if (!rv || *rv < '0' || *rv > '9')
		return false;
	errno = 0;
	*num = strtoull(rv, &end, 10);
	return !*end && !errno;
}

static int from_obj(const cJSON *obj, struct dra_known_slice *r)
{
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *spec = cJSON_GetObjectItemCaseSensitive(obj, "spec");
	const cJSON *pool = cJSON_GetObjectItemCaseSensitive(spec, "pool");
	const char *name = sfield(meta, "name");
	if (!name || !*name)
		return -EINVAL;
	bool oom = false;
	*r = (struct dra_known_slice){ 0 };
	r->name = dup_or_empty(name, &oom);
	r->uid = dup_or_empty(sfield(meta, "uid"), &oom);
	r->rv = dup_or_empty(sfield(meta, "resourceVersion"), &oom);
	r->pool = dup_or_empty(sfield(pool, "name"), &oom);
	r->rv_numeric = dra_rv_parse(r->rv, &r->rv_num);
	/* Not an integer an int64 holds exactly (1e19, 0.5): none (fuzz finding
	 * F4: a plain cast of 1e19 was undefined). */
	if (!ky_json_int_at(pool, "generation", INT64_MIN, INT64_MAX, &r->generation))
		r->generation = 0;
	dra_slice_digest(obj, r->digest);
	const cJSON *d, *t;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(spec, "devices"))
	{
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "taints"))
		{
			const char *time = sfield(t, "timeAdded");
			if (!time || oom)
				continue;
			struct dra_taint_time *tt = realloc(r->times, (r->n_times + 1) * sizeof(*tt));
			if (!tt) {
				oom = true;
				continue;
			}
			r->times = tt;
			r->times[r->n_times++] = (struct dra_taint_time){
				.device = dup_or_empty(sfield(d, "name"), &oom),
				.key = dup_or_empty(sfield(t, "key"), &oom),
				.value = dup_or_empty(sfield(t, "value"), &oom),
				.effect = dup_or_empty(sfield(t, "effect"), &oom),
				.time = dup_or_empty(time, &oom),
			};
		}
	}
	if (oom) {
		slice_release(r);
		return -ENOMEM;
	}
	return 0;
}

int dra_known_upsert(struct dra_known *k, const cJSON *obj)
{
	/* The state known already (a watch event and the answer to the write
	 * it reports, whichever came second), or a newer one: nothing to
	 * read, and no digest of ~0.1 MiB of JSON to compute again. */
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const char *name = sfield(meta, "name"), *rv = sfield(meta, "resourceVersion");
	bool found;
	size_t at = name ? find(k, name, &found) : 0;
	if (name && found && rv) {
		const struct dra_known_slice *old = &k->s[at];
		unsigned long long num;
		if (!strcmp(old->rv, rv) || (old->rv_numeric && dra_rv_parse(rv, &num) && old->rv_num > num))
			return 0;
	}
	struct dra_known_slice r;
	int ret = from_obj(obj, &r);
	if (ret < 0)
		return ret;
	at = find(k, r.name, &found);
	if (found) {
		struct dra_known_slice *old = &k->s[at];
		if (old->rv_numeric && r.rv_numeric && old->rv_num > r.rv_num) {
			slice_release(&r);
			return 0;
		}
		slice_release(old);
		*old = r;
		return 0;
	}
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 8;
		struct dra_known_slice *n = realloc(k->s, cap * sizeof(*n));
		if (!n) {
			slice_release(&r);
			return -ENOMEM;
		}
		k->s = n;
		k->cap = cap;
	}
	memmove(&k->s[at + 1], &k->s[at], (k->n - at) * sizeof(*k->s));
	k->s[at] = r;
	k->n++;
	return 0;
}

int64_t dra_known_generation(const struct dra_known *k, const char *pool)
{
	int64_t g = 0;
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->s[i].pool, pool) && k->s[i].generation > g)
			g = k->s[i].generation;
	return g;
}

static bool str_eq(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

void dra_known_copy_taint_times(const struct dra_known_slice *s, cJSON *slice)
{
	if (!s->n_times)
		return;
	const cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(slice, "spec"), "devices"))
	{
		cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(d, "taints"))
		{
			for (size_t i = 0; i < s->n_times; i++) {
				const struct dra_taint_time *tt = &s->times[i];
				if (str_eq(tt->device, sfield(d, "name")) && str_eq(tt->key, sfield(t, "key")) &&
				    str_eq(tt->value, sfield(t, "value")) && str_eq(tt->effect, sfield(t, "effect"))) {
					if (!cJSON_GetObjectItemCaseSensitive(t, "timeAdded"))
						cJSON_AddStringToObject(t, "timeAdded", tt->time);
					break;
				}
			}
		}
	}
}
