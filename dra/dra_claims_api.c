/* The API server as the claim source: GET
 * /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME with the
 * in-cluster config, or --api-server, --token-file and --ca-file.
 *
 * NOT YET: the core's Kubernetes client (common/src/k8s, branch wip-k8s) has
 * not landed, and this binary links no HTTP client. Until it does, every
 * get fails with UNAVAILABLE naming why, and tests use the stand-in
 * (dra_claims_file.c, --claims-dir). The switch is this file alone: keep a
 * ky_k8s_client (ky_k8s_client_new over ky_k8s_config_in_cluster or
 * ky_k8s_config_new(opts->api_server, opts->token_file, opts->ca_file)) in
 * the source, start a ky_k8s_request (KY_K8S_GET, the path from ky_k8s_path
 * with resource {"resource.k8s.io", "v1", "resourceclaims"}, get->ns,
 * get->name) in start(), cancel it in cancel(), and hand its body (or its
 * error: a 404 is -ENOENT) to dra_claim_get_fetched() in its callback. */
#include "dra_claims.h"

#include <errno.h>
#include <stdlib.h>

#include "dra.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/loop/loop.h"

struct api_source {
	struct dra_claim_source base;
	struct ky_loop *loop;
};

static void on_timer(struct ky_loop_timer *t, void *userdata)
{
	struct dra_claim_get *g = userdata;
	_cleanup_error_ struct ky_error *err = NULL;
	g->impl = NULL;
	ky_loop_timer_free(t);
	ky_error_set(&err, EAGAIN, "no Kubernetes API client in this build yet (the driver reads claims only with "
				   "--claims-dir, for tests)");
	dra_claim_get_fetched(g, NULL, err);
}

static int api_start(struct dra_claim_source *src, struct dra_claim_get *g, struct ky_error **err)
{
	struct api_source *as = (struct api_source *)src;
	struct ky_loop_timer *t = NULL;
	int r = ky_loop_timer_new(as->loop, on_timer, g, &t, err);
	if (r < 0)
		return r;
	ky_loop_timer_arm(t, 0, 0);
	g->impl = t;
	return 0;
}

static void api_cancel(struct dra_claim_source *src, struct dra_claim_get *g)
{
	(void)src;
	ky_loop_timer_free(g->impl);
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

int dra_claims_api_new(struct ky_loop *loop, const struct dra_options *opts, struct dra_claim_source **out,
		       struct ky_error **err)
{
	struct api_source *as = calloc(1, sizeof(*as));
	(void)opts;
	if (!as)
		return ky_error_set(err, ENOMEM, "out of memory");
	as->base.ops = &api_ops;
	as->loop = loop;
	*out = &as->base;
	return 0;
}
