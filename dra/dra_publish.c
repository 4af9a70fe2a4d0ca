/* The publisher: the node's desired slices, the server's slices as the
 * reflector and the write answers report them, and rounds of writes that
 * bring the second to the first. */
#include "dra_publish.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dra_known.h"
#include "dra_slices.h"
#include "kyborg/base/error.h"
#include "kyborg/base/log.h"
#include "kyborg/json/json.h"
#include "kyborg/k8s/k8s_backoff.h"
#include "kyborg/k8s/k8s_client.h"
#include "kyborg/k8s/k8s_reflector.h"
#include "kyborg/loop/loop.h"

#define DEFAULT_INFLIGHT 4u
#define DEFAULT_PAGE_SIZE 4u
/* Rounds that wrote, one after the other, before the next one waits a
 * backoff: a round that wrote is followed at once by one that checks, so
 * only another writer fighting over the slices (or a server storing
 * something else every time) gets this far. */
#define FIGHT_ROUNDS 8u
#define EVENT_QUIET_MS 30u
#define EVENT_MAX_WAIT_MS 200u

static const struct ky_k8s_resource slices_res = { "resource.k8s.io", "v1", "resourceslices" };
static const struct ky_k8s_resource nodes_res = { "", "v1", "nodes" };

/* ---- interned strings of the devices kept ---- */

struct strpool {
	char **slot;
	size_t cap, n;
};

static void strpool_release(struct strpool *sp)
{
	for (size_t i = 0; i < sp->cap; i++)
		free(sp->slot[i]);
	free(sp->slot);
	*sp = (struct strpool){ 0 };
}

static size_t str_hash(const char *s)
{
	size_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static int strpool_grow(struct strpool *sp)
{
	size_t cap = sp->cap ? sp->cap * 2 : 64;
	char **slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < sp->cap; i++) {
		if (!sp->slot[i])
			continue;
		size_t h = str_hash(sp->slot[i]) & (cap - 1);
		while (slot[h])
			h = (h + 1) & (cap - 1);
		slot[h] = sp->slot[i];
	}
	free(sp->slot);
	sp->slot = slot;
	sp->cap = cap;
	return 0;
}

/* The pool's copy of s (NULL stays NULL); *oom set on failure. */
static const char *intern(struct strpool *sp, const char *s, bool *oom)
{
	if (!s || *oom)
		return NULL;
	if ((sp->n + 1) * 2 > sp->cap && strpool_grow(sp) < 0) {
		*oom = true;
		return NULL;
	}
	size_t h = str_hash(s) & (sp->cap - 1);
	while (sp->slot[h] && strcmp(sp->slot[h], s))
		h = (h + 1) & (sp->cap - 1);
	if (!sp->slot[h]) {
		if (!(sp->slot[h] = strdup(s))) {
			*oom = true;
			return NULL;
		}
		sp->n++;
	}
	return sp->slot[h];
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static bool dev_equal(const struct dra_dev *a, const struct dra_dev *b)
{
	return a->kind == b->kind && !strcmp(a->addr, b->addr) && !strcmp(a->pf_addr, b->pf_addr) &&
	       !strcmp(a->pcie_root, b->pcie_root) && a->vendor == b->vendor && a->device == b->device &&
	       a->subsys_vendor == b->subsys_vendor && a->subsys_device == b->subsys_device &&
	       a->numa_node == b->numa_node && a->iommu_group == b->iommu_group && a->vf_index == b->vf_index &&
	       a->shares == b->shares && a->healthy == b->healthy && str_eq(a->resource, b->resource) &&
	       str_eq(a->driver, b->driver) && str_eq(a->vendor_name, b->vendor_name) &&
	       str_eq(a->device_name, b->device_name) && str_eq(a->pf_name, b->pf_name) &&
	       str_eq(a->netdev, b->netdev) && str_eq(a->image_id, b->image_id) &&
	       str_eq(a->unhealthy_reason, b->unhealthy_reason);
}

enum op_kind { OP_CREATE, OP_UPDATE, OP_DELETE, OP_READ, OP_FINAL_DELETE };

struct op {
	struct dra_publish *p;
	struct ky_k8s_request *req;
	enum op_kind kind;
	size_t slice;
	unsigned layout_gen;
	char *name;
	unsigned sent_features;
	bool digest_sent; /* sent_digest holds the desired slice's digest */
	uint8_t sent_digest[DRA_DIGEST_LEN];
	struct op *next;
};

struct dra_publish {
	struct ky_loop *loop;
	struct ky_k8s_client *c;
	char *driver, *node, *node_uid, *selector;
	struct dra_pool pool; /* driver, node and the features published now */
	enum dra_sharing sharing;
	enum dra_unhealthy unhealthy;
	bool need_owner, owner_known;
	unsigned max_inflight;
	void (*published)(void *userdata, int64_t generation, size_t slices);
	void (*failed)(void *userdata, const struct ky_error *err);
	void *userdata;

	struct ky_k8s_reflector *refl;
	struct ky_k8s_request *node_req;
	struct ky_loop_timer *timer;
	struct ky_k8s_backoff backoff;
	bool backing_off;
	uint64_t due_ms;         /* when the armed timer fires */
	uint64_t event_first_ms; /* the first watch event since the last round, or 0 */

	/* desired */
	bool have_devs;
	struct dra_dev *devs;
	size_t n_devs;
	struct strpool strings;
	struct dra_layout *layout;
	uint8_t (*digests)[DRA_DIGEST_LEN]; /* NULL until built for the layout */
	bool *built;                         /* which of digests are */
	unsigned layout_gen;

	/* actual */
	struct dra_known known;

	/* the round */
	bool round_active, round_failed;
	struct dra_plan plan;
	char **plan_names; /* the server slice each op names, copied at planning */
	size_t next_op;
	unsigned plan_layout_gen;
	enum dra_op_kind cur_kind;
	unsigned inflight;
	struct op *ops;
	unsigned write_rounds;
	bool in_step;

	bool stopping;
	void (*stop_done)(void *userdata);
	void *stop_userdata;

	unsigned depth;
	bool free_pending;
	struct dra_publish_stats stats;
};

static const char *sfield(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- reentrancy: callbacks may free the publisher ---- */

static void destroy(struct dra_publish *p);

static void enter(struct dra_publish *p)
{
	p->depth++;
}

static bool leave(struct dra_publish *p)
{
	if (--p->depth || !p->free_pending)
		return false;
	destroy(p);
	return true;
}

static void report(struct dra_publish *p, const struct ky_error *err)
{
	if (p->failed && !p->free_pending)
		p->failed(p->userdata, err);
}

/* ---- scheduling ---- */

/* A round delay_ms from now, unless one is due sooner (or a backoff is
 * being waited out, or a round runs: another follows it anyway). */
static void schedule_in(struct dra_publish *p, uint64_t delay_ms)
{
	if (p->stopping || p->round_active || (p->backing_off && ky_loop_timer_armed(p->timer)))
		return;
	uint64_t due = ky_loop_now_ms() + delay_ms;
	if (ky_loop_timer_armed(p->timer) && p->due_ms <= due)
		return;
	p->due_ms = due;
	ky_loop_timer_arm(p->timer, delay_ms, 0);
}

static void schedule(struct dra_publish *p)
{
	schedule_in(p, 0);
}

/* After a watch event: kubelet deletes a node's slices one after the
 * other, so a round waits for the events to pause (EVENT_QUIET_MS, at
 * most EVENT_MAX_WAIT_MS after the first) rather than rewriting slices
 * that are about to go too. */
static void schedule_event(struct dra_publish *p)
{
	uint64_t now = ky_loop_now_ms();
	if (!ky_loop_timer_armed(p->timer) || !p->event_first_ms)
		p->event_first_ms = now;
	uint64_t due = now + EVENT_QUIET_MS;
	if (due > p->event_first_ms + EVENT_MAX_WAIT_MS)
		due = p->event_first_ms + EVENT_MAX_WAIT_MS;
	if (p->stopping || p->round_active || (p->backing_off && ky_loop_timer_armed(p->timer)))
		return;
	p->due_ms = due;
	ky_loop_timer_arm(p->timer, due > now ? due - now : 0, 0);
}

static void schedule_backoff(struct dra_publish *p)
{
	uint32_t delay = ky_k8s_backoff_next(&p->backoff);
	p->backing_off = true;
	p->due_ms = ky_loop_now_ms() + delay;
	ky_loop_timer_arm(p->timer, delay, 0);
}

/* ---- desired state ---- */

static int relayout(struct dra_publish *p, struct ky_error **err)
{
	struct dra_layout *l = NULL;
	int r = dra_layout_build(&p->pool, p->devs, p->n_devs, &l, err);
	if (r < 0)
		return r;
	dra_layout_free(p->layout);
	p->layout = l;
	free(p->digests);
	free(p->built);
	p->digests = NULL;
	p->built = NULL;
	p->layout_gen++;
	return 0;
}

/* The digests of the layout's slices that are not known yet. */
/* The digests of the layout's slices that need one (need[i]: a server
 * slice stands for it, so the plan compares them) and are not known yet. A
 * slice only to be created needs none: its digest is taken from what the
 * server stored (op_succeeded), which spares building every slice twice
 * when a node's whole pool is created (at start, after kubelet's wipe). */
static int build_digests(struct dra_publish *p, const bool *need, struct ky_error **err)
{
	size_t n = p->layout->n_slices;
	if (!p->digests) {
		p->digests = calloc(n, sizeof(*p->digests));
		p->built = calloc(n, sizeof(*p->built));
		if (!p->digests || !p->built) {
			free(p->digests);
			free(p->built);
			p->digests = NULL;
			p->built = NULL;
			return ky_error_set(err, ENOMEM, "slice digests");
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (p->built[i] || !need[i])
			continue;
		cJSON *s = NULL;
		int r = dra_slice_json(&p->pool, p->layout, i, 0, NULL, &s, err);
		if (r < 0)
			return r;
		dra_slice_digest(s, p->digests[i]);
		cJSON_Delete(s);
		p->built[i] = true;
	}
	return 0;
}

static bool slice_same(const struct dra_layout *a, const struct dra_layout *b, size_t i)
{
	size_t n = a->first[i + 1] - a->first[i];
	if (n != b->first[i + 1] - b->first[i])
		return false;
	for (size_t k = 0; k < n; k++) {
		const struct dra_entry *x = &a->entries[a->first[i] + k], *y = &b->entries[b->first[i] + k];
		if (x->replica != y->replica || strcmp(x->name, y->name) || !dev_equal(x->dev, y->dev))
			return false;
	}
	return true;
}

/* The digests of the slices a new layout leaves as they were, so that a
 * health change among 10,000 devices builds one slice, not 157. */
static void keep_digests(struct dra_publish *p, const struct dra_layout *l, uint8_t (**digests)[DRA_DIGEST_LEN],
			 bool **built)
{
	*digests = NULL;
	*built = NULL;
	if (!p->digests || !p->layout || p->layout->n_slices != l->n_slices)
		return;
	uint8_t(*d)[DRA_DIGEST_LEN] = calloc(l->n_slices, sizeof(*d));
	bool *b = calloc(l->n_slices, sizeof(*b));
	if (!d || !b) {
		free(d);
		free(b);
		return;
	}
	for (size_t i = 0; i < l->n_slices; i++) {
		if (p->built[i] && slice_same(p->layout, l, i)) {
			memcpy(d[i], p->digests[i], DRA_DIGEST_LEN);
			b[i] = true;
		}
	}
	*digests = d;
	*built = b;
}

int dra_publish_set(struct dra_publish *p, const struct dra_dev *devs, size_t n, struct ky_error **err)
{
	if (p->stopping)
		return ky_error_set(err, ESHUTDOWN, "publisher of %s on %s: stopped", p->driver, p->node);
	if (p->have_devs && n == p->n_devs) {
		size_t i = 0;
		while (i < n && dev_equal(&devs[i], &p->devs[i]))
			i++;
		if (i == n)
			return 0;
	}
	struct strpool sp = { 0 };
	struct dra_dev *copy = calloc(n ? n : 1, sizeof(*copy));
	bool oom = !copy;
	for (size_t i = 0; i < n && !oom; i++) {
		struct dra_dev *d = &copy[i];
		*d = devs[i];
		d->resource = intern(&sp, d->resource, &oom);
		d->driver = intern(&sp, d->driver, &oom);
		d->vendor_name = intern(&sp, d->vendor_name, &oom);
		d->device_name = intern(&sp, d->device_name, &oom);
		d->pf_name = intern(&sp, d->pf_name, &oom);
		d->netdev = intern(&sp, d->netdev, &oom);
		d->image_id = intern(&sp, d->image_id, &oom);
		d->unhealthy_reason = intern(&sp, d->unhealthy_reason, &oom);
	}
	struct dra_layout *l = NULL;
	int r = oom ? ky_error_set(err, ENOMEM, "devices to publish") : dra_layout_build(&p->pool, copy, n, &l, err);
	if (r < 0) {
		free(copy);
		strpool_release(&sp);
		return r;
	}
	uint8_t(*digests)[DRA_DIGEST_LEN];
	bool *built;
	keep_digests(p, l, &digests, &built);
	dra_layout_free(p->layout);
	free(p->devs);
	strpool_release(&p->strings);
	free(p->digests);
	free(p->built);
	p->digests = digests;
	p->built = built;
	p->devs = copy;
	p->n_devs = n;
	p->strings = sp;
	p->layout = l;
	p->layout_gen++;
	p->have_devs = true;
	p->in_step = false;
	p->write_rounds = 0;
	ky_debug("dra-slices-set", "driver=%s node=%s devices=%zu entries=%zu slices=%zu", p->driver, p->node, n, l->n,
		 l->n_slices);
	schedule(p);
	return 0;
}

/* A gate the server has off dropped what AUTO asked for: publish without it. */
static bool fall_back(struct dra_publish *p, unsigned dropped)
{
	bool changed = false;
	if ((dropped & DRA_FEATURE_TAINTS) && p->unhealthy == DRA_UNHEALTHY_AUTO && p->pool.taints) {
		p->pool.taints = false;
		changed = true;
		ky_warn("dra-slices-feature-off", "driver=%s node=%s gate=DRADeviceTaints fallback=\"unhealthy devices "
						  "left out\"",
			p->driver, p->node);
	}
	if ((dropped & DRA_FEATURE_CONSUMABLE) && p->sharing == DRA_SHARING_AUTO && p->pool.consumable) {
		p->pool.consumable = false;
		changed = true;
		ky_warn("dra-slices-feature-off", "driver=%s node=%s gate=DRAConsumableCapacity fallback=\"shared GPUs "
						  "pre-split\"",
			p->driver, p->node);
	}
	if (!changed)
		return false;
	struct ky_error *e = NULL;
	if (relayout(p, &e) < 0) {
		ky_log_err(KY_LOG_ERROR, "dra-slices-layout", e, "driver=%s node=%s", p->driver, p->node);
		ky_error_free(e);
	}
	return true;
}

/* ---- writes ---- */

static void pump(struct dra_publish *p);
static void stop_progress(struct dra_publish *p);

static void op_unlink(struct dra_publish *p, struct op *o)
{
	for (struct op **pp = &p->ops; *pp; pp = &(*pp)->next) {
		if (*pp == o) {
			*pp = o->next;
			break;
		}
	}
	p->inflight--;
}

static void op_free(struct op *o)
{
	free(o->name);
	free(o);
}

static void on_op_done(void *userdata, struct ky_k8s_response *resp);

static int op_send(struct dra_publish *p, enum op_kind kind, const char *name, enum ky_k8s_method method,
		   const cJSON *body, struct op *proto, struct ky_error **err)
{
	_cleanup_free_ char *path = NULL;
	int r = ky_k8s_path(&slices_res, NULL, name, NULL, NULL, &path, err);
	if (r < 0)
		return r;
	struct op *o = calloc(1, sizeof(*o));
	if (!o || (name && !(o->name = strdup(name)))) {
		free(o);
		return ky_error_set(err, ENOMEM, "slice write");
	}
	if (proto) {
		memcpy(o->sent_digest, proto->sent_digest, sizeof(o->sent_digest));
		o->digest_sent = proto->digest_sent;
		o->sent_features = proto->sent_features;
		o->slice = proto->slice;
	}
	o->p = p;
	o->kind = kind;
	o->layout_gen = p->layout_gen;
	r = ky_k8s_request(p->c,
			   &(struct ky_k8s_req){ .method = method, .path = path, .body = body, .done = on_op_done,
						 .userdata = o },
			   &o->req, err);
	if (r < 0) {
		op_free(o);
		return r;
	}
	o->next = p->ops;
	p->ops = o;
	p->inflight++;
	return 0;
}

static cJSON *delete_options(const struct dra_known_slice *r)
{
	cJSON *o = cJSON_CreateObject();
	cJSON *pre = o ? cJSON_AddObjectToObject(o, "preconditions") : NULL;
	if (!pre || !cJSON_AddStringToObject(o, "kind", "DeleteOptions") || !cJSON_AddStringToObject(o, "apiVersion", "v1") ||
	    (r->uid[0] && !cJSON_AddStringToObject(pre, "uid", r->uid)) ||
	    (r->rv[0] && !cJSON_AddStringToObject(pre, "resourceVersion", r->rv))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Starts one op of the plan; 0 also when there is nothing to do for it any
 * more (its slice went away meanwhile: the next round sees that). */
static int op_start(struct dra_publish *p, const struct dra_op *po, const char *name, struct ky_error **err)
{
	struct dra_known_slice *r = name ? dra_known_get(&p->known, name) : NULL;
	if (po->kind == DRA_OP_DELETE) {
		if (!r)
			return 0;
		_cleanup_(cJSON_Deletep) cJSON *opts = delete_options(r);
		if (!opts)
			return ky_error_set(err, ENOMEM, "delete %s", name);
		return op_send(p, OP_DELETE, name, KY_K8S_DELETE, opts, NULL, err);
	}
	if (po->kind == DRA_OP_UPDATE && !r)
		return 0;
	_cleanup_(cJSON_Deletep) cJSON *body = NULL;
	int ret = dra_slice_json(&p->pool, p->layout, po->slice, p->plan.generation, p->node_uid, &body, err);
	if (ret < 0)
		return ret;
	/* The digest leaves out the generation and metadata: what was sent
	 * is what the plan compared. */
	struct op proto = { .slice = po->slice, .sent_features = dra_slice_features(body),
			    .digest_sent = p->built[po->slice] };
	memcpy(proto.sent_digest, p->digests[po->slice], DRA_DIGEST_LEN);
	if (po->kind == DRA_OP_CREATE)
		return op_send(p, OP_CREATE, NULL, KY_K8S_POST, body, &proto, err);
	cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
	cJSON_DeleteItemFromObjectCaseSensitive(meta, "generateName");
	if (!cJSON_AddStringToObject(meta, "name", r->name) || !cJSON_AddStringToObject(meta, "resourceVersion", r->rv))
		return ky_error_set(err, ENOMEM, "update %s", name);
	dra_known_copy_taint_times(r, body);
	return op_send(p, OP_UPDATE, name, KY_K8S_PUT, body, &proto, err);
}

static void round_end(struct dra_publish *p)
{
	p->round_active = false;
	dra_plan_release(&p->plan);
	if (p->plan_names) {
		for (size_t i = 0; p->plan_names[i]; i++)
			free(p->plan_names[i]);
		free(p->plan_names);
		p->plan_names = NULL;
	}
	p->write_rounds++;
	if (p->round_failed || p->write_rounds >= FIGHT_ROUNDS) {
		if (!p->round_failed)
			ky_warn("dra-slices-fight", "driver=%s node=%s rounds=%u problem=\"the slices change after every "
						    "write\"",
				p->driver, p->node, p->write_rounds);
		schedule_backoff(p);
		return;
	}
	/* A round that wrote is checked by the next one at once. */
	ky_k8s_backoff_reset(&p->backoff);
	p->backing_off = false;
	p->due_ms = ky_loop_now_ms();
	ky_loop_timer_arm(p->timer, 0, 0);
}

static void pump(struct dra_publish *p)
{
	/* A set during the round changed the layout the plan was made for:
	 * what is in flight finishes, the next round plans again. */
	while (!p->round_failed && !p->free_pending && p->plan_layout_gen == p->layout_gen &&
	       p->inflight < p->max_inflight && p->next_op < p->plan.n) {
		const struct dra_op *o = &p->plan.ops[p->next_op];
		/* Deletes, then updates, then creates, as the helper orders them. */
		if (p->inflight && o->kind != p->cur_kind)
			break;
		p->cur_kind = o->kind;
		struct ky_error *e = NULL;
		if (op_start(p, o, p->plan_names[p->next_op], &e) < 0) {
			ky_log_err(KY_LOG_WARN, "dra-slices-write", e, "driver=%s node=%s", p->driver, p->node);
			p->stats.errors++;
			p->round_failed = true;
			report(p, e);
			ky_error_free(e);
		}
		p->next_op++;
	}
	if (p->round_active && !p->inflight && !p->free_pending &&
	    (p->round_failed || p->next_op == p->plan.n || p->plan_layout_gen != p->layout_gen))
		round_end(p);
}

static void round_start(struct dra_publish *p)
{
	if (p->stopping || p->round_active || !p->have_devs || !p->owner_known || !p->refl ||
	    !ky_k8s_reflector_synced(p->refl))
		return;
	struct ky_error *e = NULL;
	struct dra_slice_state *st = calloc(p->known.n ? p->known.n : 1, sizeof(*st));
	bool *need = calloc(p->layout->n_slices, sizeof(*need));
	struct dra_plan plan = { 0 };
	if (!st || !need) {
		free(st);
		free(need);
		schedule_backoff(p);
		return;
	}
	for (size_t i = 0; i < p->known.n; i++) {
		st[i] = (struct dra_slice_state){ .name = p->known.s[i].name, .pool = p->known.s[i].pool,
						  .generation = p->known.s[i].generation };
		memcpy(st[i].digest, p->known.s[i].digest, DRA_DIGEST_LEN);
	}
	if (dra_plan_matched(p->node, p->layout->n_slices, st, p->known.n, need) < 0 ||
	    build_digests(p, need, &e) < 0) {
		if (!e)
			ky_error_set(&e, ENOMEM, "slice digests");
		ky_log_err(KY_LOG_ERROR, "dra-slices-build", e, "driver=%s node=%s", p->driver, p->node);
		report(p, e);
		ky_error_free(e);
		free(st);
		free(need);
		schedule_backoff(p);
		return;
	}
	free(need);
	int r = dra_plan_make(p->node, (const uint8_t(*)[DRA_DIGEST_LEN])p->digests, p->layout->n_slices, st,
			      p->known.n, &plan);
	char **names = r == 0 ? calloc(plan.n + 1, sizeof(*names)) : NULL;
	bool oom = !names;
	for (size_t i = 0; names && i < plan.n; i++) {
		if (plan.ops[i].kind != DRA_OP_CREATE && !(names[i] = strdup(st[plan.ops[i].actual].name)))
			oom = true;
		else if (plan.ops[i].kind == DRA_OP_CREATE && !(names[i] = strdup("")))
			oom = true;
	}
	free(st);
	if (oom) {
		if (names) {
			for (size_t i = 0; i < plan.n; i++)
				free(names[i]);
			free(names);
		}
		dra_plan_release(&plan);
		schedule_backoff(p);
		return;
	}
	if (!plan.n) {
		free(names);
		dra_plan_release(&plan);
		p->write_rounds = 0;
		p->backing_off = false;
		ky_k8s_backoff_reset(&p->backoff);
		if (!p->in_step) {
			p->in_step = true;
			p->stats.publishes++;
			p->stats.generation = dra_known_generation(&p->known, p->node);
			ky_info("dra-slices-published", "driver=%s node=%s generation=%lld slices=%zu devices=%zu",
				p->driver, p->node, (long long)p->stats.generation, p->layout->n_slices, p->layout->n);
			if (p->published)
				p->published(p->userdata, p->stats.generation, p->layout->n_slices);
		}
		return;
	}
	p->in_step = false;
	p->plan = plan;
	p->plan_names = names;
	p->next_op = 0;
	p->plan_layout_gen = p->layout_gen;
	p->round_active = true;
	p->round_failed = false;
	p->stats.rounds++;
	p->stats.generation = plan.generation;
	ky_debug("dra-slices-round", "driver=%s node=%s generation=%lld deletes=%zu updates=%zu creates=%zu", p->driver,
		 p->node, (long long)plan.generation, plan.n_delete, plan.n_update, plan.n_create);
	pump(p);
}

/* Whether the watch has seen past the version of this answer's object
 * and no longer holds it: deleted (kubelet) after the write was stored but
 * before its answer came, so the answer must not bring it back into what
 * is known. A watch delivers in order, so up to its resourceVersion it has
 * reported the object's creation and, if it lacks it, its deletion. */
static bool gone_since(const struct dra_publish *p, const cJSON *obj)
{
	unsigned long long obj_rv, seen;
	const char *name = ky_k8s_object_name(obj);
	return p->refl && name && dra_rv_parse(ky_k8s_object_resource_version(obj), &obj_rv) &&
	       dra_rv_parse(ky_k8s_reflector_resource_version(p->refl), &seen) && seen >= obj_rv &&
	       !ky_k8s_reflector_has(p->refl, NULL, name);
}

static void op_succeeded(struct dra_publish *p, struct op *o, cJSON *obj)
{
	switch (o->kind) {
	case OP_DELETE:
	case OP_FINAL_DELETE:
		p->stats.deletes++;
		dra_known_remove(&p->known, o->name);
		return;
	case OP_READ:
		if (!gone_since(p, obj))
			dra_known_upsert(&p->known, obj);
		return;
	case OP_CREATE:
	case OP_UPDATE:
		break;
	}
	if (o->kind == OP_CREATE)
		p->stats.creates++;
	else
		p->stats.updates++;
	if (gone_since(p, obj)) {
		ky_debug("dra-slices-gone", "driver=%s node=%s slice=%s reason=\"deleted before the answer came\"",
			 p->driver, p->node, ky_k8s_object_name(obj));
		return;
	}
	if (dra_known_upsert(&p->known, obj) < 0)
		return;
	/* The digest of what the server stored, computed once, by the record. */
	const struct dra_known_slice *k = dra_known_get(&p->known, ky_k8s_object_name(obj));
	uint8_t got[DRA_DIGEST_LEN];
	if (k)
		memcpy(got, k->digest, DRA_DIGEST_LEN);
	else
		dra_slice_digest(obj, got);
	if (o->layout_gen != p->layout_gen || (o->digest_sent && !memcmp(got, o->sent_digest, DRA_DIGEST_LEN)))
		return;
	unsigned dropped = o->sent_features & ~dra_slice_features(obj);
	if (fall_back(p, dropped))
		return;
	if (!o->digest_sent) {
		/* A created slice stored with every field sent: what the
		 * server has is the desired slice, normalised as it keeps it. */
		memcpy(p->digests[o->slice], got, DRA_DIGEST_LEN);
		p->built[o->slice] = true;
		return;
	}
	/* Stored otherwise than sent for a reason this driver cannot help:
	 * take it as stored rather than write it again and again. */
	struct ky_error *e = NULL;
	ky_error_set(&e, EPROTO, "slice %s: the server stored it otherwise than sent (a feature gate off, or a "
				 "field it changes); taken as stored",
		     ky_k8s_object_name(obj));
	ky_log_err(KY_LOG_WARN, "dra-slices-stored-otherwise", e, "driver=%s node=%s", p->driver, p->node);
	memcpy(p->digests[o->slice], got, DRA_DIGEST_LEN);
	report(p, e);
	ky_error_free(e);
}

static void op_failed(struct dra_publish *p, struct op *o, struct ky_k8s_response *resp)
{
	int status = resp->http_status ? resp->http_status : ky_error_status(resp->err);
	if ((o->kind == OP_DELETE || o->kind == OP_FINAL_DELETE || o->kind == OP_READ) && status == KY_K8S_NOT_FOUND) {
		dra_known_remove(&p->known, o->name);
		return;
	}
	if (o->kind == OP_UPDATE && status == KY_K8S_NOT_FOUND) {
		/* Deleted meanwhile (kubelet): the next round creates it. */
		dra_known_remove(&p->known, o->name);
		return;
	}
	if ((o->kind == OP_UPDATE || o->kind == OP_DELETE) && status == KY_K8S_CONFLICT) {
		/* What is known is stale: read the slice again, then the next
		 * round plans from it. */
		p->stats.conflicts++;
		struct ky_error *e = NULL;
		if (op_send(p, OP_READ, o->name, KY_K8S_GET, NULL, NULL, &e) == 0)
			return;
		ky_error_free(e);
	}
	if (o->kind == OP_CREATE && status == KY_K8S_CONFLICT && ky_error_code(resp->err) == EEXIST)
		return; /* a generated name taken: the next round draws another */
	p->stats.errors++;
	if (o->kind != OP_FINAL_DELETE)
		p->round_failed = true;
	static const char *const what[] = { "create", "update", "delete", "read", "delete" };
	char ctx[320];
	snprintf(ctx, sizeof(ctx), "%s resourceslice %s", what[o->kind], o->name ? o->name : "(new)");
	struct ky_error *e = NULL;
	ky_error_set(&e, ky_error_code(resp->err) ?: EIO, "%s: %s", ctx, ky_error_msg(resp->err));
	ky_error_set_status(&e, status);
	ky_log_err(KY_LOG_WARN, "dra-slices-write", e, "driver=%s node=%s status=%d", p->driver, p->node, status);
	report(p, e);
	ky_error_free(e);
}

static void on_op_done(void *userdata, struct ky_k8s_response *resp)
{
	struct op *o = userdata;
	struct dra_publish *p = o->p;
	op_unlink(p, o);
	enter(p);
	if (!resp->err)
		op_succeeded(p, o, resp->body);
	else
		op_failed(p, o, resp);
	op_free(o);
	if (!p->free_pending) {
		if (p->stopping)
			stop_progress(p);
		else
			pump(p);
	}
	leave(p);
}

/* ---- the Node, for ownerReferences ---- */

static void on_node(void *userdata, struct ky_k8s_response *resp)
{
	struct dra_publish *p = userdata;
	p->node_req = NULL;
	enter(p);
	int status = resp->http_status;
	if (!resp->err) {
		const char *uid = sfield(cJSON_GetObjectItemCaseSensitive(resp->body, "metadata"), "uid");
		if (uid && *uid && !(p->node_uid = strdup(uid))) {
			schedule_backoff(p);
			leave(p);
			return;
		}
		p->owner_known = true;
		schedule(p);
	} else if (status == KY_K8S_NOT_FOUND || status == KY_K8S_FORBIDDEN) {
		/* Published without an owner: nothing collects the slices
		 * when the Node goes, kubelet still wipes them. */
		ky_log_err(KY_LOG_WARN, "dra-slices-no-owner", resp->err, "driver=%s node=%s", p->driver, p->node);
		p->owner_known = true;
		schedule(p);
	} else {
		p->stats.errors++;
		ky_log_err(KY_LOG_WARN, "dra-slices-node", resp->err, "driver=%s node=%s", p->driver, p->node);
		report(p, resp->err);
		if (!p->free_pending)
			schedule_backoff(p);
	}
	leave(p);
}

static void read_node(struct dra_publish *p)
{
	_cleanup_free_ char *path = NULL;
	struct ky_error *e = NULL;
	if (ky_k8s_path(&nodes_res, NULL, p->node, NULL, NULL, &path, &e) < 0 ||
	    ky_k8s_request(p->c, &(struct ky_k8s_req){ .method = KY_K8S_GET, .path = path, .done = on_node, .userdata = p },
			   &p->node_req, &e) < 0) {
		ky_log_err(KY_LOG_WARN, "dra-slices-node", e, "driver=%s node=%s", p->driver, p->node);
		schedule_backoff(p);
	}
	ky_error_free(e);
}

/* ---- the reflector ---- */

static void on_slice(void *userdata, const cJSON *obj)
{
	struct dra_publish *p = userdata;
	const char *name = ky_k8s_object_name(obj), *rv = ky_k8s_object_resource_version(obj);
	struct dra_known_slice *known = name ? dra_known_get(&p->known, name) : NULL;
	/* The echo of this publisher's own write, known from its answer. */
	if (known && rv && !strcmp(known->rv, rv))
		return;
	enter(p);
	if (dra_known_upsert(&p->known, obj) == -ENOMEM) {
		/* The record missed a change: only a new list brings it back. */
		ky_k8s_reflector_relist(p->refl);
	}
	schedule_event(p);
	leave(p);
}

static void on_slice_deleted(void *userdata, const char *ns, const char *name, const cJSON *obj)
{
	struct dra_publish *p = userdata;
	(void)ns;
	enter(p);
	struct dra_known_slice *r = dra_known_get(&p->known, name);
	if (r) {
		unsigned long long num;
		bool numeric = dra_rv_parse(obj ? ky_k8s_object_resource_version(obj) : NULL, &num);
		/* Unless what is known is newer than the deletion: the name
		 * created again, which generated names make most unlikely. */
		if (!(numeric && r->rv_numeric && r->rv_num > num))
			dra_known_remove(&p->known, name);
	}
	schedule_event(p);
	leave(p);
}

static void on_synced(void *userdata)
{
	struct dra_publish *p = userdata;
	enter(p);
	/* A new list is the truth up to its version: a slice recorded from
	 * an answer, at or before that version, that the list lacks is gone
	 * (its DELETED event fell into a gap the list closed). */
	unsigned long long list_rv;
	bool numeric = dra_rv_parse(ky_k8s_reflector_resource_version(p->refl), &list_rv);
	for (size_t i = p->known.n; i-- > 0;) {
		struct dra_known_slice *r = &p->known.s[i];
		if (!ky_k8s_reflector_has(p->refl, NULL, r->name) &&
		    (!numeric || !r->rv_numeric || r->rv_num <= list_rv)) {
			_cleanup_free_ char *name = strdup(r->name);
			if (name)
				dra_known_remove(&p->known, name);
		}
	}
	schedule(p);
	leave(p);
}

static void on_list_failed(void *userdata, const struct ky_error *err)
{
	struct dra_publish *p = userdata;
	enter(p);
	p->stats.errors++;
	report(p, err);
	leave(p);
}

/* ---- the timer ---- */

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	struct dra_publish *p = userdata;
	(void)t;
	enter(p);
	p->backing_off = false;
	p->event_first_ms = 0;
	if (p->stopping)
		stop_progress(p);
	else if (p->need_owner && !p->owner_known && !p->node_req)
		read_node(p);
	else
		round_start(p);
	leave(p);
}

/* ---- life ---- */

int dra_publish_new(struct ky_loop *loop, struct ky_k8s_client *client, const char *driver, const char *node,
		    const struct dra_publish_opts *opts, struct dra_publish **out, struct ky_error **err)
{
	static const struct dra_publish_opts none = { 0 };
	const struct dra_publish_opts *o = opts ? opts : &none;
	char lower_driver[64];
	size_t dlen = driver ? strlen(driver) : 0;
	if (!dlen || dlen > 63)
		return ky_error_set(err, EINVAL, "driver name \"%s\": must be 1 to 63 characters", driver ? driver : "");
	for (size_t i = 0; i <= dlen; i++)
		lower_driver[i] = (char)(driver[i] >= 'A' && driver[i] <= 'Z' ? driver[i] - 'A' + 'a' : driver[i]);
	if (!dra_is_dns_subdomain(lower_driver))
		return ky_error_set(err, EINVAL, "driver name \"%s\": must be a DNS subdomain", driver);
	if (!node || !dra_is_dns_subdomain(node))
		return ky_error_set(err, EINVAL, "node name \"%s\": must be a DNS subdomain", node ? node : "");
	if ((unsigned)o->sharing > DRA_SHARING_SPLIT || (unsigned)o->unhealthy > DRA_UNHEALTHY_OMIT)
		return ky_error_set(err, EINVAL, "publisher options: unknown sharing or unhealthy mode");
	struct dra_publish *p = calloc(1, sizeof(*p));
	if (!p)
		return ky_error_set(err, ENOMEM, "publisher");
	p->loop = loop;
	p->c = client;
	p->driver = strdup(driver);
	p->node = strdup(node);
	p->node_uid = o->node_uid && *o->node_uid ? strdup(o->node_uid) : NULL;
	bool oom = !p->driver || !p->node || (o->node_uid && *o->node_uid && !p->node_uid) ||
		   asprintf(&p->selector, "spec.driver=%s,spec.nodeName=%s", driver, node) < 0;
	if (oom) {
		p->selector = NULL;
		destroy(p);
		return ky_error_set(err, ENOMEM, "publisher");
	}
	p->pool = (struct dra_pool){ .driver = p->driver,
				     .node = p->node,
				     .consumable = o->sharing != DRA_SHARING_SPLIT,
				     .taints = o->unhealthy != DRA_UNHEALTHY_OMIT };
	p->sharing = o->sharing;
	p->unhealthy = o->unhealthy;
	p->need_owner = !o->no_owner && !p->node_uid;
	p->owner_known = !p->need_owner;
	p->max_inflight = o->max_inflight ? o->max_inflight : DEFAULT_INFLIGHT;
	p->published = o->published;
	p->failed = o->failed;
	p->userdata = o->userdata;
	ky_k8s_backoff_init(&p->backoff, o->backoff_initial_ms, o->backoff_max_ms, 0);
	static const struct ky_k8s_reflector_ops ops = { .added = on_slice,
							 .modified = on_slice,
							 .deleted = on_slice_deleted,
							 .synced = on_synced,
							 .failed = on_list_failed };
	/* Whole objects, few a page: a slice of 128 devices is ~0.1 MiB of
	 * JSON and several times that parsed; only its digest is kept. */
	struct ky_k8s_reflector_opts ro = { .resource = slices_res,
					    .field_selector = p->selector,
					    .page_size = o->page_size ? o->page_size : DEFAULT_PAGE_SIZE,
					    .backoff_initial_ms = o->backoff_initial_ms,
					    .backoff_max_ms = o->backoff_max_ms,
					    .ops = &ops,
					    .userdata = p };
	int r = ky_loop_timer_new(loop, on_timer, p, &p->timer, err);
	if (r < 0 || (r = ky_k8s_reflector_new(client, &ro, &p->refl, err)) < 0) {
		destroy(p);
		return r;
	}
	if (p->need_owner)
		read_node(p);
	*out = p;
	return 0;
}

static void cancel_ops(struct dra_publish *p)
{
	while (p->ops) {
		struct op *o = p->ops;
		p->ops = o->next;
		ky_k8s_request_cancel(o->req);
		op_free(o);
	}
	p->inflight = 0;
}

static void stop_progress(struct dra_publish *p)
{
	if (p->inflight || !p->stop_done)
		return;
	void (*done)(void *) = p->stop_done;
	p->stop_done = NULL;
	ky_info("dra-slices-stopped", "driver=%s node=%s slices_left=%zu", p->driver, p->node, p->known.n);
	done(p->stop_userdata);
}

void dra_publish_stop(struct dra_publish *p, bool delete_slices, void (*done)(void *userdata), void *userdata)
{
	if (p->stopping)
		return;
	p->stopping = true;
	p->stop_done = done;
	p->stop_userdata = userdata;
	ky_k8s_reflector_free(p->refl);
	p->refl = NULL;
	ky_k8s_request_cancel(p->node_req);
	p->node_req = NULL;
	cancel_ops(p);
	if (p->round_active) {
		p->round_active = false;
		dra_plan_release(&p->plan);
		for (size_t i = 0; p->plan_names && p->plan_names[i]; i++)
			free(p->plan_names[i]);
		free(p->plan_names);
		p->plan_names = NULL;
	}
	for (size_t i = 0; delete_slices && i < p->known.n; i++) {
		struct ky_error *e = NULL;
		_cleanup_(cJSON_Deletep) cJSON *opts = delete_options(&p->known.s[i]);
		if (!opts || op_send(p, OP_FINAL_DELETE, p->known.s[i].name, KY_K8S_DELETE, opts, NULL, &e) < 0) {
			ky_log_err(KY_LOG_WARN, "dra-slices-delete", e, "driver=%s node=%s slice=%s", p->driver, p->node,
				   p->known.s[i].name);
			ky_error_free(e);
		}
	}
	/* done runs from the loop, never from inside this call. */
	if (!p->inflight)
		ky_loop_timer_arm(p->timer, 0, 0);
}

static void destroy(struct dra_publish *p)
{
	ky_k8s_reflector_free(p->refl);
	ky_k8s_request_cancel(p->node_req);
	cancel_ops(p);
	ky_loop_timer_free(p->timer);
	dra_plan_release(&p->plan);
	for (size_t i = 0; p->plan_names && p->plan_names[i]; i++)
		free(p->plan_names[i]);
	free(p->plan_names);
	dra_known_release(&p->known);
	dra_layout_free(p->layout);
	free(p->digests);
	free(p->built);
	free(p->devs);
	strpool_release(&p->strings);
	free(p->driver);
	free(p->node);
	free(p->node_uid);
	free(p->selector);
	free(p);
}

void dra_publish_free(struct dra_publish *p)
{
	if (!p || p->free_pending)
		return;
	if (p->depth) {
		p->free_pending = true;
		p->stopping = true;
		p->stop_done = NULL;
		ky_k8s_reflector_free(p->refl);
		p->refl = NULL;
		ky_k8s_request_cancel(p->node_req);
		p->node_req = NULL;
		cancel_ops(p);
		ky_loop_timer_disarm(p->timer);
		return;
	}
	destroy(p);
}

bool dra_publish_in_step(const struct dra_publish *p)
{
	return p->in_step;
}

void dra_publish_stats(const struct dra_publish *p, struct dra_publish_stats *out)
{
	*out = p->stats;
	if (p->refl) {
		struct ky_k8s_reflector_stats rs;
		ky_k8s_reflector_stats(p->refl, &rs);
		out->lists = rs.lists;
		out->expired = rs.expired;
	}
	out->slices = p->layout ? p->layout->n_slices : 0;
	out->devices = p->layout ? p->layout->n : 0;
	out->consumable = p->pool.consumable;
	out->taints = p->pool.taints;
}
