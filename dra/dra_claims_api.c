/* The API server as the claim source: GET
 * /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME through the
 * core's Kubernetes client (libcurl multi on the loop: nothing blocks), the
 * daemon's one client, in-cluster or from --api-server, --token-file and
 * --ca-file. The object goes to dra_claims.c, which checks its UID and
 * reads its allocation. A claim the server does not have is its 404
 * (ENOENT, the Status's message); kubelet's 45 s leave room for the
 * request's own deadline. */
#include "dra_claims.h"

#include <errno.h>
#include <stdlib.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/k8s/k8s_client.h"

/* Well inside kubelet's 45 s for NodePrepareResources. */
#define CLAIM_GET_TIMEOUT_MS 15000

static const struct ky_k8s_resource resourceclaims = { "resource.k8s.io", "v1", "resourceclaims" };

struct api_source {
	struct dra_claim_source base;
	struct ky_k8s_client *client; /* the daemon's */
};

static void on_response(void *userdata, struct ky_k8s_response *resp)
{
	struct dra_claim_get *g = userdata;
	g->impl = NULL; /* the request is freed when this returns */
	dra_claim_get_fetched(g, resp->err ? NULL : resp->body, resp->err);
}

static int api_start(struct dra_claim_source *src, struct dra_claim_get *g, struct ky_error **err)
{
	struct api_source *as = (struct api_source *)src;
	_cleanup_free_ char *path = NULL;
	struct ky_k8s_request *r = NULL;
	int k = ky_k8s_path(&resourceclaims, g->ns, g->name, NULL, NULL, &path, err);
	if (k < 0)
		return ky_error_prefix(err, "claim %s/%s", g->ns, g->name);
	struct ky_k8s_req req = { .method = KY_K8S_GET, .path = path, .timeout_ms = CLAIM_GET_TIMEOUT_MS,
				  .done = on_response, .userdata = g };
	if ((k = ky_k8s_request(as->client, &req, &r, err)) < 0)
		return ky_error_prefix(err, "read claim %s/%s", g->ns, g->name);
	g->impl = r;
	return 0;
}

static void api_cancel(struct dra_claim_source *src, struct dra_claim_get *g)
{
	(void)src;
	ky_k8s_request_cancel(g->impl);
	g->impl = NULL;
}

static void api_free(struct dra_claim_source *src)
{
	free(src);
}

static const struct dra_claim_source_ops api_ops = {
	.name = "api",
	.start = api_start,
	.cancel = api_cancel,
	.free = api_free,
};

int dra_claims_api_new(struct ky_k8s_client *client, struct dra_claim_source **out, struct ky_error **err)
{
	struct api_source *as = calloc(1, sizeof(*as));
	if (!as)
		return ky_error_set(err, ENOMEM, "out of memory");
	as->base.ops = &api_ops;
	as->client = client;
	*out = &as->base;
	return 0;
}
