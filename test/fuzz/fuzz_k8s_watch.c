/* What the API server sends the driver's Kubernetes client
 * (common/src/k8s), and what the ResourceSlice publisher keeps of it
 * (dra/dra_known.c, dra_slices.c): a watch body split into lines in the
 * chunks the input chooses, against a plain reading in one piece
 * (k8s_event.c's splitter); each line read as a watch event; an ERROR
 * event's Status, and any line as an error answer's body, turned into an
 * error (k8s_status.c); each ResourceSlice object recorded in the index of
 * the server's slices the publisher keeps (dra_known_upsert, with the slice
 * digest), DELETED ones dropped.
 *
 * Input: byte 0 picks the longest line accepted (bits 0-2) and after how
 * many lines the callback stops the feed (3-5); byte 1 (n, up to 15) is
 * followed by n chunk sizes used in turn; the rest is the stream. Checked:
 * the same lines, result and pending bytes as the one-piece reading, with
 * one '\r' before each '\n' and empty lines dropped, and no line over the
 * limit ever buffered;
 * an event has a known type and an object (a Status for ERROR); an error
 * keeps the HTTP code as its status and its errno is the code's, a body
 * that is no Status gives one printable line of at most 200 bytes; the
 * index stays sorted by name without repeats, holds what was upserted
 * unless it knew a newer version, forgets what was deleted; a slice's
 * digest does not depend on the order of its attribute and capacity maps
 * (Go writes maps sorted, we do not). */
#include "dra_known.h"
#include "dra_slices.h"
#include "fuzz.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/k8s/k8s_event.h"
#include "kyborg/k8s/k8s_status.h"

#define MAX_LINES 4096

static const size_t limits[] = { 0 /* KY_K8S_EVENT_MAX */, 1, 2, 16, 100, 1000, 4096, 65536 };
static const int http_codes[] = { 400, 401, 403, 404, 409, 410, 422, 429, 500, 503, 504, 200 };

struct lines {
	size_t n, stop_after;
	size_t off[MAX_LINES], len[MAX_LINES];
	const char *base; /* one-piece reading: offsets into the stream */
	char *copy[MAX_LINES];
};

static int on_line(void *userdata, const char *line, size_t len)
{
	struct lines *l = userdata;
	FUZZ_ASSERT(l->n < MAX_LINES, "more lines than the stream holds");
	/* One '\r' goes with the '\n' (CRLF); a second is the line's own. */
	FUZZ_ASSERT(len > 0 && !memchr(line, '\n', len), "line handed on with a line end");
	l->copy[l->n] = malloc(len);
	FUZZ_ASSERT(l->copy[l->n], "out of memory");
	memcpy(l->copy[l->n], line, len);
	l->len[l->n++] = len;
	return l->stop_after && l->n == l->stop_after ? -ECANCELED : 0;
}

struct expect {
	size_t n, off[MAX_LINES], len[MAX_LINES], pending;
	int result;
};

/* The stream read by the rule: lines end at '\n', lose one trailing '\r',
 * empty ones are skipped; a line (ended or not) longer than max fails the
 * stream once it arrives. */
static void reference(const char *s, size_t len, size_t max, size_t stop_after, struct expect *e)
{
	*e = (struct expect){ 0 };
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(s + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s - pos) : len - pos;
		if (n > max) {
			e->result = -EMSGSIZE;
			return;
		}
		if (!nl) {
			e->pending = n;
			return;
		}
		size_t l = n && s[pos + n - 1] == '\r' ? n - 1 : n;
		if (l) {
			e->off[e->n] = pos;
			e->len[e->n++] = l;
			if (stop_after && e->n == stop_after) {
				e->result = -ECANCELED;
				return;
			}
		}
		pos += n + 1;
	}
}

/* The members of each device's attributes and capacity in reverse order. */
static void reverse_maps(cJSON *slice)
{
	cJSON *d;
	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(slice, "spec"), "devices"))
	{
		static const char *const maps[] = { "attributes", "capacity" };
		for (size_t m = 0; m < 2; m++) {
			cJSON *o = cJSON_GetObjectItemCaseSensitive(d, maps[m]);
			if (!cJSON_IsObject(o))
				continue;
			cJSON *rev = NULL, *c = o->child;
			while (c) {
				cJSON *next = c->next;
				c->prev = NULL;
				c->next = rev;
				if (rev)
					rev->prev = c;
				rev = c;
				c = next;
			}
			if (rev) {
				/* cJSON keeps the last element in the first's prev. */
				cJSON *last = rev;
				while (last->next)
					last = last->next;
				rev->prev = last;
			}
			o->child = rev;
		}
	}
}


static void check_known(struct dra_known *k)
{
	for (size_t i = 0; i < k->n; i++) {
		FUZZ_ASSERT(k->s[i].name && k->s[i].name[0] && k->s[i].uid && k->s[i].rv && k->s[i].pool,
			    "slice %zu of the index without its strings", i);
		FUZZ_ASSERT(i == 0 || strcmp(k->s[i - 1].name, k->s[i].name) < 0, "index out of order at %s",
			    k->s[i].name);
		FUZZ_ASSERT(dra_known_get(k, k->s[i].name) == &k->s[i], "%s not found in the index", k->s[i].name);
	}
}

static void check_slice(struct dra_known *k, const struct ky_k8s_event *ev)
{
	const char *name = ky_k8s_object_name(ev->object);
	if (ev->type == KY_K8S_DELETED) {
		if (name) {
			dra_known_remove(k, name);
			FUZZ_ASSERT(!dra_known_get(k, name), "%s deleted, still known", name);
		}
		return;
	}
	if (ev->type != KY_K8S_ADDED && ev->type != KY_K8S_MODIFIED)
		return;
	uint8_t a[DRA_DIGEST_LEN], b[DRA_DIGEST_LEN];
	dra_slice_digest(ev->object, a);
	_cleanup_(cJSON_Deletep) cJSON *copy = cJSON_Duplicate(ev->object, true);
	FUZZ_ASSERT(copy, "out of memory");
	reverse_maps(copy);
	dra_slice_digest(copy, b);
	FUZZ_ASSERT(memcmp(a, b, sizeof(a)) == 0, "the digest of %s depends on the order of a map", name ? name : "?");

	const struct dra_known_slice *before = name ? dra_known_get(k, name) : NULL;
	char *old_rv = before ? strdup(before->rv) : NULL;
	size_t n = k->n;
	int r = dra_known_upsert(k, ev->object);
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENOMEM, "upsert returned %d", r);
	FUZZ_ASSERT(r != -EINVAL || !name || !*name, "%s refused: it has a name", name);
	if (r == 0 && name && *name) {
		struct dra_known_slice *s = dra_known_get(k, name);
		FUZZ_ASSERT(s && k->n == n + !before, "%s not in the index after its upsert", name);
		const char *rv = ky_k8s_object_resource_version(ev->object);
		unsigned long long a_num, b_num;
		bool newer_known = old_rv && rv && dra_rv_parse(old_rv, &a_num) && dra_rv_parse(rv, &b_num) && a_num > b_num;
		if (!newer_known && !(old_rv && rv && !strcmp(old_rv, rv))) {
			FUZZ_ASSERT(!strcmp(s->rv, rv ? rv : ""), "%s at version %s after an upsert of %s", name, s->rv,
				    rv ? rv : "none");
			FUZZ_ASSERT(memcmp(s->digest, a, sizeof(a)) == 0, "%s: the index's digest is not the slice's", name);
		}
		dra_known_copy_taint_times(s, copy);
		(void)dra_known_generation(k, s->pool);
	}
	free(old_rv);
	check_known(k);
}

static void check_error(const cJSON *status, int http)
{
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_k8s_status_error(status, http, &err);
	int code = ky_error_status(err);
	FUZZ_ASSERT(r < 0 && ky_error_msg(err)[0], "Status read as %d without a message", r);
	FUZZ_ASSERT(http ? code == http : (code == 0 || (code >= 100 && code < 600)), "status %d for HTTP %d", code, http);
	const cJSON *reason = cJSON_GetObjectItemCaseSensitive(status, "reason");
	FUZZ_ASSERT(-r == ky_k8s_http_errno(code, cJSON_IsString(reason) && reason->valuestring[0] ? reason->valuestring : NULL),
		    "errno %d for HTTP %d", -r, code);
	FUZZ_ASSERT(ky_k8s_error_expired(err) == (code == KY_K8S_GONE), "expired %d for HTTP %d",
		    ky_k8s_error_expired(err), code);
}

static void check_line(struct dra_known *k, const char *line, size_t len, int http)
{
	/* As an error answer's body. */
	_cleanup_error_ struct ky_error *err = NULL;
	int r = ky_k8s_response_error(http, line, len, &err);
	FUZZ_ASSERT(r < 0 && ky_error_status(err) == http, "response error %d, status %d for HTTP %d", r,
		    ky_error_status(err), http);
	_cleanup_(cJSON_Deletep) cJSON *doc = NULL;
	if (ky_json_parse(line, len, &doc, NULL) < 0 || !ky_k8s_is_status(doc)) {
		const char *m = ky_error_msg(err);
		FUZZ_ASSERT(!strncmp(m, "HTTP ", 5) && strlen(m) <= 200 + 16, "body message %s", m);
		for (const unsigned char *p = (const unsigned char *)m; *p; p++)
			FUZZ_ASSERT(*p >= 0x20 && *p != 0x7f, "body message with byte 0x%02x", *p);
	} else {
		check_error(doc, http);
	}

	/* As a watch event. */
	struct ky_k8s_event ev = { 0 };
	ky_error_clear(&err);
	r = ky_k8s_event_parse(line, len, &ev, &err);
	if (r < 0) {
		FUZZ_ASSERT(r == -EINVAL || r == -ENOMEM, "event parse returned %d", r);
		FUZZ_ASSERT(!strncmp(ky_error_msg(err), "watch event", 11), "refusal: %s", ky_error_msg(err));
		FUZZ_ASSERT(!ev.doc, "a refused event keeps its document");
		return;
	}
	FUZZ_ASSERT(strcmp(ky_k8s_event_type_name(ev.type), "?") != 0, "event type %d", (int)ev.type);
	FUZZ_ASSERT(cJSON_IsObject(ev.object), "event without an object");
	(void)ky_k8s_object_namespace(ev.object);
	if (ev.type == KY_K8S_ERROR) {
		FUZZ_ASSERT(ky_k8s_is_status(ev.object), "ERROR without a Status");
		check_error(ev.object, 0);
	} else {
		check_slice(k, &ev);
	}
	cJSON_Delete(ev.doc);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_quiet_logs();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	size_t max = limits[data[0] & 7] ? limits[data[0] & 7] : KY_K8S_EVENT_MAX;
	size_t stop_after = (data[0] >> 3) & 7;
	size_t n_chunks = data[1] & 15;
	if (size < 2 + n_chunks)
		return 0;
	const uint8_t *chunks = data + 2;
	const char *s = (const char *)data + 2 + n_chunks;
	size_t len = size - 2 - n_chunks;
	if (len > 2 * MAX_LINES)
		len = 2 * MAX_LINES; /* every line has a byte and its end */

	static struct expect e;
	reference(s, len, max, stop_after, &e);
	static struct lines got;
	got.n = 0;
	got.stop_after = stop_after;
	struct ky_k8s_lines l;
	ky_k8s_lines_init(&l, max);
	int r = 0;
	size_t pos = 0, k = 0;
	while (pos < len && r == 0) {
		size_t take = fuzz_next_chunk(chunks, n_chunks, &k, len - pos);
		r = ky_k8s_lines_feed(&l, s + pos, take, on_line, &got);
		pos += take;
		FUZZ_ASSERT(l.len <= l.max && l.cap <= l.max, "%zu bytes held in %zu, the limit is %zu", l.len, l.cap,
			    l.max);
	}
	FUZZ_ASSERT(r == e.result, "feed returned %d, the stream says %d", r, e.result);
	FUZZ_ASSERT(got.n == e.n, "%zu lines, the stream holds %zu", got.n, e.n);
	for (size_t i = 0; i < e.n; i++)
		FUZZ_ASSERT(got.len[i] == e.len[i] && !memcmp(got.copy[i], s + e.off[i], e.len[i]),
			    "line %zu differs", i);
	if (r == 0)
		FUZZ_ASSERT(ky_k8s_lines_pending(&l) == e.pending, "%zu bytes pending, the stream says %zu",
			    ky_k8s_lines_pending(&l), e.pending);
	else
		FUZZ_ASSERT(ky_k8s_lines_feed(&l, s, len, on_line, &got) == r && got.n == e.n, "failure not sticky");
	ky_k8s_lines_release(&l);

	struct dra_known known = { 0 };
	for (size_t i = 0; i < got.n; i++) {
		check_line(&known, got.copy[i], got.len[i], http_codes[i % (sizeof(http_codes) / sizeof(http_codes[0]))]);
		free(got.copy[i]);
	}
	dra_known_release(&known);
	return 0;
}
