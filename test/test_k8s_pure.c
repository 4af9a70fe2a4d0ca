/* The pure parts of the Kubernetes API client: request paths and their
 * escaping, Status objects as errors, the watch stream's line splitter and
 * event parser, backoff, the configuration and the token file. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/error.h"
#include "kyborg/json/json.h"
#include "kyborg/k8s/k8s_backoff.h"
#include "kyborg/k8s/k8s_config.h"
#include "kyborg/k8s/k8s_event.h"
#include "kyborg/k8s/k8s_index.h"
#include "kyborg/k8s/k8s_path.h"
#include "kyborg/k8s/k8s_status.h"
#include "kytest.h"

static const struct ky_k8s_resource slices = { "resource.k8s.io", "v1", "resourceslices" };
static const struct ky_k8s_resource claims = { "resource.k8s.io", "v1", "resourceclaims" };
static const struct ky_k8s_resource pods = { "", "v1", "pods" };

/* ---- paths ---- */

Test(k8s_path, collection_object_and_core_group)
{
	char *p = NULL;
	cr_assert_eq(ky_k8s_path(&slices, NULL, NULL, NULL, NULL, &p, NULL), 0);
	cr_assert_str_eq(p, "/apis/resource.k8s.io/v1/resourceslices");
	free(p);
	cr_assert_eq(ky_k8s_path(&claims, "team-a", "gpu-claim", NULL, NULL, &p, NULL), 0);
	cr_assert_str_eq(p, "/apis/resource.k8s.io/v1/namespaces/team-a/resourceclaims/gpu-claim");
	free(p);
	cr_assert_eq(ky_k8s_path(&pods, "default", "p", "status", NULL, &p, NULL), 0);
	cr_assert_str_eq(p, "/api/v1/namespaces/default/pods/p/status");
	free(p);
}

Test(k8s_path, selectors_are_percent_encoded)
{
	struct ky_k8s_query q = { .field_selector = "spec.nodeName=node-1,spec.driver=kyborg.io",
				  .label_selector = "app in (a b),tier!=x", .limit = 50 };
	char *p = NULL;
	cr_assert_eq(ky_k8s_path(&slices, NULL, NULL, NULL, &q, &p, NULL), 0);
	cr_assert_str_eq(p, "/apis/resource.k8s.io/v1/resourceslices"
			    "?fieldSelector=spec.nodeName%3Dnode-1%2Cspec.driver%3Dkyborg.io"
			    "&labelSelector=app%20in%20%28a%20b%29%2Ctier%21%3Dx&limit=50");
	free(p);
}

Test(k8s_path, watch_query_and_continue_token)
{
	struct ky_k8s_query q = { .watch = true, .allow_watch_bookmarks = true, .resource_version = "12345",
				  .timeout_seconds = 300, .continue_token = "eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ==" };
	char *p = NULL;
	cr_assert_eq(ky_k8s_path(&slices, NULL, NULL, NULL, &q, &p, NULL), 0);
	cr_assert_str_eq(p, "/apis/resource.k8s.io/v1/resourceslices?watch=1&allowWatchBookmarks=true"
			    "&resourceVersion=12345&continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ%3D%3D&timeoutSeconds=300");
	free(p);
}

Test(k8s_path, names_that_would_leave_their_segment_are_refused)
{
	const char *bad[] = { "a/b", "..", ".", "", "x\ny" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ky_error *e = NULL;
		char *p = NULL;
		cr_assert_eq(ky_k8s_path(&claims, "ns", bad[i], NULL, NULL, &p, &e), -EINVAL, "name %zu", i);
		cr_assert_null(p);
		cr_assert(strstr(ky_error_msg(e), "name"), "%s", ky_error_msg(e));
		ky_error_free(e);
	}
	struct ky_error *e = NULL;
	char *p = NULL;
	cr_assert_eq(ky_k8s_path(&claims, "../kube-system", "x", NULL, NULL, &p, &e), -EINVAL);
	cr_assert_str_eq(ky_error_msg(e), "namespace \"../kube-system\": must not contain '/'");
	ky_error_free(e);
	char long_name[300];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	e = NULL;
	cr_assert_eq(ky_k8s_path(&claims, "ns", long_name, NULL, NULL, &p, &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "more than 253"), "%s", ky_error_msg(e));
	ky_error_free(e);
}

Test(k8s_path, odd_characters_in_a_name_are_escaped_not_interpreted)
{
	char *p = NULL;
	cr_assert_eq(ky_k8s_path(&claims, "ns", "a%2fb?c#d", NULL, NULL, &p, NULL), 0);
	cr_assert_str_eq(p, "/apis/resource.k8s.io/v1/namespaces/ns/resourceclaims/a%252fb%3Fc%23d");
	free(p);
	char *esc = NULL;
	cr_assert_eq(ky_k8s_escape("AZaz09-._~ +&=\xc3\xa9", &esc), 0);
	cr_assert_str_eq(esc, "AZaz09-._~%20%2B%26%3D%C3%A9");
	free(esc);
}

/* ---- Status objects and error bodies ---- */

static cJSON *parse(const char *s)
{
	cJSON *j = NULL;
	cr_assert_eq(ky_json_parse(s, strlen(s), &j, NULL), 0, "%s", s);
	return j;
}

Test(k8s_status, invalid_object_reads_as_the_server_wrote_it_and_keeps_422)
{
	const char *body =
		"{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","
		"\"message\":\"ResourceSlice.resource.k8s.io \\\"x\\\" is invalid: spec.devices[3].name: Invalid value: "
		"\\\"GPU_0\\\": a lowercase RFC 1123 label must consist of ...\",\"reason\":\"Invalid\","
		"\"details\":{\"name\":\"x\",\"kind\":\"ResourceSlice\"},\"code\":422}";
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_response_error(422, body, strlen(body), &e), -EINVAL);
	cr_assert_str_eq(ky_error_msg(e), "ResourceSlice.resource.k8s.io \"x\" is invalid: spec.devices[3].name: "
					  "Invalid value: \"GPU_0\": a lowercase RFC 1123 label must consist of ...");
	cr_assert_eq(ky_error_status(e), 422);
	ky_error_free(e);
}

Test(k8s_status, conflict_already_exists_not_found_and_gone_are_told_apart)
{
	struct {
		const char *reason;
		int http, code;
	} cases[] = {
		{ "Conflict", 409, EBUSY }, { "AlreadyExists", 409, EEXIST }, { "NotFound", 404, ENOENT },
		{ "Expired", 410, ESTALE }, { "Unauthorized", 401, EACCES },  { "TooManyRequests", 429, EAGAIN },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char body[256];
		snprintf(body, sizeof(body), "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":\"m%zu\","
					     "\"reason\":\"%s\",\"code\":%d}", i, cases[i].reason, cases[i].http);
		struct ky_error *e = NULL;
		cr_assert_eq(ky_k8s_response_error(cases[i].http, body, strlen(body), &e), -cases[i].code, "%s",
			     cases[i].reason);
		cr_assert_eq(ky_error_status(e), cases[i].http);
		cr_assert_eq(ky_k8s_error_expired(e), cases[i].http == 410);
		ky_error_free(e);
	}
}

Test(k8s_status, error_event_status_without_http_code_uses_its_own)
{
	cJSON *s = parse("{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\","
			 "\"message\":\"too old resource version: 5 (10)\",\"reason\":\"Expired\",\"code\":410}");
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_status_error(s, 0, &e), -ESTALE);
	cr_assert_str_eq(ky_error_msg(e), "too old resource version: 5 (10)");
	cr_assert(ky_k8s_error_expired(e));
	ky_error_free(e);
	cJSON_Delete(s);
	/* Older servers sent a reason without a code. */
	s = parse("{\"kind\":\"Status\",\"reason\":\"Gone\"}");
	e = NULL;
	cr_assert_eq(ky_k8s_status_error(s, 0, &e), -ESTALE);
	cr_assert_str_eq(ky_error_msg(e), "Gone (HTTP 410)");
	ky_error_free(e);
	cJSON_Delete(s);
}

Test(k8s_status, foreign_body_gives_its_first_line_cut_and_clean)
{
	const char *html = "<html><body>\x1b[31mBad Gateway</body></html>\nsecond line";
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_response_error(502, html, strlen(html), &e), -EIO);
	cr_assert_str_eq(ky_error_msg(e), "HTTP 502: <html><body>[31mBad Gateway</body></html>");
	cr_assert_eq(ky_error_status(e), 502);
	ky_error_free(e);
	char big[1000];
	memset(big, 'x', sizeof(big));
	e = NULL;
	ky_k8s_response_error(500, big, sizeof(big), &e);
	cr_assert_eq(strlen(ky_error_msg(e)), strlen("HTTP 500: ") + 200);
	ky_error_free(e);
	e = NULL;
	cr_assert_eq(ky_k8s_response_error(503, NULL, 0, &e), -EAGAIN);
	cr_assert_str_eq(ky_error_msg(e), "HTTP 503");
	ky_error_free(e);
}

/* ---- the watch stream ---- */

struct lines_seen {
	char got[16][64];
	int n;
	int stop_at; /* return -ECANCELED at this line (1-based); 0 never */
};

static int collect(void *userdata, const char *line, size_t len)
{
	struct lines_seen *s = userdata;
	cr_assert_lt(s->n, 16);
	cr_assert_lt(len, sizeof(s->got[0]));
	memcpy(s->got[s->n], line, len);
	s->got[s->n][len] = '\0';
	s->n++;
	return s->stop_at == s->n ? -ECANCELED : 0;
}

Test(k8s_event, lines_cut_anywhere_come_out_whole)
{
	const char *stream = "{\"a\":1}\n{\"b\":22}\r\n\n{\"c\":333}\n{\"d\":4";
	size_t len = strlen(stream);
	/* Every way of cutting the stream in three gives the same lines. */
	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			struct ky_k8s_lines l;
			struct lines_seen s = { 0 };
			ky_k8s_lines_init(&l, 64);
			cr_assert_eq(ky_k8s_lines_feed(&l, stream, i, collect, &s), 0);
			cr_assert_eq(ky_k8s_lines_feed(&l, stream + i, j - i, collect, &s), 0);
			cr_assert_eq(ky_k8s_lines_feed(&l, stream + j, len - j, collect, &s), 0);
			cr_assert_eq(s.n, 3, "cut at %zu,%zu: %d lines", i, j, s.n);
			cr_assert_str_eq(s.got[0], "{\"a\":1}");
			cr_assert_str_eq(s.got[1], "{\"b\":22}");
			cr_assert_str_eq(s.got[2], "{\"c\":333}");
			cr_assert_eq(ky_k8s_lines_pending(&l), 6);
			ky_k8s_lines_release(&l);
		}
	}
}

Test(k8s_event, a_line_over_the_bound_fails_before_it_is_buffered)
{
	struct ky_k8s_lines l;
	struct lines_seen s = { 0 };
	ky_k8s_lines_init(&l, 8);
	cr_assert_eq(ky_k8s_lines_feed(&l, "12345678\n1234", 13, collect, &s), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(ky_k8s_lines_feed(&l, "56789", 5, collect, &s), -EMSGSIZE);
	cr_assert_leq(l.cap, 8, "buffered %zu bytes past the bound", l.cap);
	/* Sticky: the stream cannot be trusted after a cut. */
	cr_assert_eq(ky_k8s_lines_feed(&l, "\n{}\n", 4, collect, &s), -EMSGSIZE);
	cr_assert_eq(s.n, 1);
	ky_k8s_lines_release(&l);
	/* A whole over-long line inside one chunk is refused too. */
	ky_k8s_lines_init(&l, 8);
	cr_assert_eq(ky_k8s_lines_feed(&l, "123456789\n", 10, collect, &s), -EMSGSIZE);
	ky_k8s_lines_release(&l);
}

Test(k8s_event, a_callback_stops_the_feed)
{
	struct ky_k8s_lines l;
	struct lines_seen s = { .stop_at = 2 };
	ky_k8s_lines_init(&l, 64);
	cr_assert_eq(ky_k8s_lines_feed(&l, "a\nb\nc\n", 6, collect, &s), -ECANCELED);
	cr_assert_eq(s.n, 2);
	ky_k8s_lines_release(&l);
}

static int count_lines(void *userdata, const char *line, size_t len)
{
	size_t *n = userdata;
	(void)line;
	cr_assert_gt(len, 0);
	(*n)++;
	return 0;
}

Test(k8s_event, a_long_line_buffer_is_released_after_it)
{
	struct ky_k8s_lines l;
	size_t n = 0;
	size_t big = 200 * 1024;
	char *chunk = malloc(big);
	memset(chunk, ' ', big);
	chunk[0] = '{';
	ky_k8s_lines_init(&l, 1024 * 1024);
	cr_assert_eq(ky_k8s_lines_feed(&l, chunk, big, count_lines, &n), 0);
	cr_assert_geq(l.cap, big);
	cr_assert_eq(n, 0);
	cr_assert_eq(ky_k8s_lines_feed(&l, "}\n", 2, count_lines, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(l.cap, 0, "kept %zu bytes after a long line", l.cap);
	ky_k8s_lines_release(&l);
	free(chunk);
}

Test(k8s_event, events_parse_with_their_object)
{
	const char *line = "{\"type\":\"MODIFIED\",\"object\":{\"kind\":\"ResourceSlice\",\"metadata\":"
			   "{\"name\":\"n1-kyborg-0\",\"resourceVersion\":\"77\"}}}";
	struct ky_k8s_event ev;
	cr_assert_eq(ky_k8s_event_parse(line, strlen(line), &ev, NULL), 0);
	cr_assert_eq(ev.type, KY_K8S_MODIFIED);
	cr_assert_str_eq(ky_k8s_object_name(ev.object), "n1-kyborg-0");
	cr_assert_str_eq(ky_k8s_object_resource_version(ev.object), "77");
	cr_assert_null(ky_k8s_object_namespace(ev.object));
	cJSON_Delete(ev.doc);
	line = "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"90\"}}}";
	cr_assert_eq(ky_k8s_event_parse(line, strlen(line), &ev, NULL), 0);
	cr_assert_eq(ev.type, KY_K8S_BOOKMARK);
	cr_assert_str_eq(ky_k8s_object_resource_version(ev.object), "90");
	cJSON_Delete(ev.doc);
}

Test(k8s_event, bad_events_are_refused_naming_the_field)
{
	struct {
		const char *line, *msg;
	} cases[] = {
		{ "[1]", "watch event: the event must be a JSON object, got array" },
		{ "{\"type\":\"RENAMED\",\"object\":{}}", "type: must be one of" },
		{ "{\"type\":\"ADDED\"}", "object: missing required field" },
		{ "{\"type\":\"ADDED\",\"object\":[]}", "object" },
		{ "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Pod\"}}", "ERROR without a Status" },
		{ "{\"type\":\"ADDED\",\"object\":{}", "cannot decode JSON" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ky_k8s_event ev = { 0 };
		struct ky_error *e = NULL;
		cr_assert_eq(ky_k8s_event_parse(cases[i].line, strlen(cases[i].line), &ev, &e), -EINVAL, "%s",
			     cases[i].line);
		cr_assert(strstr(ky_error_msg(e), cases[i].msg), "%s: %s", cases[i].line, ky_error_msg(e));
		cr_assert_null(ev.doc);
		ky_error_free(e);
	}
}

/* ---- the reflector's index (k8s_index.c) ---- */

struct heard {
	char log[1024];
};

static void heard_add(struct heard *h, const char *what, const char *ns, const char *name)
{
	size_t n = strlen(h->log);
	snprintf(h->log + n, sizeof(h->log) - n, "%s %s%s%s;", what, ns ? ns : "", ns ? "|" : "", name);
}

static void heard_added(void *u, const cJSON *obj)
{
	heard_add(u, "added", ky_k8s_object_namespace(obj), ky_k8s_object_name(obj));
}

static void heard_modified(void *u, const cJSON *obj)
{
	heard_add(u, "modified", ky_k8s_object_namespace(obj), ky_k8s_object_name(obj));
}

static void heard_deleted(void *u, const char *ns, const char *name, const cJSON *obj)
{
	heard_add(u, obj ? "deleted" : "gone", ns, name);
}

static const struct ky_k8s_index_ops heard_ops = { .added = heard_added, .modified = heard_modified,
						   .deleted = heard_deleted };

/* Reads a page and applies it: begin when asked, end when it is the last. */
static int apply_page(struct ky_k8s_index *idx, const char *json, bool begin)
{
	cJSON *body = parse(json);
	struct ky_k8s_list_page page;
	struct ky_error *e = NULL;
	int r = ky_k8s_list_page_read(body, "resourceslices", &page, &e);
	if (r == 0) {
		if (begin)
			ky_k8s_index_list_begin(idx);
		r = ky_k8s_index_list_page(idx, &page);
		if (r == 0 && !page.cont)
			ky_k8s_index_list_end(idx);
	} else {
		cr_assert(strstr(ky_error_msg(e), "list resourceslices: no items or no metadata.resourceVersion"),
			  "%s", ky_error_msg(e));
	}
	ky_error_free(e);
	cJSON_Delete(body);
	return r;
}

Test(k8s_index, pages_and_events_turn_into_added_modified_deleted)
{
	struct heard h = { 0 };
	_cleanup_(ky_k8s_index_freep) struct ky_k8s_index *idx = NULL;
	cr_assert_eq(ky_k8s_index_new("resourceslices", &heard_ops, &h, &idx, NULL), 0);
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"5\",\"continue\":\"t1\"},\"items\":["
				      "{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"3\"}},"
				      "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"resourceVersion\":\"4\"}}]}",
			       true), 0);
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":["
				      "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"5\"}}]}", false), 0);
	cr_assert_str_eq(h.log, "added c;added ns|a;added b;");
	cr_assert_eq(ky_k8s_index_count(idx), 3);
	const char *key, *rv;
	ky_k8s_index_at(idx, 0, &key, &rv);
	cr_assert_str_eq(key, "b");
	ky_k8s_index_at(idx, 2, &key, &rv);
	cr_assert_str_eq(key, "ns/a");
	cr_assert_str_eq(rv, "4");

	/* A new list: the same version is no change, a new one is; what it
	 * does not name is gone. */
	h.log[0] = '\0';
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":["
				      "{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"3\"}},"
				      "{\"metadata\":{\"name\":\"b\",\"resourceVersion\":\"8\"}}]}", true), 0);
	cr_assert_str_eq(h.log, "modified b;gone ns|a;");
	cr_assert(ky_k8s_index_has(idx, NULL, "c"));
	cr_assert_not(ky_k8s_index_has(idx, "ns", "a"));

	/* Watch events: deleted only what it holds. */
	h.log[0] = '\0';
	cJSON *ev = parse("{\"metadata\":{\"name\":\"c\",\"resourceVersion\":\"10\"}}");
	cJSON *other = parse("{\"metadata\":{\"name\":\"c\",\"namespace\":\"x\"}}");
	ky_k8s_index_delete(idx, other);
	ky_k8s_index_delete(idx, ev);
	ky_k8s_index_delete(idx, ev);
	cr_assert_eq(ky_k8s_index_upsert(idx, other), 0);
	cr_assert_str_eq(h.log, "deleted c;added x|c;");
	cJSON_Delete(ev);
	cJSON_Delete(other);
}

Test(k8s_index, a_page_without_items_or_version_is_refused_and_changes_nothing)
{
	struct heard h = { 0 };
	_cleanup_(ky_k8s_index_freep) struct ky_k8s_index *idx = NULL;
	cr_assert_eq(ky_k8s_index_new("resourceslices", &heard_ops, &h, &idx, NULL), 0);
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":["
				      "{\"metadata\":{\"name\":\"a\"}}]}", true), 0);
	h.log[0] = '\0';
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"2\"}}", true), -EPROTO);
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"\"},\"items\":[]}", true), -EPROTO);
	cr_assert_eq(apply_page(idx, "{\"items\":[],\"metadata\":{\"resourceVersion\":2}}", true), -EPROTO);
	cr_assert_eq(apply_page(idx, "{\"kind\":\"Status\",\"code\":410}", true), -EPROTO);
	cr_assert_str_eq(h.log, "");
	cr_assert(ky_k8s_index_has(idx, NULL, "a"));
}

/* Found by fuzz_k8s_list: "node-a/slice" of the cluster and "slice" of a
 * namespace "node-a" were one key, and the first was reported deleted as
 * the second. A Kubernetes name is one path segment: such objects are
 * skipped, and never deleted in another's name. */
Test(k8s_index, a_name_or_namespace_with_a_slash_is_no_object)
{
	struct heard h = { 0 };
	_cleanup_(ky_k8s_index_freep) struct ky_k8s_index *idx = NULL;
	cr_assert_eq(ky_k8s_index_new("resourceslices", &heard_ops, &h, &idx, NULL), 0);
	cr_assert_eq(apply_page(idx, "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":["
				      "{\"metadata\":{\"name\":\"slice\",\"namespace\":\"node-a\"}},"
				      "{\"metadata\":{\"name\":\"node-a/slice\"}},"
				      "{\"metadata\":{\"name\":\"s\",\"namespace\":\"a/b\"}}]}", true), 0);
	cr_assert_str_eq(h.log, "added node-a|slice;");
	cr_assert_eq(ky_k8s_index_count(idx), 1);
	cr_assert_not(ky_k8s_index_has(idx, NULL, "node-a/slice"));
	cJSON *ev = parse("{\"metadata\":{\"name\":\"node-a/slice\"}}");
	ky_k8s_index_delete(idx, ev);
	cJSON_Delete(ev);
	cr_assert_eq(ky_k8s_index_count(idx), 1);
	cr_assert_str_eq(h.log, "added node-a|slice;");
}

/* ---- backoff ---- */

Test(k8s_backoff, doubles_with_jitter_up_to_the_cap_and_resets)
{
	struct ky_k8s_backoff b;
	ky_k8s_backoff_init(&b, 100, 30000, 42);
	uint32_t ceil = 100;
	for (int i = 0; i < 20; i++) {
		uint32_t d = ky_k8s_backoff_next(&b);
		cr_assert(d >= ceil / 2 && d <= ceil, "step %d: %u not in [%u, %u]", i, d, ceil / 2, ceil);
		ceil = ceil * 2 > 30000 ? 30000 : ceil * 2;
	}
	cr_assert_eq(b.next_ms, 30000);
	ky_k8s_backoff_reset(&b);
	cr_assert_leq(ky_k8s_backoff_next(&b), 100);
}

Test(k8s_backoff, jitter_spreads_nodes_apart)
{
	/* Two nodes seeded differently do not retry in step. */
	struct ky_k8s_backoff a, b;
	ky_k8s_backoff_init(&a, 1000, 30000, 1);
	ky_k8s_backoff_init(&b, 1000, 30000, 2);
	int same = 0;
	for (int i = 0; i < 10; i++)
		same += ky_k8s_backoff_next(&a) == ky_k8s_backoff_next(&b);
	cr_assert_lt(same, 3);
	/* Defaults. */
	ky_k8s_backoff_init(&a, 0, 0, 0);
	cr_assert_eq(a.initial_ms, 100);
	cr_assert_eq(a.max_ms, 30000);
	cr_assert_neq(a.rng, 0);
}

/* ---- configuration and the token ---- */

Test(k8s_config, plain_http_is_refused_with_a_token)
{
	struct ky_k8s_config *cfg = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_config_new("http://10.0.0.1:8080", "/run/token", NULL, &cfg, &e), -EINVAL);
	cr_assert_null(cfg);
	cr_assert(strstr(ky_error_msg(e), "refusing plain http with a bearer token"), "%s", ky_error_msg(e));
	ky_error_free(e);
	/* Without a token (a local proxy such as kubectl proxy) it is allowed. */
	cr_assert_eq(ky_k8s_config_new("http://127.0.0.1:8001/", NULL, NULL, &cfg, NULL), 0);
	cr_assert_str_eq(cfg->server, "http://127.0.0.1:8001");
	ky_k8s_config_free(cfg);
}

Test(k8s_config, bad_urls_are_refused)
{
	const char *bad[] = { "ftp://x", "https://", "https://u:p@host", "https://h/x?y=1", "https://h x", "host:443" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct ky_k8s_config *cfg = NULL;
		struct ky_error *e = NULL;
		cr_assert_eq(ky_k8s_config_new(bad[i], NULL, NULL, &cfg, &e), -EINVAL, "%s", bad[i]);
		cr_assert(strstr(ky_error_msg(e), "API server URL"), "%s", ky_error_msg(e));
		ky_error_free(e);
	}
	struct ky_k8s_config *cfg = NULL;
	cr_assert_eq(ky_k8s_config_new("https://rancher.example/k8s/clusters/c-1", "t", "ca", &cfg, NULL), 0);
	cr_assert_eq(cfg->token_max_age_ms, 60000);
	ky_k8s_config_free(cfg);
}

Test(k8s_config, in_cluster_reads_the_service_environment)
{
	struct ky_k8s_config *cfg = NULL;
	struct ky_error *e = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	cr_assert_eq(ky_k8s_config_in_cluster(NULL, &cfg, &e), -ENOENT);
	cr_assert(strstr(ky_error_msg(e), "not in a cluster"), "%s", ky_error_msg(e));
	ky_error_free(e);
	setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	cr_assert_eq(ky_k8s_config_in_cluster(NULL, &cfg, NULL), 0);
	cr_assert_str_eq(cfg->server, "https://10.96.0.1:443");
	cr_assert_str_eq(cfg->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	cr_assert_str_eq(cfg->ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	ky_k8s_config_free(cfg);
	setenv("KUBERNETES_SERVICE_HOST", "fd00:10:96::1", 1);
	cr_assert_eq(ky_k8s_config_in_cluster("/sa", &cfg, NULL), 0);
	cr_assert_str_eq(cfg->server, "https://[fd00:10:96::1]:443");
	cr_assert_str_eq(cfg->token_file, "/sa/token");
	ky_k8s_config_free(cfg);
}

Test(k8s_config, token_file_is_trimmed_and_checked)
{
	char *dir = kyt_tmpdir("kytok");
	char path[512];
	snprintf(path, sizeof(path), "%s/token", dir);
	char *tok = NULL;
	struct ky_error *e = NULL;
	cr_assert_eq(ky_k8s_token_read(path, &tok, &e), -ENOENT);
	cr_assert(strstr(ky_error_msg(e), path));
	ky_error_clear(&e);
	kyt_write_file(path, "  eyJhbGciOi.abc.def\n");
	cr_assert_eq(ky_k8s_token_read(path, &tok, NULL), 0);
	cr_assert_str_eq(tok, "eyJhbGciOi.abc.def");
	free(tok);
	kyt_write_file(path, "\n\n");
	cr_assert_eq(ky_k8s_token_read(path, &tok, &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "empty"));
	ky_error_clear(&e);
	/* A newline inside would split the Authorization header. */
	kyt_write_file(path, "abc\r\nX-Injected: 1\n");
	cr_assert_eq(ky_k8s_token_read(path, &tok, &e), -EINVAL);
	cr_assert(strstr(ky_error_msg(e), "control character"), "%s", ky_error_msg(e));
	cr_assert_null(strstr(ky_error_msg(e), "abc"), "the token leaked into a message: %s", ky_error_msg(e));
	ky_error_clear(&e);
	kyt_rmrf(dir);
	free(dir);
}
