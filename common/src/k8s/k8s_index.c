/* The reflector's index of keys and versions, and the reading of a LIST
 * page: pure, no loop and no HTTP (k8s_reflector.c does the I/O). */
#include "kyborg/k8s/k8s_index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/k8s/k8s_event.h"

struct entry {
	char *key; /* "ns/name", or "name" */
	char *rv;
	bool seen; /* in the list being read */
};

struct ky_k8s_index {
	char *what;
	struct ky_k8s_index_ops ops;
	void *userdata;
	struct entry *entries; /* sorted by key */
	size_t n, cap;
};

int ky_k8s_index_new(const char *what, const struct ky_k8s_index_ops *ops, void *userdata,
		     struct ky_k8s_index **out, struct ky_error **err)
{
	struct ky_k8s_index *idx = calloc(1, sizeof(*idx));
	if (!idx || !(idx->what = strdup(what ? what : ""))) {
		free(idx);
		return ky_error_set(err, ENOMEM, "index");
	}
	if (ops)
		idx->ops = *ops;
	idx->userdata = userdata;
	*out = idx;
	return 0;
}

void ky_k8s_index_free(struct ky_k8s_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->n; i++) {
		free(idx->entries[i].key);
		free(idx->entries[i].rv);
	}
	free(idx->entries);
	free(idx->what);
	free(idx);
}

static bool stopped(const struct ky_k8s_index *idx)
{
	return idx->ops.stopped && idx->ops.stopped(idx->userdata);
}

static char *make_key(const char *ns, const char *name)
{
	char *k;
	if (asprintf(&k, "%s%s%s", ns ? ns : "", ns ? "/" : "", name) < 0)
		return NULL;
	return k;
}

/* A name or namespace is one path segment to the API server, never holding
 * '/': one that did would make "a/b" of the cluster and "b" of namespace
 * "a" one key, and be reported deleted under the wrong names (fuzz_k8s_list). */
static const char *object_problem(const char *ns, const char *name)
{
	if (!name || !*name)
		return "no metadata.name";
	if (strchr(name, '/'))
		return "metadata.name holds '/'";
	if (ns && strchr(ns, '/'))
		return "metadata.namespace holds '/'";
	return NULL;
}

/* Index of key, or of where it would go (*found false). */
static size_t index_find(const struct ky_k8s_index *idx, const char *key, bool *found)
{
	size_t lo = 0, hi = idx->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(idx->entries[mid].key, key);
		if (!cmp) {
			*found = true;
			return mid;
		}
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int index_insert(struct ky_k8s_index *idx, size_t at, char *key, const char *rv)
{
	if (idx->n == idx->cap) {
		size_t cap = idx->cap ? idx->cap * 2 : 16;
		struct entry *p = realloc(idx->entries, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		idx->entries = p;
		idx->cap = cap;
	}
	char *v = strdup(rv ? rv : "");
	if (!v)
		return -ENOMEM;
	memmove(&idx->entries[at + 1], &idx->entries[at], (idx->n - at) * sizeof(*idx->entries));
	idx->entries[at] = (struct entry){ .key = key, .rv = v, .seen = true };
	idx->n++;
	return 0;
}

static void index_remove(struct ky_k8s_index *idx, size_t at)
{
	free(idx->entries[at].key);
	free(idx->entries[at].rv);
	memmove(&idx->entries[at], &idx->entries[at + 1], (idx->n - at - 1) * sizeof(*idx->entries));
	idx->n--;
}

static void report_deleted(struct ky_k8s_index *idx, size_t at, const cJSON *obj)
{
	/* The key is "ns/name" or "name"; the callback gets them apart. */
	char *key = idx->entries[at].key;
	idx->entries[at].key = NULL;
	index_remove(idx, at);
	char *slash = strchr(key, '/');
	if (slash)
		*slash = '\0';
	if (idx->ops.deleted)
		idx->ops.deleted(idx->userdata, slash ? key : NULL, slash ? slash + 1 : key, obj);
	free(key);
}

int ky_k8s_index_upsert(struct ky_k8s_index *idx, const cJSON *obj)
{
	const char *name = ky_k8s_object_name(obj), *ns = ky_k8s_object_namespace(obj);
	const char *problem = object_problem(ns, name);
	if (problem) {
		ky_warn("k8s-reflector-object", "resource=%s problem=\"%s\"", idx->what, problem);
		return 0;
	}
	char *key = make_key(ns, name);
	if (!key)
		return -ENOMEM;
	const char *rv = ky_k8s_object_resource_version(obj);
	bool found;
	size_t at = index_find(idx, key, &found);
	if (found) {
		free(key);
		struct entry *e = &idx->entries[at];
		e->seen = true;
		if (rv && strcmp(e->rv, rv)) {
			char *v = strdup(rv);
			if (!v)
				return -ENOMEM;
			free(e->rv);
			e->rv = v;
			if (idx->ops.modified)
				idx->ops.modified(idx->userdata, obj);
		}
		return 0;
	}
	if (index_insert(idx, at, key, rv) < 0) {
		free(key);
		return -ENOMEM;
	}
	if (idx->ops.added)
		idx->ops.added(idx->userdata, obj);
	return 0;
}

void ky_k8s_index_delete(struct ky_k8s_index *idx, const cJSON *obj)
{
	const char *name = ky_k8s_object_name(obj), *ns = ky_k8s_object_namespace(obj);
	_cleanup_free_ char *key = object_problem(ns, name) ? NULL : make_key(ns, name);
	bool found = false;
	size_t at = key ? index_find(idx, key, &found) : 0;
	if (found)
		report_deleted(idx, at, obj);
}

int ky_k8s_list_page_read(const cJSON *body, const char *what, struct ky_k8s_list_page *page,
			  struct ky_error **err)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(body, "items");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	const cJSON *cont = cJSON_GetObjectItemCaseSensitive(meta, "continue");
	if (!cJSON_IsArray(items) || !cJSON_IsString(rv) || !rv->valuestring[0])
		return ky_error_set(err, EPROTO, "list %s: no items or no metadata.resourceVersion in the answer",
				    what);
	*page = (struct ky_k8s_list_page){
		.items = items,
		.rv = rv->valuestring,
		.cont = cJSON_IsString(cont) && cont->valuestring[0] ? cont->valuestring : NULL,
	};
	return 0;
}

void ky_k8s_index_list_begin(struct ky_k8s_index *idx)
{
	for (size_t i = 0; i < idx->n; i++)
		idx->entries[i].seen = false;
}

int ky_k8s_index_list_page(struct ky_k8s_index *idx, const struct ky_k8s_list_page *page)
{
	const cJSON *item;
	cJSON_ArrayForEach(item, page->items)
	{
		if (stopped(idx))
			return 0;
		int r = ky_k8s_index_upsert(idx, item);
		if (r < 0)
			return r;
	}
	return 0;
}

void ky_k8s_index_list_end(struct ky_k8s_index *idx)
{
	/* What the list did not name is gone. */
	for (size_t i = idx->n; i-- > 0 && !stopped(idx);) {
		if (!idx->entries[i].seen)
			report_deleted(idx, i, NULL);
	}
}

size_t ky_k8s_index_count(const struct ky_k8s_index *idx)
{
	return idx->n;
}

bool ky_k8s_index_has(const struct ky_k8s_index *idx, const char *ns, const char *name)
{
	_cleanup_free_ char *key = object_problem(ns, name) ? NULL : make_key(ns, name);
	bool found = false;
	if (key)
		index_find(idx, key, &found);
	return found;
}

void ky_k8s_index_at(const struct ky_k8s_index *idx, size_t i, const char **key, const char **rv)
{
	*key = idx->entries[i].key;
	*rv = idx->entries[i].rv;
}
