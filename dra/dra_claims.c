/* A claim's allocation, whatever the source (dra_claims.h): kubelet's
 * claim reference checked, the ResourceClaim object read (the UID check
 * and status.allocation.devices), and the gets in flight. */
#include "dra_claims.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/list.h"
#include "kyborg/json/json.h"

void dra_claim_alloc_free(struct dra_claim_alloc *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++) {
		free(a->results[i].request);
		free(a->results[i].driver);
		free(a->results[i].pool);
		free(a->results[i].device);
		free(a->results[i].share_id);
		cJSON_Delete(a->results[i].consumed_capacity);
	}
	free(a->results);
	cJSON_Delete(a->config);
	free(a);
}
KY_DEFINE_CLEANUP(struct dra_claim_alloc, dra_claim_alloc_free)

static const cJSON *child(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static int take_str(const cJSON *o, const char *k, size_t i, bool required, char **out, struct ky_error **err)
{
	const cJSON *v = child(o, k);
	if (!v && !required) {
		*out = NULL;
		return 0;
	}
	if (!cJSON_IsString(v) || (required && !*v->valuestring))
		return ky_error_set(err, EINVAL, "status.allocation.devices.results[%zu].%s: missing or not a string", i, k);
	if (!(*out = strdup(v->valuestring)))
		return ky_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int dra_claim_parse(const cJSON *claim, const char *ns, const char *name, const char *uid,
		    struct dra_claim_alloc **out, struct ky_error **err)
{
	_cleanup_(dra_claim_alloc_freep) struct dra_claim_alloc *a = NULL;
	if (!cJSON_IsObject(claim))
		return ky_error_set(err, EINVAL, "claim %s/%s: the API answered no object", ns, name);
	const char *got = cJSON_GetStringValue(child(child(claim, "metadata"), "uid"));
	if (!got || strcmp(got, uid) != 0)
		return ky_error_set(err, ESTALE, "claim %s/%s got replaced: UID %s, not %s", ns, name, got ? got : "(none)",
				    uid);
	const cJSON *alloc = child(child(claim, "status"), "allocation");
	if (!cJSON_IsObject(alloc))
		return ky_error_set(err, EINVAL, "claim %s/%s is not allocated", ns, name);
	const cJSON *devices = child(alloc, "devices"), *results = child(devices, "results"), *r;
	if (results && !cJSON_IsArray(results))
		return ky_error_set(err, EINVAL, "claim %s/%s: status.allocation.devices.results: not an array", ns, name);
	if (!(a = calloc(1, sizeof(*a))) ||
	    !(a->results = calloc((size_t)cJSON_GetArraySize(results) + 1, sizeof(*a->results))))
		return ky_error_set(err, ENOMEM, "out of memory");
	int k;
	cJSON_ArrayForEach(r, results)
	{
		struct dra_claim_result *res = &a->results[a->n];
		size_t i = a->n++;
		if (!cJSON_IsObject(r))
			return ky_error_set(err, EINVAL, "claim %s/%s: status.allocation.devices.results[%zu]: not an object",
					    ns, name, i);
		if ((k = take_str(r, "request", i, true, &res->request, err)) < 0 ||
		    (k = take_str(r, "driver", i, true, &res->driver, err)) < 0 ||
		    (k = take_str(r, "pool", i, true, &res->pool, err)) < 0 ||
		    (k = take_str(r, "device", i, true, &res->device, err)) < 0 ||
		    (k = take_str(r, "shareID", i, false, &res->share_id, err)) < 0)
			return ky_error_prefix(err, "claim %s/%s", ns, name);
		const cJSON *cap = child(r, "consumedCapacity");
		if (cap && !(res->consumed_capacity = cJSON_Duplicate(cap, true)))
			return ky_error_set(err, ENOMEM, "out of memory");
	}
	const cJSON *config = child(devices, "config");
	if (config && !(a->config = cJSON_Duplicate(config, true)))
		return ky_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(a);
	return 0;
}

/* RFC 1123 label (upto 63) or subdomain (labels joined by dots, up to 253). */
static bool dns_name(const char *s, size_t max, bool dots)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0, label = 0; i < n; i++) {
		char c = s[i];
		if (c == '.' && dots) {
			if (label == 0 || s[i - 1] == '-' || i + 1 == n || s[i + 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '-'))
			return false;
		if (++label > 63 || (label == 1 && c == '-'))
			return false;
	}
	return s[n - 1] != '-';
}

const char *dra_claim_ref_problem(const char *ns, const char *name, const char *uid, char *buf, size_t size)
{
	/* kubelet's strings quoted, escaped and cut at most 64 bytes in, never
	 * inside a character: the refusal is a proto3 string of the answer, and
	 * grpc-go refuses a whole message holding invalid UTF-8 (fuzz finding
	 * F5: "%.64s" cut a character in two). */
	char q[72];
	if (!dns_name(ns, 63, false)) {
		snprintf(buf, size, "namespace %s: must be a DNS label", ky_json_quote(ns, q, sizeof(q)));
		return buf;
	}
	if (!dns_name(name, 253, true)) {
		snprintf(buf, size, "name %s: must be a DNS subdomain", ky_json_quote(name, q, sizeof(q)));
		return buf;
	}
	size_t n = uid ? strlen(uid) : 0;
	bool ok = n > 0 && n <= 128 && isalnum((unsigned char)uid[0]);
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)uid[i]) || uid[i] == '-';
	if (!ok) {
		snprintf(buf, size, "uid %s: must be 1 to 128 letters, digits and '-'", ky_json_quote(uid, q, sizeof(q)));
		return buf;
	}
	return NULL;
}

/* ---- gets in flight ---- */

static void get_free(struct dra_claim_get *g)
{
	KY_LIST_REMOVE(g->src->gets, g);
	free(g->ns);
	free(g->name);
	free(g->uid);
	free(g);
}

int dra_claim_get(struct dra_claim_source *src, const char *ns, const char *name, const char *uid,
		  dra_claim_done_fn done, void *userdata, struct dra_claim_get **out, struct ky_error **err)
{
	struct dra_claim_get *g = calloc(1, sizeof(*g));
	if (!g)
		return ky_error_set(err, ENOMEM, "out of memory");
	*g = (struct dra_claim_get){ .src = src, .done = done, .userdata = userdata };
	KY_LIST_PREPEND(src->gets, g);
	if (!(g->ns = strdup(ns)) || !(g->name = strdup(name)) || !(g->uid = strdup(uid))) {
		get_free(g);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	int r = src->ops->start(src, g, err);
	if (r < 0) {
		get_free(g);
		return r;
	}
	if (out)
		*out = g;
	return 0;
}

void dra_claim_get_cancel(struct dra_claim_get *g)
{
	if (!g)
		return;
	g->src->ops->cancel(g->src, g);
	get_free(g);
}

void dra_claim_get_fetched(struct dra_claim_get *g, const cJSON *claim, const struct ky_error *err)
{
	_cleanup_error_ struct ky_error *perr = NULL;
	struct dra_claim_alloc *a = NULL;
	if (!claim) {
		ky_error_set(&perr, err ? ky_error_code(err) : EIO, "read claim %s/%s: %s", g->ns, g->name,
			     err ? ky_error_msg(err) : "no answer");
	} else {
		dra_claim_parse(claim, g->ns, g->name, g->uid, &a, &perr);
	}
	dra_claim_done_fn done = g->done;
	void *userdata = g->userdata;
	get_free(g);
	done(userdata, a, a ? NULL : perr);
}

void dra_claim_source_free(struct dra_claim_source *src)
{
	if (!src)
		return;
	while (src->gets)
		dra_claim_get_cancel(src->gets);
	src->ops->free(src);
}
