/* Request paths: resource, namespace and name segments checked and
 * escaped, query values percent-encoded. */
#include "kyborg/k8s/k8s_path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"

/* The longest name the API accepts (a DNS subdomain). */
#define SEGMENT_MAX 253

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
	       c == '_' || c == '~';
}

/* A growing string; `failed` sticks after the first allocation failure. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->s, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->s = p;
		b->cap = cap;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_escaped(struct sbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (unreserved(*p)) {
			sb_add(b, (const char *)p, 1);
		} else {
			char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			sb_add(b, e, 3);
		}
	}
}

int ky_k8s_escape(const char *s, char **out)
{
	struct sbuf b = { 0 };
	sb_str(&b, "");
	sb_escaped(&b, s);
	if (b.failed) {
		free(b.s);
		return -ENOMEM;
	}
	*out = b.s;
	return 0;
}

static int check_segment(const char *what, const char *s, struct ky_error **err)
{
	if (!s || !*s)
		return ky_error_set(err, EINVAL, "%s: must not be empty", what);
	size_t n = strlen(s);
	if (n > SEGMENT_MAX)
		return ky_error_set(err, EINVAL, "%s: %zu bytes, more than %d", what, n, SEGMENT_MAX);
	/* The name goes into a URL path: "..", '/' or a '%' that the server
	 * decodes would address another object than the one named. */
	if (!strcmp(s, ".") || !strcmp(s, ".."))
		return ky_error_set(err, EINVAL, "%s \"%s\": not a name", what, s);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '/')
			return ky_error_set(err, EINVAL, "%s \"%s\": must not contain '/'", what, s);
		if (*p < 0x20 || *p == 0x7f)
			return ky_error_set(err, EINVAL, "%s: contains control character 0x%02x", what, *p);
	}
	return 0;
}

static void query_param(struct sbuf *b, bool *first, const char *key, const char *value)
{
	sb_str(b, *first ? "?" : "&");
	*first = false;
	sb_str(b, key);
	sb_str(b, "=");
	sb_escaped(b, value);
}

static void query_uint(struct sbuf *b, bool *first, const char *key, uint32_t v)
{
	char num[16];
	snprintf(num, sizeof(num), "%u", v);
	query_param(b, first, key, num);
}

int ky_k8s_path(const struct ky_k8s_resource *res, const char *ns, const char *name, const char *subresource,
		const struct ky_k8s_query *q, char **out, struct ky_error **err)
{
	int r;
	if (res->group && *res->group && (r = check_segment("API group", res->group, err)) < 0)
		return r;
	if ((r = check_segment("API version", res->version, err)) < 0 ||
	    (r = check_segment("resource", res->resource, err)) < 0)
		return r;
	if (ns && (r = check_segment("namespace", ns, err)) < 0)
		return r;
	if (name && (r = check_segment("name", name, err)) < 0)
		return r;
	if (subresource && (r = check_segment("subresource", subresource, err)) < 0)
		return r;
	if (subresource && !name)
		return ky_error_set(err, EINVAL, "subresource %s: needs an object name", subresource);

	struct sbuf b = { 0 };
	if (res->group && *res->group) {
		sb_str(&b, "/apis/");
		sb_escaped(&b, res->group);
	} else {
		sb_str(&b, "/api");
	}
	sb_str(&b, "/");
	sb_escaped(&b, res->version);
	if (ns) {
		sb_str(&b, "/namespaces/");
		sb_escaped(&b, ns);
	}
	sb_str(&b, "/");
	sb_escaped(&b, res->resource);
	if (name) {
		sb_str(&b, "/");
		sb_escaped(&b, name);
	}
	if (subresource) {
		sb_str(&b, "/");
		sb_escaped(&b, subresource);
	}
	if (q) {
		bool first = true;
		if (q->watch)
			query_param(&b, &first, "watch", "1");
		if (q->allow_watch_bookmarks)
			query_param(&b, &first, "allowWatchBookmarks", "true");
		if (q->field_selector)
			query_param(&b, &first, "fieldSelector", q->field_selector);
		if (q->label_selector)
			query_param(&b, &first, "labelSelector", q->label_selector);
		if (q->resource_version)
			query_param(&b, &first, "resourceVersion", q->resource_version);
		if (q->resource_version_match)
			query_param(&b, &first, "resourceVersionMatch", q->resource_version_match);
		if (q->limit)
			query_uint(&b, &first, "limit", q->limit);
		if (q->continue_token)
			query_param(&b, &first, "continue", q->continue_token);
		if (q->timeout_seconds)
			query_uint(&b, &first, "timeoutSeconds", q->timeout_seconds);
		if (q->dry_run)
			query_param(&b, &first, "dryRun", q->dry_run);
		if (q->field_manager)
			query_param(&b, &first, "fieldManager", q->field_manager);
	}
	if (b.failed) {
		free(b.s);
		return ky_error_set(err, ENOMEM, "request path");
	}
	*out = b.s;
	return 0;
}
