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
#include "dra_daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dra_proto.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"

struct dra_uncall;

/* One claim of a call. */
struct dra_unop {
	struct dra_uncall *call;
	char *ns, *name, *uid;
	char *error;           /* its failure (NULL: none, or out of memory with failed) */
	bool failed;
	struct dra_vf_job *vf; /* its VFs being put back */
	size_t n;              /* devices its record named */
	bool recorded, replicas;
};

struct dra_uncall {
	struct dra_daemon *d;
	struct ky_grpc_stream *stream; /* NULL once kubelet is gone */
	struct dra_unop *ops;
	size_t n, pending;
	struct timespec start;
	struct dra_uncall *prev, *next;
};

static void uncall_free(struct dra_uncall *c)
{
	KY_LIST_REMOVE(c->d->uncalls, c);
	for (size_t i = 0; i < c->n; i++) {
		struct dra_unop *op = &c->ops[i];
		dra_vf_job_free(op->vf); /* a rebind under way finishes on its own */
		free(op->ns);
		free(op->name);
		free(op->uid);
		free(op->error);
	}
	free(c->ops);
	free(c);
}

static int pack_answer(const struct dra_uncall *c, uint8_t **out, size_t *len)
{
	size_t n = c->n;
	_cleanup_free_ dra_pb_unprepare_entry *entries = calloc(n + 1, sizeof(*entries));
	_cleanup_free_ dra_pb_unprepare_entry **entryp = calloc(n + 1, sizeof(*entryp));
	_cleanup_free_ dra_pb_unprepare_claim *claims = calloc(n + 1, sizeof(*claims));
	if (!entries || !entryp || !claims)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct dra_unop *op = &c->ops[i];
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

static void answer(struct dra_uncall *c)
{
	struct timespec t1;
	size_t failed = 0;
	for (size_t i = 0; i < c->n; i++)
		failed += c->ops[i].failed;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ky_info("unprepare", "claims=%zu failed=%zu dur_us=%lld%s", c->n, failed,
		(long long)((t1.tv_sec - c->start.tv_sec) * 1000000LL + (t1.tv_nsec - c->start.tv_nsec) / 1000),
		c->stream ? "" : " answered=no");
	if (c->stream) {
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;
		int r = pack_answer(c, &buf, &len);
		if (r < 0) {
			ky_error_set(&err, -r, "cannot pack NodeUnprepareResourcesResponse");
			ky_error_set_status(&err, KY_GRPC_INTERNAL);
			ky_grpc_stream_fail(c->stream, err);
		} else {
			ky_grpc_stream_answer(c->stream, buf, len);
		}
	}
	uncall_free(c);
}

static void op_finish(struct dra_unop *op)
{
	if (--op->call->pending == 0)
		answer(op->call);
}

static void op_fail(struct dra_unop *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_fail(struct dra_unop *op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&op->error, fmt, ap) < 0)
		op->error = NULL;
	va_end(ap);
	op->failed = true;
	char q[512];
	ky_warn("unprepare-failed", "claim=%s/%s uid=%s error=%s", op->ns ? op->ns : "", op->name ? op->name : "",
		op->uid ? op->uid : "", ky_log_quote(op->error ? op->error : "out of memory", q, sizeof(q)));
	op_finish(op);
}

/* Its VFs are as the journal had them: the record goes. */
static void step_delete(struct dra_unop *op)
{
	struct dra_daemon *d = op->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	if (dra_checkpoint_delete(d, op->uid, &err) < 0) {
		op_fail(op, "claim %s/%s: %s", op->ns, op->name, ky_error_msg(err));
		return;
	}
	if (op->replicas)
		dra_health_broadcast(d);
	ky_info("claim-unprepared", "claim=%s/%s uid=%s devices=%zu%s", op->ns, op->name, op->uid, op->n,
		op->recorded ? "" : " note=\"nothing recorded\"");
	op_finish(op);
}

static void restored(void *userdata, const struct ky_error *failed)
{
	struct dra_unop *op = userdata;
	op->vf = NULL;
	if (failed) {
		op_fail(op, "claim %s/%s: %s", op->ns, op->name, ky_error_msg(failed));
		return;
	}
	step_delete(op);
}

static void op_start(struct dra_unop *op)
{
	struct dra_daemon *d = op->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	char buf[256];
	const char *problem = dra_claim_ref_problem(op->ns, op->name, op->uid, buf, sizeof(buf));
	if (problem) {
		op_fail(op, "claim %s", problem);
		return;
	}
	if (dra_prepare_busy(d, op->uid)) {
		op_fail(op, "claim %s/%s is being prepared; retry", op->ns, op->name);
		return;
	}
	if (dra_claimcfg_undoing(d, op->uid)) {
		op_fail(op, "claim %s/%s is being unprepared; retry", op->ns, op->name);
		return;
	}
	const struct ky_dra_record *rec = dra_checkpoint_find(d, op->uid);
	op->recorded = rec != NULL;
	op->n = rec ? rec->n_devices : 0;
	op->replicas = dra_record_names_replicas(rec);
	if (dra_cdi_remove(d, rec ? rec->cdi_spec : NULL, op->uid, &err) < 0) {
		op_fail(op, "claim %s/%s: %s", op->ns, op->name, ky_error_msg(err));
		return;
	}
	ky_fault_point("dra-unprepare-cdi-removed");
	if (rec && dra_claimcfg_undo(d, rec, restored, op, &op->vf, &err) < 0) {
		op_fail(op, "claim %s/%s: %s", op->ns, op->name, ky_error_msg(err));
		return;
	}
	if (!op->vf)
		step_delete(op);
}

static int unprepare(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		     struct ky_error **err)
{
	struct dra_daemon *d = userdata;
	dra_pb_unprepare_req *r = k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__unpack(
		NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode NodeUnprepareResourcesRequest");
	struct dra_uncall *c = calloc(1, sizeof(*c));
	if (!c || !(c->ops = calloc(r->n_claims + 1, sizeof(*c->ops)))) {
		free(c);
		k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__free_unpacked(r, NULL);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	c->d = d;
	c->stream = s;
	c->n = r->n_claims;
	c->pending = r->n_claims + 1;
	clock_gettime(CLOCK_MONOTONIC, &c->start);
	KY_LIST_PREPEND(d->uncalls, c);
	for (size_t i = 0; i < c->n; i++) {
		const dra_pb_claim *cl = r->claims[i];
		struct dra_unop *op = &c->ops[i];
		op->call = c;
		op->ns = strdup(cl->namespace_);
		op->name = strdup(cl->name);
		op->uid = strdup(cl->uid);
	}
	k8s__io__kubelet__pkg__apis__dra__v1__node_unprepare_resources_request__free_unpacked(r, NULL);
	/* One count more than claims until every claim has started, so an
	 * answer given at once comes after the loop. */
	for (size_t i = 0; i < c->n; i++) {
		struct dra_unop *op = &c->ops[i];
		if (!op->ns || !op->name || !op->uid)
			op_fail(op, "out of memory");
		else
			op_start(op);
	}
	if (--c->pending == 0)
		answer(c);
	return 0;
}

static void unprepare_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct dra_daemon *d = userdata;
	for (struct dra_uncall *c = d->uncalls; c; c = c->next) {
		if (c->stream == s) {
			c->stream = NULL;
			ky_warn("unprepare-closed", "claims=%zu code=%s reason=\"kubelet stopped waiting; the claims are "
						    "unprepared all the same\"",
				c->n, ky_grpc_code_name(code));
		}
	}
}

void dra_unprepare_methods(struct dra_daemon *d, struct ky_grpc_method *v1, struct ky_grpc_method *v1beta1)
{
	/* The request and answer are the same messages in both packages. */
	*v1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1 "NodeUnprepareResources", .stream = unprepare,
				       .closed = unprepare_closed, .userdata = d };
	*v1beta1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1BETA1 "NodeUnprepareResources", .stream = unprepare,
					    .closed = unprepare_closed, .userdata = d };
}

void dra_unprepare_release(struct dra_daemon *d)
{
	while (d->uncalls)
		uncall_free(d->uncalls);
}
