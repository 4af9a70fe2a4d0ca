/* Where a claim's allocation comes from. Kubelet sends only a claim's
 * namespace, name and UID; the driver reads the ResourceClaim
 * (status.allocation.devices) from the API server. A claim source fetches
 * the object, asynchronously on the loop; what it means (the UID check,
 * the allocation results) is read here, once, for every source.
 *
 * Sources: dra_claims_api.c (the API server, through the core's Kubernetes
 * client), dra_claims_file.c (a stand-in for tests: objects from files).
 * The daemon picks one at start. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

struct ky_error;
struct ky_k8s_client;
struct ky_loop;

/* One entry of status.allocation.devices.results. */
struct dra_claim_result {
	char *request;  /* "gpu" or "nic/fast" */
	char *driver;
	char *pool;
	char *device;
	char *share_id; /* NULL when the allocation has none */
	cJSON *consumed_capacity; /* NULL when none */
};

struct dra_claim_alloc {
	struct dra_claim_result *results; /* every driver's, in the claim's order */
	size_t n;
	cJSON *config; /* status.allocation.devices.config (opaque configs), NULL when none */
};
void dra_claim_alloc_free(struct dra_claim_alloc *a);

/* Reads a ResourceClaim object (pure): its metadata.uid must be uid
 * ("claim NS/NAME got replaced: UID X, not Y"), it must be allocated
 * ("claim NS/NAME is not allocated"), and every result must have the
 * fields it must ("status.allocation.devices.results[1].device: missing
 * or not a string"). -EINVAL (-ESTALE for a replaced claim). */
int dra_claim_parse(const cJSON *claim, const char *ns, const char *name, const char *uid,
		    struct dra_claim_alloc **out, struct ky_error **err);

/* Whether kubelet's claim reference can name a claim: a namespace is a DNS
 * label, a name a DNS subdomain, the UID 1 to 128 of [A-Za-z0-9-]
 * starting alphanumeric (it becomes a checkpoint key and part of CDI
 * names). NULL, or what is wrong ("uid \"a/b\": ..."). */
const char *dra_claim_ref_problem(const char *ns, const char *name, const char *uid, char *buf, size_t size);

/* ---- a source, and gets in flight ---- */

struct dra_claim_source;
struct dra_claim_get;

/* The claim's allocation, or why there is none. Called once, from the
 * loop, never from inside dra_claim_get(); alloc is the callback's to free. */
typedef void (*dra_claim_done_fn)(void *userdata, struct dra_claim_alloc *alloc, const struct ky_error *err);

struct dra_claim_source_ops {
	const char *name; /* in logs */
	/* Starts fetching get->ns/get->name; the answer comes through
	 * dra_claim_get_fetched(), later, from the loop. get->impl is the
	 * source's. */
	int (*start)(struct dra_claim_source *src, struct dra_claim_get *get, struct ky_error **err);
	/* Stops a fetch in flight: dra_claim_get_fetched() must not follow. */
	void (*cancel)(struct dra_claim_source *src, struct dra_claim_get *get);
	void (*free)(struct dra_claim_source *src);
};

struct dra_claim_source {
	const struct dra_claim_source_ops *ops;
	struct dra_claim_get *gets; /* in flight */
};

struct dra_claim_get {
	struct dra_claim_source *src;
	char *ns, *name, *uid;
	dra_claim_done_fn done;
	void *userdata;
	void *impl;
	struct dra_claim_get *prev, *next;
};

/* Starts reading the claim's allocation. */
int dra_claim_get(struct dra_claim_source *src, const char *ns, const char *name, const char *uid,
		  dra_claim_done_fn done, void *userdata, struct dra_claim_get **out, struct ky_error **err);
/* Forgets a get in flight: its callback does not run. */
void dra_claim_get_cancel(struct dra_claim_get *get);
/* Cancels every get in flight, then frees the source (NULL is fine). */
void dra_claim_source_free(struct dra_claim_source *src);

/* For sources: the ResourceClaim object fetched (NULL with why in err: not
 * found is -ENOENT). Parses it, calls the get's callback and frees it. */
void dra_claim_get_fetched(struct dra_claim_get *get, const cJSON *claim, const struct ky_error *err);

/* ---- the sources ---- */

/* dra_claims_api.c: GET /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME
 * through client (borrowed: it must outlive the source). */
int dra_claims_api_new(struct ky_k8s_client *client, struct dra_claim_source **out, struct ky_error **err);
/* dra_claims_file.c: a stand-in for tests (--claims-dir), the object as
 * the API server would answer it, from <dir>/<ns>/<name>.json. */
int dra_claims_file_new(struct ky_loop *loop, const char *dir, struct dra_claim_source **out, struct ky_error **err);
