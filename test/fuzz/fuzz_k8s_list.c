/* The reflector's index (common/src/k8s/k8s_index.c): LIST pages read out
 * of the API server's answer (items, metadata.resourceVersion and
 * .continue) and watch events applied to the sorted index of "ns/name"
 * keys and versions, against a naive model (a list of (namespace, name,
 * version) searched one by one).
 *
 * Input: lines, each one step; its first byte says which, the rest is a
 * JSON document read as the client reads bodies (ky_json_parse):
 *   L  a LIST answer: the next page of the list in progress, or the first
 *      of a new one; one without "continue" completes it
 *   A, M  a watch's ADDED or MODIFIED object;  D  a DELETED one
 *   S<n>  (first line only) the caller stops the index after n callbacks
 * An event during a list ends that list unfinished (as the reflector only
 * watches between lists). Checked after every step: the index sorted
 * without repeats, holding exactly the model's objects with their
 * versions; callbacks as the model expects: added for an object it did not
 * hold, modified only when the version changed, deleted only for what it
 * held (a completed list: what the list did not name, obj NULL), with the
 * namespace and name it was added under (a name or namespace holding '/'
 * is no object's: skipped); a page without items or a
 * resourceVersion refused with -EPROTO, touching nothing; once stopped, no
 * further callback. */
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/json/json.h"
#include "kyborg/k8s/k8s_index.h"

#define MAX_CALLS 4096
#define MAX_LINE (1u << 20)

enum call_type { C_ADDED, C_MODIFIED, C_DELETED };

struct call {
	enum call_type type;
	const cJSON *obj;
	char *ns, *name; /* deleted only */
};

/* The callbacks of one step; total counts towards the caller's stop. */
struct calls {
	struct call c[MAX_CALLS];
	size_t n, total, stop_after; /* stop_after 0: never */
};

static void record(struct calls *l, enum call_type t, const cJSON *obj, const char *ns, const char *name)
{
	FUZZ_ASSERT(!l->stop_after || l->total < l->stop_after, "a callback after the caller stopped the index");
	FUZZ_ASSERT(l->n < MAX_CALLS, "more callbacks than objects");
	l->c[l->n] = (struct call){ .type = t, .obj = obj, .ns = ns ? strdup(ns) : NULL, .name = name ? strdup(name) : NULL };
	FUZZ_ASSERT((!ns || l->c[l->n].ns) && (!name || l->c[l->n].name), "out of memory");
	l->n++;
	l->total++;
}

static void calls_clear(struct calls *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->c[i].ns);
		free(l->c[i].name);
	}
	l->n = 0;
}

static void on_added(void *u, const cJSON *obj)
{
	record(u, C_ADDED, obj, NULL, NULL);
}

static void on_modified(void *u, const cJSON *obj)
{
	record(u, C_MODIFIED, obj, NULL, NULL);
}

static void on_deleted(void *u, const char *ns, const char *name, const cJSON *obj)
{
	FUZZ_ASSERT(name, "deleted without a name");
	record(u, C_DELETED, obj, ns, name);
}

static bool on_stopped(void *u)
{
	const struct calls *l = u;
	return l->stop_after && l->total >= l->stop_after;
}

/* ---- the model ---- */

struct obj {
	char *ns, *name, *rv; /* ns NULL: cluster-scoped */
	bool seen;
};

struct model {
	struct obj *o;
	size_t n;
	bool listing;
	struct call want[MAX_CALLS];
	size_t nwant;
};

static bool same_ns(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const char *meta_str(const cJSON *obj, const char *field)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, "metadata");
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, field);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static struct obj *model_find(struct model *m, const char *ns, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (same_ns(m->o[i].ns, ns) && !strcmp(m->o[i].name, name))
			return &m->o[i];
	return NULL;
}

static void want(struct model *m, enum call_type t, const cJSON *obj, const char *ns, const char *name)
{
	FUZZ_ASSERT(m->nwant < MAX_CALLS, "model overflow");
	m->want[m->nwant++] = (struct call){ .type = t, .obj = obj, .ns = (char *)ns, .name = (char *)name };
}

static void model_upsert(struct model *m, const cJSON *obj)
{
	const char *name = meta_str(obj, "name");
	const char *ns = meta_str(obj, "namespace");
	/* Names are path segments: one holding '/' is no object's. */
	if (!name || !*name || strchr(name, '/') || (ns && strchr(ns, '/')))
		return;
	const char *rv = meta_str(obj, "resourceVersion");
	struct obj *o = model_find(m, ns, name);
	if (o) {
		o->seen = true;
		if (rv && strcmp(o->rv, rv)) {
			free(o->rv);
			o->rv = strdup(rv);
			want(m, C_MODIFIED, obj, NULL, NULL);
		}
		return;
	}
	m->o = realloc(m->o, (m->n + 1) * sizeof(*m->o));
	FUZZ_ASSERT(m->o, "out of memory");
	m->o[m->n++] = (struct obj){ .ns = ns ? strdup(ns) : NULL, .name = strdup(name), .rv = strdup(rv ? rv : ""),
				     .seen = true };
	want(m, C_ADDED, obj, NULL, NULL);
}

static void model_remove(struct model *m, struct obj *o)
{
	free(o->ns);
	free(o->name);
	free(o->rv);
	*o = m->o[--m->n];
}

/* ---- checks ---- */

static int call_cmp(const void *a, const void *b)
{
	const struct call *x = a, *y = b;
	if (x->type != y->type)
		return (int)x->type - (int)y->type;
	int c = strcmp(x->ns ? x->ns : "", y->ns ? y->ns : "");
	if (c || !x->ns != !y->ns)
		return c ? c : (x->ns ? 1 : -1);
	return strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

/* The callbacks since the step began (total was then `start`) against
 * the model's; a completed list's deletions in any order. A stop cuts the
 * model's short. */
static void check_calls(struct calls *l, struct model *m, size_t start, bool any_order)
{
	size_t n = m->nwant;
	if (l->stop_after && l->stop_after - start < n)
		n = l->stop_after - start;
	FUZZ_ASSERT(l->n == n, "%zu callbacks, the model expects %zu", l->n, n);
	if (any_order) {
		qsort(l->c, l->n, sizeof(*l->c), call_cmp);
		qsort(m->want, m->nwant, sizeof(*m->want), call_cmp);
		if (n < m->nwant)
			return; /* which of them came first is the index's choice */
	}
	for (size_t i = 0; i < n; i++) {
		const struct call *a = &l->c[i], *w = &m->want[i];
		FUZZ_ASSERT(a->type == w->type, "callback %zu: type %d, the model expects %d", i, a->type, w->type);
		FUZZ_ASSERT(a->obj == w->obj, "callback %zu: another object", i);
		if (a->type == C_DELETED)
			FUZZ_ASSERT(same_ns(a->ns, w->ns) && !strcmp(a->name, w->name),
				    "deleted %s%s%s, the model expects %s%s%s", a->ns ? a->ns : "", a->ns ? "|" : "",
				    a->name, w->ns ? w->ns : "", w->ns ? "|" : "", w->name);
	}
}

static void check_index(const struct ky_k8s_index *idx, const struct model *m)
{
	size_t n = ky_k8s_index_count(idx);
	FUZZ_ASSERT(n == m->n, "the index holds %zu objects, the model %zu", n, m->n);
	const char *prev = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *key, *rv;
		ky_k8s_index_at(idx, i, &key, &rv);
		FUZZ_ASSERT(key && rv, "entry %zu without key or version", i);
		FUZZ_ASSERT(!prev || strcmp(prev, key) < 0, "keys \"%s\", \"%s\" out of order or repeated", prev, key);
		prev = key;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct obj *o = &m->o[i];
		FUZZ_ASSERT(ky_k8s_index_has(idx, o->ns, o->name), "the index lost %s/%s", o->ns ? o->ns : "", o->name);
	}
}

/* Checks the step's callbacks, then drops from the model what it
 * deleted. Returns false once the caller stopped the index. */
static bool settle(struct ky_k8s_index *idx, struct model *m, struct calls *l, size_t start, bool any_order)
{
	check_calls(l, m, start, any_order);
	calls_clear(l);
	if (on_stopped(l)) {
		m->nwant = 0;
		return false;
	}
	for (size_t i = 0; i < m->nwant; i++) {
		if (m->want[i].type != C_DELETED)
			continue;
		struct obj *o = model_find(m, m->want[i].ns, m->want[i].name);
		FUZZ_ASSERT(o, "model");
		model_remove(m, o);
		/* Later entries may point at strings of the one moved, never the one freed. */
	}
	m->nwant = 0;
	check_index(idx, m);
	return true;
}

/* ---- one step ---- */

/* Returns false once the caller stopped the index. */
static bool step(struct ky_k8s_index *idx, struct model *m, struct calls *l, char op, const cJSON *doc)
{
	size_t start = l->total;
	if (op == 'L') {
		struct ky_k8s_list_page page;
		struct ky_error *err = NULL;
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(doc, "items");
		const char *rv = meta_str(doc, "resourceVersion");
		bool good = cJSON_IsArray(items) && rv && *rv;
		int r = ky_k8s_list_page_read(doc, "things", &page, &err);
		if (!good) {
			FUZZ_ASSERT(r == -EPROTO, "a page without items or resourceVersion read as %d", r);
			FUZZ_ASSERT(strstr(ky_error_msg(err), "resourceVersion"), "refusal names no field: %s",
				    ky_error_msg(err));
			ky_error_free(err);
			m->listing = false;
			return settle(idx, m, l, start, false);
		}
		FUZZ_ASSERT(r == 0 && page.items == items && !strcmp(page.rv, rv), "a good page refused: %s",
			    ky_error_msg(err));
		const char *cont = meta_str(doc, "continue");
		FUZZ_ASSERT(cont && *cont ? page.cont && !strcmp(page.cont, cont) : !page.cont, "continue misread");
		if (!m->listing) {
			ky_k8s_index_list_begin(idx);
			for (size_t i = 0; i < m->n; i++)
				m->o[i].seen = false;
			m->listing = true;
		}
		const cJSON *item;
		cJSON_ArrayForEach(item, items)
			model_upsert(m, item);
		FUZZ_ASSERT(ky_k8s_index_list_page(idx, &page) == 0, "page refused");
		if (!settle(idx, m, l, start, false))
			return false;
		if (page.cont)
			return true;
		/* Complete: what it did not name is gone. */
		m->listing = false;
		start = l->total;
		for (size_t i = 0; i < m->n; i++)
			if (!m->o[i].seen)
				want(m, C_DELETED, NULL, m->o[i].ns, m->o[i].name);
		ky_k8s_index_list_end(idx);
		return settle(idx, m, l, start, true);
	}
	m->listing = false;
	if (op == 'D') {
		const char *name = meta_str(doc, "name");
		struct obj *o = name ? model_find(m, meta_str(doc, "namespace"), name) : NULL;
		if (o)
			want(m, C_DELETED, doc, o->ns, o->name);
		ky_k8s_index_delete(idx, doc);
	} else {
		model_upsert(m, doc);
		FUZZ_ASSERT(ky_k8s_index_upsert(idx, doc) == 0, "upsert failed");
	}
	return settle(idx, m, l, start, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct calls l;
	struct model m = { 0 };
	l = (struct calls){ 0 };
	static const struct ky_k8s_index_ops ops = {
		.added = on_added, .modified = on_modified, .deleted = on_deleted, .stopped = on_stopped
	};
	struct ky_k8s_index *idx = NULL;
	FUZZ_ASSERT(ky_k8s_index_new("things", &ops, &l, &idx, NULL) == 0, "index");
	cJSON *docs[64];
	size_t ndocs = 0;
	size_t pos = 0;
	bool first = true, going = true;
	while (pos < size && going && ndocs < 64) {
		const uint8_t *nl = memchr(data + pos, '\n', size - pos);
		size_t len = nl ? (size_t)(nl - data - pos) : size - pos;
		const char *line = (const char *)data + pos;
		pos += len + (nl ? 1 : 0);
		if (!len || len > MAX_LINE)
			continue;
		char op = line[0];
		if (first && op == 'S') {
			first = false;
			char num[8] = { 0 };
			memcpy(num, line + 1, len - 1 < 7 ? len - 1 : 7);
			l.stop_after = strtoul(num, NULL, 10) % MAX_CALLS;
			continue;
		}
		first = false;
		if (op != 'L' && op != 'A' && op != 'M' && op != 'D')
			continue;
		cJSON *doc = NULL;
		struct ky_error *err = NULL;
		if (ky_json_parse(line + 1, len - 1, &doc, &err) < 0) {
			ky_error_free(err);
			continue;
		}
		/* Objects stay alive as the reflector's callers' would not need:
		 * the model compares pointers only within a step. */
		docs[ndocs++] = doc;
		going = step(idx, &m, &l, op, doc);
	}
	ky_k8s_index_free(idx);
	for (size_t i = 0; i < ndocs; i++)
		cJSON_Delete(docs[i]);
	for (size_t i = 0; i < m.n; i++) {
		free(m.o[i].ns);
		free(m.o[i].name);
		free(m.o[i].rv);
	}
	free(m.o);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}
