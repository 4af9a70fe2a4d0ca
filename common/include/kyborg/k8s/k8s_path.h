/* Request paths of the Kubernetes API: a resource's collection or one
 * object, with a query whose values are percent-encoded (pure). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

struct ky_error;

/* A resource type: group "" is the core group (/api/v1/...), any other is
 * /apis/<group>/<version>/... */
struct ky_k8s_resource {
	const char *group;    /* "resource.k8s.io", or "" */
	const char *version;  /* "v1" */
	const char *resource; /* plural, lower case: "resourceslices" */
};

/* The query parameters the client uses; NULL or 0 leaves one out. */
struct ky_k8s_query {
	const char *field_selector;   /* "spec.nodeName=n1,spec.driver=kyborg.io" */
	const char *label_selector;
	const char *resource_version;
	const char *resource_version_match; /* "NotOlderThan", "Exact" */
	const char *continue_token;
	uint32_t limit;
	uint32_t timeout_seconds;
	bool watch;
	bool allow_watch_bookmarks;
	const char *dry_run;          /* "All" */
	const char *field_manager;
};

/* s with every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~)
 * written as %XX, into a malloc'd *out. 0 or -ENOMEM. */
int ky_k8s_escape(const char *s, char **out);

/* Builds "/apis/<group>/<version>[/namespaces/<ns>]/<resource>[/<name>[/<sub>]]"
 * and the query, into a malloc'd *out. ns and name may be NULL (a
 * cluster-scoped resource, a collection), subresource too ("status").
 * Every segment is checked (non-empty, no '/', not "." or "..", no control
 * character, at most 253 bytes) and escaped; -EINVAL names the segment:
 * "name \"a/b\": must not contain '/'". */
int ky_k8s_path(const struct ky_k8s_resource *res, const char *ns, const char *name, const char *subresource,
		const struct ky_k8s_query *q, char **out, struct ky_error **err);
