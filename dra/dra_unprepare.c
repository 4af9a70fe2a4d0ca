/* NodeUnprepareResources (dra v1 and v1beta1): each claim undone from the
 * checkpoint alone (the claim may be gone from the API server, the driver
 * restarted since): its CDI spec removed (fault point
 * dra-unprepare-cdi-removed), what its VfConfigs changed put back from the
 * record's journal (dra_claimcfg_undo, a driver in a child on the loop;
 * dra-unprepare-vf-restored), then its record. A claim with no record has
 * nothing left to undo: success, so it is idempotent, and a kill between
 * the steps is finished by the next call; a VF that cannot be put back
 * fails the claim and keeps the record for kubelet's retry. Like Prepare,
 * the call is served as a stream that sends its one answer when every
 * claim is done, within kubelet's 45 s. */
#include "dra_call.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "dra_proto.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/log.h"

/* One claim of a call. */
struct dra_unop {
	struct dra_call_op base; /* first: the call's ops are dra_unops */
	struct dra_vf_job *vf;   /* its VFs being put back */
	size_t n;                /* devices its record named */
	bool recorded, replicas;
};
_Static_assert(offsetof(struct dra_unop, base) == 0, "the call's op comes first");

static void op_free(struct dra_call_op *base)
{
	dra_vf_job_free(((struct dra_unop *)base)->vf); /* a rebind under way finishes on its own */
}

static int pack_answer(const struct dra_call *c, uint8_t **out, size_t *len)
{
	size_t n = c->n;
	_cleanup_free_ dra_pb_unprepare_entry *entries = calloc(n + 1, sizeof(*entries));
	_cleanup_free_ dra_pb_unprepare_entry **entryp = calloc(n + 1, sizeof(*entryp));
	_cleanup_free_ dra_pb_unprepare_claim *claims = calloc(n + 1, sizeof(*claims));
	if (!entries || !entryp || !claims)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct dra_call_op *op = dra_call_op_at(c, i);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_response__claims_entry__init(&entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resource_response__init(&claims[i]);
		entries[i].key = op->uid ? op->uid : "";
		entries[i].value = &claims[i];
		entryp[i] = &entries[i];
		if (op->failed)
			claims[i].error = op->error ? op->error : "out of memory";
	}
	dra_pb_unprepare_resp r = K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_UNPREPARE_RESOURCES_RESPONSE__INIT;
	r.n_claims = n;
	r.claims = entryp;
	*len = protobuf_c_message_get_packed_size(&r.base);
	if (!(*out = malloc(*len ? *len : 1)))
		return -ENOMEM;
	protobuf_c_message_pack(&r.base, *out);
	return 0;
}

/* Its VFs are as the journal had them: the record goes. */
static void step_delete(struct dra_unop *op)
{
	struct dra_daemon *d = op->base.call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	if (dra_checkpoint_delete(d, op->base.uid, &err) < 0) {
		dra_call_op_fail(&op->base, "claim %s/%s: %s", op->base.ns, op->base.name, ky_error_msg(err));
		return;
	}
	if (op->replicas)
		dra_health_broadcast(d);
	ky_info("claim-unprepared", "claim=%s/%s uid=%s devices=%zu%s", op->base.ns, op->base.name, op->base.uid, op->n,
		op->recorded ? "" : " note=\"nothing recorded\"");
	dra_call_op_finish(&op->base);
}

static void restored(void *userdata, const struct ky_error *failed)
{
	struct dra_unop *op = userdata;
	op->vf = NULL;
	if (failed) {
		dra_call_op_fail(&op->base, "claim %s/%s: %s", op->base.ns, op->base.name, ky_error_msg(failed));
		return;
	}
	step_delete(op);
}

/* A claim whose reference is sound. */
static void op_start(struct dra_call_op *base)
{
	struct dra_unop *op = (struct dra_unop *)base;
	struct dra_daemon *d = base->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	if (dra_call_op_refuse(base, dra_prepare_busy(d, base->uid), "prepared") ||
	    dra_call_op_refuse(base, dra_claimcfg_undoing(d, base->uid), "unprepared"))
		return;
	const struct ky_dra_record *rec = dra_checkpoint_find(d, base->uid);
	op->recorded = rec != NULL;
	op->n = rec ? rec->n_devices : 0;
	op->replicas = dra_record_names_replicas(rec);
	if (dra_cdi_remove(d, rec ? rec->cdi_spec : NULL, base->uid, &err) < 0) {
		dra_call_op_fail(base, "claim %s/%s: %s", base->ns, base->name, ky_error_msg(err));
		return;
	}
	ky_fault_point("dra-unprepare-cdi-removed");
	if (rec && dra_claimcfg_undo(d, rec, restored, op, &op->vf, &err) < 0) {
		dra_call_op_fail(base, "claim %s/%s: %s", base->ns, base->name, ky_error_msg(err));
		return;
	}
	if (!op->vf)
		step_delete(op);
}

static const struct dra_call_verb unprepare_verb = {
	.name = "unprepare",
	.response = "NodeUnprepareResourcesResponse",
	.failed_event = "unprepare-failed",
	.closed_event = "unprepare-closed",
	.closed_reason = "kubelet stopped waiting; the claims are unprepared all the same",
	.op_size = sizeof(struct dra_unop),
	.start = op_start,
	.free = op_free,
	.pack = pack_answer,
};

static int unprepare(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		     struct ky_error **err)
{
	dra_pb_unprepare_req *r = k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__unpack(
		NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode NodeUnprepareResourcesRequest");
	int ret = dra_call_start(userdata, &unprepare_verb, false, s, r->claims, r->n_claims, err);
	k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__free_unpacked(r, NULL);
	return ret;
}

void dra_unprepare_methods(struct dra_daemon *d, struct ky_grpc_method *v1, struct ky_grpc_method *v1beta1)
{
	/* The request and answer are the same messages in both packages. */
	*v1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1 "NodeUnprepareResources", .stream = unprepare,
				       .closed = dra_call_closed, .userdata = d };
	*v1beta1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1BETA1 "NodeUnprepareResources", .stream = unprepare,
					    .closed = dra_call_closed, .userdata = d };
}
