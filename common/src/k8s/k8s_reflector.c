/* The reflector: list (paged), watch from the list's version, resume,
 * list again on 410, back off on errors; an index of keys and versions
 * that turns lists and events into added/modified/deleted. */
#include "kyborg/k8s/k8s_reflector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/k8s/k8s_backoff.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/loop/loop.h"

/* A page's JSON tree is several times its text: ten ResourceSlices of 128
 * devices are ~0.8 MiB of JSON and ~5 MiB of cJSON (bench/k8s_rss.py). */
#define DEFAULT_PAGE_SIZE 10u
/* A watch that ended cleanly after this long, or with events, is resumed
 * at once; one the server closes sooner waits out a backoff, so a server
 * that ends every watch at once is not hammered. */
#define WATCH_HEALTHY_MS 1000u

struct entry {
	char *key; /* "ns/name", or "name" */
	char *rv;
	bool seen; /* in the list being read */
};

enum next_step { NEXT_LIST, NEXT_WATCH };

struct ky_k8s_reflector {
	struct ky_k8s_client *c;
	struct ky_loop_timer *timer;
	struct ky_k8s_resource res;
	char *group, *version, *resource, *ns, *field_selector, *label_selector;
	uint32_t page_size;
	bool metadata_only;
	const struct ky_k8s_reflector_ops *ops;
	void *userdata;
	struct ky_k8s_backoff backoff;
	struct ky_k8s_request *list_req;
	struct ky_k8s_watch *watch;
	enum next_step next;
	bool listing; /* pages of a list are being read */
	bool synced;
	char *rv;
	uint64_t watch_started_ms;
	unsigned watch_events;
	struct entry *entries; /* sorted by key */
	size_t n, cap;
	struct ky_k8s_reflector_stats stats;
	unsigned depth; /* callbacks of the client on the stack */
	bool free_pending;
};

/* ---- the index ---- */

static char *make_key(const char *ns, const char *name)
{
	char *k;
	if (asprintf(&k, "%s%s%s", ns ? ns : "", ns ? "/" : "", name) < 0)
		return NULL;
	return k;
}

/* Index of key, or of where it would go (*found false). */
static size_t index_find(const struct ky_k8s_reflector *r, const char *key, bool *found)
{
	size_t lo = 0, hi = r->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(r->entries[mid].key, key);
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

static int index_insert(struct ky_k8s_reflector *r, size_t at, char *key, const char *rv)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct entry *p = realloc(r->entries, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->entries = p;
		r->cap = cap;
	}
	char *v = strdup(rv ? rv : "");
	if (!v)
		return -ENOMEM;
	memmove(&r->entries[at + 1], &r->entries[at], (r->n - at) * sizeof(*r->entries));
	r->entries[at] = (struct entry){ .key = key, .rv = v, .seen = true };
	r->n++;
	return 0;
}

static void index_remove(struct ky_k8s_reflector *r, size_t at)
{
	free(r->entries[at].key);
	free(r->entries[at].rv);
	memmove(&r->entries[at], &r->entries[at + 1], (r->n - at - 1) * sizeof(*r->entries));
	r->n--;
}

static void set_rv(struct ky_k8s_reflector *r, const char *rv)
{
	if (!rv || !*rv || (r->rv && !strcmp(r->rv, rv)))
		return;
	char *v = strdup(rv);
	if (v) {
		free(r->rv);
		r->rv = v;
	}
}

/* ---- callbacks, with the reflector kept alive across them ---- */

static void destroy(struct ky_k8s_reflector *r)
{
	ky_k8s_request_cancel(r->list_req);
	ky_k8s_watch_cancel(r->watch);
	ky_loop_timer_free(r->timer);
	for (size_t i = 0; i < r->n; i++) {
		free(r->entries[i].key);
		free(r->entries[i].rv);
	}
	free(r->entries);
	free(r->group);
	free(r->version);
	free(r->resource);
	free(r->ns);
	free(r->field_selector);
	free(r->label_selector);
	free(r->rv);
	free(r);
}

static void enter(struct ky_k8s_reflector *r)
{
	r->depth++;
}

/* Returns true when the reflector is gone: the caller returns at once. */
static bool leave(struct ky_k8s_reflector *r)
{
	if (--r->depth || !r->free_pending)
		return false;
	destroy(r);
	return true;
}

/* Reports an object: added, or modified when its version changed. */
static int upsert(struct ky_k8s_reflector *r, const cJSON *obj)
{
	const char *name = ky_k8s_object_name(obj);
	if (!name || !*name) {
		ky_warn("k8s-reflector-object", "resource=%s problem=\"no metadata.name\"", r->resource);
		return 0;
	}
	char *key = make_key(ky_k8s_object_namespace(obj), name);
	if (!key)
		return -ENOMEM;
	const char *rv = ky_k8s_object_resource_version(obj);
	bool found;
	size_t at = index_find(r, key, &found);
	if (found) {
		free(key);
		struct entry *e = &r->entries[at];
		e->seen = true;
		if (rv && strcmp(e->rv, rv)) {
			char *v = strdup(rv);
			if (!v)
				return -ENOMEM;
			free(e->rv);
			e->rv = v;
			if (r->ops->modified)
				r->ops->modified(r->userdata, obj);
		}
		return 0;
	}
	if (index_insert(r, at, key, rv) < 0) {
		free(key);
		return -ENOMEM;
	}
	if (r->ops->added)
		r->ops->added(r->userdata, obj);
	return 0;
}

static void report_deleted(struct ky_k8s_reflector *r, size_t at, const cJSON *obj)
{
	/* The key is "ns/name" or "name"; the callback gets them apart. */
	char *key = r->entries[at].key;
	r->entries[at].key = NULL;
	index_remove(r, at);
	char *slash = strchr(key, '/');
	if (slash)
		*slash = '\0';
	if (r->ops->deleted)
		r->ops->deleted(r->userdata, slash ? key : NULL, slash ? slash + 1 : key, obj);
	free(key);
}

/* ---- the steps ---- */

static void start_list(struct ky_k8s_reflector *r, const char *continue_token);
static void start_watch(struct ky_k8s_reflector *r);

static void retry_later(struct ky_k8s_reflector *r, enum next_step next, const struct ky_error *err)
{
	r->stats.errors++;
	r->next = next;
	uint32_t delay = ky_k8s_backoff_next(&r->backoff);
	ky_log_err(KY_LOG_WARN, "k8s-reflector-retry", err, "resource=%s next=%s delay_ms=%u", r->resource,
		   next == NEXT_LIST ? "list" : "watch", delay);
	ky_loop_timer_arm(r->timer, delay, 0);
	if (r->ops->failed)
		r->ops->failed(r->userdata, err);
}

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	struct ky_k8s_reflector *r = userdata;
	(void)t;
	enter(r);
	if (r->next == NEXT_LIST)
		start_list(r, NULL);
	else
		start_watch(r);
	leave(r);
}

static void list_done(struct ky_k8s_reflector *r, const char *list_rv)
{
	/* What the list did not name is gone. */
	for (size_t i = r->n; i-- > 0 && !r->free_pending;) {
		if (!r->entries[i].seen)
			report_deleted(r, i, NULL);
	}
	if (r->free_pending)
		return;
	set_rv(r, list_rv);
	r->listing = false;
	r->synced = true;
	r->stats.lists++;
	ky_k8s_backoff_reset(&r->backoff);
	ky_debug("k8s-reflector-synced", "resource=%s objects=%zu rv=%s", r->resource, r->n, r->rv ? r->rv : "");
	if (r->ops->synced)
		r->ops->synced(r->userdata);
	if (!r->free_pending)
		start_watch(r);
}

static void on_list(void *userdata, struct ky_k8s_response *resp)
{
	struct ky_k8s_reflector *r = userdata;
	r->list_req = NULL;
	enter(r);
	if (resp->err) {
		/* A continue token can expire too (410): the list starts over. */
		r->listing = false;
		retry_later(r, NEXT_LIST, resp->err);
		leave(r);
		return;
	}
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(resp->body, "items");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(resp->body, "metadata");
	const cJSON *rv = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	const cJSON *cont = cJSON_GetObjectItemCaseSensitive(meta, "continue");
	if (!cJSON_IsArray(items) || !cJSON_IsString(rv) || !rv->valuestring[0]) {
		struct ky_error *e = NULL;
		ky_error_set(&e, EPROTO, "list %s: no items or no metadata.resourceVersion in the answer", r->resource);
		r->listing = false;
		retry_later(r, NEXT_LIST, e);
		ky_error_free(e);
		leave(r);
		return;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, items)
	{
		if (r->free_pending)
			break;
		if (upsert(r, item) < 0) {
			struct ky_error *e = NULL;
			ky_error_set(&e, ENOMEM, "list %s", r->resource);
			r->listing = false;
			retry_later(r, NEXT_LIST, e);
			ky_error_free(e);
			break;
		}
	}
	if (!r->free_pending && r->listing) {
		if (cJSON_IsString(cont) && cont->valuestring[0])
			start_list(r, cont->valuestring);
		else
			list_done(r, rv->valuestring);
	}
	leave(r);
}

static void start_list(struct ky_k8s_reflector *r, const char *continue_token)
{
	struct ky_error *e = NULL;
	if (!continue_token) {
		r->listing = true;
		for (size_t i = 0; i < r->n; i++)
			r->entries[i].seen = false;
	}
	struct ky_k8s_query q = { .field_selector = r->field_selector, .label_selector = r->label_selector,
				  .limit = r->page_size, .continue_token = continue_token };
	_cleanup_free_ char *path = NULL;
	if (ky_k8s_path(&r->res, r->ns, NULL, NULL, &q, &path, &e) < 0 ||
	    ky_k8s_request(r->c,
			   &(struct ky_k8s_req){ .method = KY_K8S_GET, .path = path, .done = on_list, .userdata = r,
						 .accept = r->metadata_only ? KY_K8S_ACCEPT_METADATA_LIST : NULL },
			   &r->list_req, &e) < 0) {
		r->listing = false;
		retry_later(r, NEXT_LIST, e);
	}
	ky_error_free(e);
}

static void on_event(void *userdata, enum ky_k8s_event_type type, cJSON *obj)
{
	struct ky_k8s_reflector *r = userdata;
	enter(r);
	r->stats.events++;
	r->watch_events++;
	const char *rv = ky_k8s_object_resource_version(obj);
	if (type == KY_K8S_DELETED) {
		const char *name = ky_k8s_object_name(obj);
		char *key = name ? make_key(ky_k8s_object_namespace(obj), name) : NULL;
		bool found = false;
		size_t at = key ? index_find(r, key, &found) : 0;
		free(key);
		if (found)
			report_deleted(r, at, obj);
	} else if (type == KY_K8S_ADDED || type == KY_K8S_MODIFIED) {
		if (upsert(r, obj) < 0) {
			/* The index missed this object: only a new list can
			 * bring it back in step. */
			struct ky_error *e = NULL;
			ky_error_set(&e, ENOMEM, "watch %s", r->resource);
			ky_k8s_watch_cancel(r->watch);
			r->watch = NULL;
			retry_later(r, NEXT_LIST, e);
			ky_error_free(e);
		}
	}
	/* The version is taken after the callbacks: a watch resumed from it
	 * never skips an event the caller did not see. */
	if (!r->free_pending && r->watch)
		set_rv(r, rv);
	leave(r);
}

static void on_watch_end(void *userdata, const struct ky_error *err)
{
	struct ky_k8s_reflector *r = userdata;
	r->watch = NULL;
	enter(r);
	uint64_t lived = ky_loop_now_ms() - r->watch_started_ms;
	if (!err) {
		ky_debug("k8s-reflector-watch-end", "resource=%s rv=%s events=%u ms=%llu", r->resource,
			 r->rv ? r->rv : "", r->watch_events, (unsigned long long)lived);
		if (r->watch_events || lived >= WATCH_HEALTHY_MS) {
			ky_k8s_backoff_reset(&r->backoff);
			start_watch(r);
		} else {
			r->next = NEXT_WATCH;
			ky_loop_timer_arm(r->timer, ky_k8s_backoff_next(&r->backoff), 0);
		}
	} else if (ky_k8s_error_expired(err)) {
		r->stats.expired++;
		ky_log_err(KY_LOG_INFO, "k8s-reflector-expired", err, "resource=%s rv=%s", r->resource,
			   r->rv ? r->rv : "");
		start_list(r, NULL);
	} else {
		retry_later(r, NEXT_WATCH, err);
	}
	leave(r);
}

static void start_watch(struct ky_k8s_reflector *r)
{
	static const struct ky_k8s_watch_ops ops = { .event = on_event, .end = on_watch_end };
	struct ky_error *e = NULL;
	/* Spread over [t, 2t) as client-go does, so the watches of many
	 * nodes do not all end together. */
	uint32_t t = ky_k8s_client_watch_timeout_s(r->c);
	uint32_t timeout = t + (uint32_t)(ky_loop_now_ms() % (t ? t : 1));
	struct ky_k8s_query q = { .watch = true, .allow_watch_bookmarks = true, .resource_version = r->rv,
				  .field_selector = r->field_selector, .label_selector = r->label_selector,
				  .timeout_seconds = timeout };
	_cleanup_free_ char *path = NULL;
	r->watch_started_ms = ky_loop_now_ms();
	r->watch_events = 0;
	if (ky_k8s_path(&r->res, r->ns, NULL, NULL, &q, &path, &e) < 0 ||
	    ky_k8s_watch(r->c,
			 &(struct ky_k8s_watch_req){ .path = path, .ops = &ops, .userdata = r,
						     .accept = r->metadata_only ? KY_K8S_ACCEPT_METADATA : NULL },
			 &r->watch, &e) < 0) {
		r->watch = NULL;
		retry_later(r, NEXT_WATCH, e);
	} else {
		r->stats.watches++;
	}
	ky_error_free(e);
}

/* ---- the object ---- */

static char *dup_opt(const char *s, bool *oom)
{
	if (!s)
		return NULL;
	char *d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int ky_k8s_reflector_new(struct ky_k8s_client *c, const struct ky_k8s_reflector_opts *o,
			 struct ky_k8s_reflector **out, struct ky_error **err)
{
	static const struct ky_k8s_reflector_ops no_ops = { 0 };
	struct ky_k8s_reflector *r = calloc(1, sizeof(*r));
	if (!r)
		return ky_error_set(err, ENOMEM, "reflector");
	bool oom = false;
	r->c = c;
	r->group = dup_opt(o->resource.group ? o->resource.group : "", &oom);
	r->version = dup_opt(o->resource.version, &oom);
	r->resource = dup_opt(o->resource.resource, &oom);
	r->ns = dup_opt(o->ns, &oom);
	r->field_selector = dup_opt(o->field_selector, &oom);
	r->label_selector = dup_opt(o->label_selector, &oom);
	r->res = (struct ky_k8s_resource){ .group = r->group, .version = r->version, .resource = r->resource };
	r->page_size = o->page_size ? o->page_size : DEFAULT_PAGE_SIZE;
	r->metadata_only = o->metadata_only;
	r->ops = o->ops ? o->ops : &no_ops;
	r->userdata = o->userdata;
	ky_k8s_backoff_init(&r->backoff, o->backoff_initial_ms, o->backoff_max_ms, 0);
	if (oom) {
		destroy(r);
		return ky_error_set(err, ENOMEM, "reflector");
	}
	/* The path is checked once here, so a bad resource or namespace fails
	 * the caller instead of being retried forever. */
	_cleanup_free_ char *path = NULL;
	int ret = ky_k8s_path(&r->res, r->ns, NULL, NULL, NULL, &path, err);
	if (ret < 0 || (ret = ky_loop_timer_new(ky_k8s_client_loop(c), on_timer, r, &r->timer, err)) < 0) {
		destroy(r);
		return ret;
	}
	/* The first list starts from the loop, so no callback runs before the
	 * caller holds the reflector. */
	r->next = NEXT_LIST;
	ky_loop_timer_arm(r->timer, 0, 0);
	*out = r;
	return 0;
}

void ky_k8s_reflector_free(struct ky_k8s_reflector *r)
{
	if (!r || r->free_pending)
		return;
	if (r->depth) {
		/* Inside one of its callbacks: nothing more runs, and the
		 * memory goes when the outermost one returns. */
		r->free_pending = true;
		ky_k8s_request_cancel(r->list_req);
		r->list_req = NULL;
		ky_k8s_watch_cancel(r->watch);
		r->watch = NULL;
		ky_loop_timer_disarm(r->timer);
		return;
	}
	destroy(r);
}

void ky_k8s_reflector_relist(struct ky_k8s_reflector *r)
{
	r->listing = false;
	ky_k8s_request_cancel(r->list_req);
	r->list_req = NULL;
	ky_k8s_watch_cancel(r->watch);
	r->watch = NULL;
	ky_k8s_backoff_reset(&r->backoff);
	r->next = NEXT_LIST;
	ky_loop_timer_arm(r->timer, 0, 0);
}

bool ky_k8s_reflector_synced(const struct ky_k8s_reflector *r)
{
	return r->synced;
}

const char *ky_k8s_reflector_resource_version(const struct ky_k8s_reflector *r)
{
	return r->rv ? r->rv : "";
}

size_t ky_k8s_reflector_count(const struct ky_k8s_reflector *r)
{
	return r->n;
}

bool ky_k8s_reflector_has(const struct ky_k8s_reflector *r, const char *ns, const char *name)
{
	_cleanup_free_ char *key = make_key(ns, name);
	bool found = false;
	if (key)
		index_find(r, key, &found);
	return found;
}

void ky_k8s_reflector_stats(const struct ky_k8s_reflector *r, struct ky_k8s_reflector_stats *out)
{
	*out = r->stats;
}
