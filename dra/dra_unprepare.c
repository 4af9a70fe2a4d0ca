/* NodeUnprepareResources (dra v1 and v1beta1): each claim undone from the
 * checkpoint alone (the claim may be gone from the API server, the driver
 * restarted since): its CDI spec removed (fault point
 * dra-unprepare-cdi-removed), what its VfConfigs changed put back from the
 * record's journal (dra_claimcfg_undo; dra-unprepare-vf-restored), then
 * its record. A claim with no record has nothing left to undo: success, so
 * it is idempotent, and a kill between the steps is finished by the next
 * call; a VF that cannot be put back fails the claim and keeps the record
 * for kubelet's retry. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dra_proto.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/log.h"

/* 0, or the claim's error in *why (malloc'd). */
static int unprepare_claim(struct dra_daemon *d, const dra_pb_claim *c, char **why)
{
	_cleanup_error_ struct ky_error *err = NULL;
	char buf[256];
	const char *problem = dra_claim_ref_problem(c->namespace_, c->name, c->uid, buf, sizeof(buf));
	if (problem)
		return asprintf(why, "claim %s", problem) < 0 ? -ENOMEM : -EINVAL;
	if (dra_prepare_busy(d, c->uid))
		return asprintf(why, "claim %s/%s is being prepared; retry", c->namespace_, c->name) < 0 ? -ENOMEM
													 : -EBUSY;
	const struct ky_dra_record *rec = dra_checkpoint_find(d, c->uid);
	size_t n = rec ? rec->n_devices : 0;
	bool replicas = dra_record_names_replicas(rec);
	if (dra_cdi_remove(d, rec ? rec->cdi_spec : NULL, c->uid, &err) < 0)
		return asprintf(why, "claim %s/%s: %s", c->namespace_, c->name, ky_error_msg(err)) < 0 ? -ENOMEM : -EIO;
	ky_fault_point("dra-unprepare-cdi-removed");
	if (rec && dra_claimcfg_undo(d, rec, &err) < 0)
		return asprintf(why, "claim %s/%s: %s", c->namespace_, c->name, ky_error_msg(err)) < 0 ? -ENOMEM : -EIO;
	if (dra_checkpoint_delete(d, c->uid, &err) < 0)
		return asprintf(why, "claim %s/%s: %s", c->namespace_, c->name, ky_error_msg(err)) < 0 ? -ENOMEM : -EIO;
	if (replicas)
		dra_health_broadcast(d);
	ky_info("claim-unprepared", "claim=%s/%s uid=%s devices=%zu%s", c->namespace_, c->name, c->uid, n,
		rec ? "" : " note=\"nothing recorded\"");
	return 0;
}

static int unprepare(void *userdata, const uint8_t *req, size_t req_len, uint8_t **resp, size_t *resp_len,
		     struct ky_error **err)
{
	struct dra_daemon *d = userdata;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	dra_pb_unprepare_req *r = k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__unpack(
		NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode NodeUnprepareResourcesRequest");
	size_t n = r->n_claims;
	dra_pb_unprepare_entry *entries = calloc(n + 1, sizeof(*entries));
	dra_pb_unprepare_entry **entryp = calloc(n + 1, sizeof(*entryp));
	dra_pb_unprepare_claim *claims = calloc(n + 1, sizeof(*claims));
	char **whys = calloc(n + 1, sizeof(*whys));
	int k = entries && entryp && claims && whys ? 0 : ky_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; k == 0 && i < n; i++) {
		const dra_pb_claim *c = r->claims[i];
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__claims_entry__init(&entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resource_response__init(&claims[i]);
		entries[i].key = c->uid;
		entries[i].value = &claims[i];
		entryp[i] = &entries[i];
		if (unprepare_claim(d, c, &whys[i]) < 0) {
			char q[512];
			claims[i].error = whys[i] ? whys[i] : "out of memory";
			ky_warn("unprepare-failed", "claim=%s/%s uid=%s error=%s", c->namespace_, c->name, c->uid,
				ky_log_quote(claims[i].error, q, sizeof(q)));
		}
	}
	if (k == 0) {
		dra_pb_unprepare_resp out = K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_UNPREPARE_RESOURCES_RESPONSE__INIT;
		out.n_claims = n;
		out.claims = entryp;
		*resp_len = protobuf_c_message_get_packed_size(&out.base);
		if (!(*resp = malloc(*resp_len ? *resp_len : 1)))
			k = ky_error_set(err, ENOMEM, "out of memory");
		else
			protobuf_c_message_pack(&out.base, *resp);
	}
	size_t failed = 0;
	for (size_t i = 0; whys && i < n; i++) {
		failed += whys[i] != NULL;
		free(whys[i]);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ky_info("unprepare", "claims=%zu failed=%zu dur_us=%lld", n, failed,
		(long long)((t1.tv_sec - t0.tv_sec) * 1000000LL + (t1.tv_nsec - t0.tv_nsec) / 1000));
	free(whys);
	free(entries);
	free(entryp);
	free(claims);
	k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__free_unpacked(r, NULL);
	return k;
}

void dra_unprepare_methods(struct dra_daemon *d, struct ky_grpc_method *v1, struct ky_grpc_method *v1beta1)
{
	/* The request and answer are the same messages in both packages. */
	*v1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1 "NodeUnprepareResources", .unary = unprepare,
				       .userdata = d };
	*v1beta1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1BETA1 "NodeUnprepareResources", .unary = unprepare,
					    .userdata = d };
}
