/* The reflector: list (paged), watch from the list's version, resume,
 * list again on 410, back off on errors; its index of keys and versions
 * (k8s_index.c) turns lists and events into added/modified/deleted. */
#include "kyborg/k8s/k8s_reflector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/k8s/k8s_backoff.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/k8s/k8s_index.h"
#include "kyborg/loop/loop.h"

/* A page's JSON tree is several times its text: ten ResourceSlices of 128
 * devices are ~0.8 MiB of JSON and ~5 MiB of cJSON (bench/k8s_rss.py). */
#define DEFAULT_PAGE_SIZE 10u
/* A watch that ended cleanly after this long, or with events, is resumed
 * at once; one the server closes sooner waits out a backoff, so a server
 * that ends every watch at once is not hammered. */
#define WATCH_HEALTHY_MS 1000u

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
	struct ky_k8s_index *index;
	struct ky_k8s_reflector_stats stats;
	unsigned depth; /* callbacks of the client on the stack */
	bool free_pending;
};

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
	ky_k8s_index_free(r->index);
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

/* ---- the index's callbacks, handed on to the caller's ---- */

static void index_added(void *userdata, const cJSON *obj)
{
	struct ky_k8s_reflector *r = userdata;
	if (r->ops->added)
		r->ops->added(r->userdata, obj);
}

static void index_modified(void *userdata, const cJSON *obj)
{
	struct ky_k8s_reflector *r = userdata;
	if (r->ops->modified)
		r->ops->modified(r->userdata, obj);
}

static void index_deleted(void *userdata, const char *ns, const char *name, const cJSON *obj)
{
	struct ky_k8s_reflector *r = userdata;
	if (r->ops->deleted)
		r->ops->deleted(r->userdata, ns, name, obj);
}

/* A callback freed the reflector: the index walks no further. */
static bool index_stopped(void *userdata)
{
	const struct ky_k8s_reflector *r = userdata;
	return r->free_pending;
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
	ky_k8s_index_list_end(r->index);
	if (r->free_pending)
		return;
	set_rv(r, list_rv);
	r->listing = false;
	r->synced = true;
	r->stats.lists++;
	ky_k8s_backoff_reset(&r->backoff);
	ky_debug("k8s-reflector-synced", "resource=%s objects=%zu rv=%s", r->resource, ky_k8s_index_count(r->index), r->rv ? r->rv : "");
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
	struct ky_k8s_list_page page;
	struct ky_error *e = NULL;
	if (ky_k8s_list_page_read(resp->body, r->resource, &page, &e) < 0) {
		r->listing = false;
		retry_later(r, NEXT_LIST, e);
		ky_error_free(e);
		leave(r);
		return;
	}
	if (ky_k8s_index_list_page(r->index, &page) < 0 && !r->free_pending) {
		ky_error_set(&e, ENOMEM, "list %s", r->resource);
		r->listing = false;
		retry_later(r, NEXT_LIST, e);
		ky_error_free(e);
	}
	if (!r->free_pending && r->listing) {
		if (page.cont)
			start_list(r, page.cont);
		else
			list_done(r, page.rv);
	}
	leave(r);
}

static void start_list(struct ky_k8s_reflector *r, const char *continue_token)
{
	struct ky_error *e = NULL;
	if (!continue_token) {
		r->listing = true;
		ky_k8s_index_list_begin(r->index);
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
		ky_k8s_index_delete(r->index, obj);
	} else if (type == KY_K8S_ADDED || type == KY_K8S_MODIFIED) {
		if (ky_k8s_index_upsert(r->index, obj) < 0 && !r->free_pending) {
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
	static const struct ky_k8s_index_ops index_ops = {
		.added = index_added, .modified = index_modified, .deleted = index_deleted, .stopped = index_stopped
	};
	if (!oom && ky_k8s_index_new(r->resource, &index_ops, r, &r->index, NULL) < 0)
		oom = true;
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
	return ky_k8s_index_count(r->index);
}

bool ky_k8s_reflector_has(const struct ky_k8s_reflector *r, const char *ns, const char *name)
{
	return ky_k8s_index_has(r->index, ns, name);
}

void ky_k8s_reflector_stats(const struct ky_k8s_reflector *r, struct ky_k8s_reflector_stats *out)
{
	*out = r->stats;
}
