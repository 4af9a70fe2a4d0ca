/* NodePrepareResources (dra v1 and v1beta1), claim by claim: each claim's
 * answer is its own, an error for one fails no other. A claim goes
 * through steps, the checkpoint being their journal:
 *
 *   allocation  its ResourceClaim read from the claim source (a prepared
 *               claim is answered from its record instead, its node
 *               state put back where it went missing)
 *   plan        every result of this driver resolved to a device of ours,
 *               in our pool, healthy, held by no other claim unless shared,
 *               with the claim's own config of it (dra_claimcfg.c; a GPU
 *               shared with other claims only when they use it alike)
 *   recorded    the record written as "preparing", before the node
 *               changes (fault point dra-prepare-recorded)
 *   vf          each VfConfig: the VF's previous settings and driver
 *               recorded durably, then its settings, then its driver
 *               (dra-prepare-vf-saved, -vf-configured, -vf-bound)
 *   programmed  FPGAs with a bitstream (the claim's FpgaConfig, or their
 *               resource's) programmed, in a child on the loop, once a
 *               URL's image is in the cache: a download that cannot end
 *               before kubelet's deadline fails the claim while it goes on,
 *               and kubelet's retry finds it (dra-prepare-programmed)
 *   cdi         the claim's CDI spec written atomically (dra-prepare-cdi-written)
 *   prepared    the record written durably as "prepared" (dra-prepare-prepared),
 *               then the answer
 *
 * Every step is idempotent, so Prepare again after a kill at any step
 * finishes the claim, and Unprepare undoes whatever the record names. A
 * failure after the record rolls back what was done. The call is served
 * as a stream that sends its one answer when every claim is done (on the
 * wire the same as a unary answer), within kubelet's 45 s. */
#include "dra_daemon.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dra_config.h"
#include "dra_proto.h"
#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/fault.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"
#include "kyborg/device/cdi_spec.h"
#include "kyborg/pci/fpga.h"

struct dra_call;

/* One claim of a call. */
struct dra_op {
	struct dra_call *call;
	char *ns, *name, *uid;
	bool started, done;
	bool failed;                   /* error says why (NULL: out of memory) */
	char *error;
	struct dra_claim_get *get;     /* the allocation being read */
	struct ky_device_program *prog;
	struct ky_dra_record plan;     /* what is being prepared (not yet the checkpoint's) */
	bool recorded;                 /* the plan is in the checkpoint */
	bool replay;                   /* answered from a prepared record */
	size_t next_program;           /* the next plan device to program */
	struct ky_device_fetch_wait *fetch; /* its bitstream's download, waited on */
	struct ky_loop_timer *fetch_timer;  /* how long the wait may last */
	uint64_t get_start_us, get_us; /* the ResourceClaim's GET: when sent, how long */
};

struct dra_call {
	struct dra_daemon *d;
	struct ky_grpc_stream *stream; /* NULL once kubelet is gone */
	bool v1;                       /* v1 answers carry share_id */
	struct dra_op *ops;
	size_t n, pending;
	uint64_t start_us;
	uint64_t deadline_ms;          /* ky_loop_now_ms() when kubelet stops waiting */
	uint64_t timeout_ms;           /* how long kubelet waits */
	struct dra_call *prev, *next;
};

static uint64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void now_rfc3339(char buf[32])
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool dra_prepare_busy(const struct dra_daemon *d, const char *uid)
{
	for (const struct dra_call *c = d->calls; c; c = c->next)
		for (size_t i = 0; i < c->n; i++)
			if (c->ops[i].uid && strcmp(c->ops[i].uid, uid) == 0)
				return true;
	return false;
}

/* ---- the answer ---- */

static void call_free(struct dra_call *c)
{
	KY_LIST_REMOVE(c->d->calls, c);
	for (size_t i = 0; i < c->n; i++) {
		struct dra_op *op = &c->ops[i];
		dra_claim_get_cancel(op->get);
		ky_device_fetch_wait_cancel(op->fetch); /* the download goes on */
		ky_loop_timer_free(op->fetch_timer);
		ky_device_program_free(op->prog); /* a load under way finishes on its own */
		ky_dra_record_clear(&op->plan);
		free(op->ns);
		free(op->name);
		free(op->uid);
		free(op->error);
	}
	free(c->ops);
	free(c);
}

/* The answer of every claim, from its op and the checkpoint. */
static int pack_answer(const struct dra_call *c, uint8_t **out, size_t *len)
{
	size_t n = c->n, n_devs = 0;
	for (size_t i = 0; i < n; i++) {
		const struct ky_dra_record *rec = c->ops[i].failed ? NULL : dra_checkpoint_find(c->d, c->ops[i].uid);
		n_devs += rec ? rec->n_devices : 0;
	}
	_cleanup_free_ dra_pb_prepare_entry *entries = calloc(n + 1, sizeof(*entries));
	_cleanup_free_ dra_pb_prepare_entry **entryp = calloc(n + 1, sizeof(*entryp));
	_cleanup_free_ dra_pb_prepare_claim *claims = calloc(n + 1, sizeof(*claims));
	_cleanup_free_ dra_pb_device *devs = calloc(n_devs + 1, sizeof(*devs));
	_cleanup_free_ dra_pb_device **devp = calloc(n_devs + 1, sizeof(*devp));
	_cleanup_free_ char **cdi = calloc(n_devs + 1, sizeof(*cdi));
	if (!entries || !entryp || !claims || !devs || !devp || !cdi)
		return -ENOMEM;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dra_op *op = &c->ops[i];
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_response__claims_entry__init(&entries[i]);
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resource_response__init(&claims[i]);
		entries[i].key = op->uid ? op->uid : "";
		entries[i].value = &claims[i];
		entryp[i] = &entries[i];
		if (op->failed) {
			claims[i].error = op->error ? op->error : "out of memory";
			continue;
		}
		const struct ky_dra_record *rec = dra_checkpoint_find(c->d, op->uid);
		claims[i].devices = &devp[k];
		for (size_t j = 0; rec && j < rec->n_devices; j++, k++) {
			const struct ky_dra_record_device *rd = &rec->devices[j];
			k8s__io__kubelet__pkg__apis__dra__v1__device__init(&devs[k]);
			devs[k].n_request_names = rd->n_requests;
			devs[k].request_names = rd->requests;
			devs[k].pool_name = rd->pool;
			devs[k].device_name = rd->device;
			cdi[k] = rd->cdi_id;
			devs[k].n_cdi_device_ids = 1;
			devs[k].cdi_device_ids = &cdi[k];
			if (c->v1 && rd->share_id)
				devs[k].share_id = rd->share_id;
			devp[k] = &devs[k];
			claims[i].n_devices++;
		}
	}
	dra_pb_prepare_resp r = K8S__IO__KUBELET__PKG__APIS__DRA__V1__NODE_PREPARE_RESOURCES_RESPONSE__INIT;
	r.n_claims = n;
	r.claims = entryp;
	*len = protobuf_c_message_get_packed_size(&r.base);
	if (!(*out = malloc(*len ? *len : 1)))
		return -ENOMEM;
	protobuf_c_message_pack(&r.base, *out);
	return 0;
}

static void answer(struct dra_call *c)
{
	size_t failed = 0;
	uint64_t get_us = 0;
	for (size_t i = 0; i < c->n; i++) {
		failed += c->ops[i].failed;
		if (c->ops[i].get_us > get_us)
			get_us = c->ops[i].get_us;
	}
	/* get_us: the longest wait for a claim's GET (the claims' GETs run
	 * side by side); dur_us less get_us is the driver's own time. */
	ky_info("prepare", "claims=%zu failed=%zu dur_us=%llu get_us=%llu%s", c->n, failed,
		(unsigned long long)(now_us() - c->start_us), (unsigned long long)get_us,
		c->stream ? "" : " answered=no");
	if (c->stream) {
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;
		int r = pack_answer(c, &buf, &len);
		if (r < 0)
			ky_error_set(&err, -r, "cannot pack NodePrepareResourcesResponse");
		if (r < 0 || ky_grpc_stream_send(c->stream, buf, len, &err) < 0) {
			ky_error_set_status(&err, KY_GRPC_INTERNAL);
			ky_grpc_stream_fail(c->stream, err);
		} else {
			ky_grpc_stream_finish(c->stream, KY_GRPC_OK, NULL);
		}
	}
	call_free(c);
}

/* ---- steps ---- */

static void op_finish(struct dra_op *op)
{
	op->done = true;
	if (--op->call->pending == 0)
		answer(op->call);
}

/* Undoes what a failed Prepare did after its record: its VFs get their
 * settings and driver back, its CDI spec and its record go. An FPGA keeps
 * the image it was given (the next claim loads its own only where the id
 * differs; a region is never left half programmed). A VF that cannot be
 * put back keeps the record, so Unprepare or the next Prepare finds what
 * to restore. */
static void rollback(struct dra_op *op)
{
	struct dra_daemon *d = op->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	if (!op->recorded)
		return;
	const struct ky_dra_record *rec = dra_checkpoint_find(d, op->uid);
	if (rec && dra_claimcfg_undo(d, rec, &err) < 0) {
		ky_log_err(KY_LOG_WARN, "prepare-rollback", err, "claim=%s/%s record=kept", op->ns, op->name);
		op->recorded = false;
		return;
	}
	if (dra_cdi_remove(d, rec ? rec->cdi_spec : NULL, op->uid, &err) < 0)
		ky_log_err(KY_LOG_WARN, "prepare-rollback", err, "claim=%s/%s", op->ns, op->name);
	ky_error_clear(&err);
	if (dra_checkpoint_delete(d, op->uid, &err) < 0)
		ky_log_err(KY_LOG_WARN, "prepare-rollback", err, "claim=%s/%s", op->ns, op->name);
	op->recorded = false;
}

static void op_fail(struct dra_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void op_fail(struct dra_op *op, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&op->error, fmt, ap) < 0)
		op->error = NULL;
	va_end(ap);
	op->failed = true;
	char q[512];
	ky_warn("prepare-refused", "claim=%s/%s uid=%s error=%s", op->ns ? op->ns : "", op->name ? op->name : "",
		op->uid ? op->uid : "", ky_log_quote(op->error ? op->error : "", q, sizeof(q)));
	rollback(op);
	op_finish(op);
}

static void step_cdi(struct dra_op *op);

static void program_next(struct dra_op *op);

static void program_done(void *userdata, struct ky_device_program *prog, const struct ky_device_program_result *res,
			 size_t n, const struct ky_error *failed)
{
	struct dra_op *op = userdata;
	(void)prog;
	op->prog = NULL; /* freed when this returns */
	for (size_t i = 0; i < n; i++)
		if (res[i].reported && !res[i].error)
			ky_info(res[i].programmed ? "fpga-programmed" : "fpga-already-programmed",
				"claim=%s/%s device=%s id=%s", op->ns, op->name, op->plan.devices[op->next_program - 1].device,
				op->plan.devices[op->next_program - 1].bitstream);
	/* The slices carry the image the port holds now (imageID); a set
	 * that changes nothing writes nothing. */
	dra_publisher_devices_changed(op->call->d);
	if (failed) {
		op_fail(op, "device %s: %s", op->plan.devices[op->next_program - 1].device, ky_error_msg(failed));
		return;
	}
	program_next(op);
}

static void program_start(struct dra_op *op);

/* The image of a plan device: the claim's FpgaConfig, or its resource's. */
static const struct ky_image_spec *image_of(const struct ky_dra_record_device *rd, const struct dra_device *dev)
{
	return rd->fpga ? &rd->fpga->bitstream : &dev->res->bitstream;
}

/* Whether the port holds the image already (then nothing is fetched or
 * loaded: the programming child would read the same id and stop there). */
static bool holds(const struct dra_device *dev, const struct ky_image_spec *spec)
{
	struct ky_fpga *f = NULL;
	_cleanup_free_ char *id = NULL;
	bool yes = ky_fpga_find(dev->dev->pci->syspath, dev->dev->pci->addr, &f, NULL) == 0 &&
		   ky_fpga_loaded_id(f, &id, NULL) == 0 && ky_fpga_id_equal(id, spec->id);
	ky_fpga_free(f);
	return yes;
}

static void fetch_done(void *userdata, const struct ky_error *failed)
{
	struct dra_op *op = userdata;
	const struct ky_dra_record_device *rd = &op->plan.devices[op->next_program - 1];
	op->fetch = NULL;
	ky_loop_timer_disarm(op->fetch_timer);
	if (failed) {
		op_fail(op, "device %s: bitstream %s: %s", rd->device, rd->bitstream, ky_error_msg(failed));
		return;
	}
	program_start(op);
}

static void fetch_too_slow(struct ky_loop_timer *t, void *userdata)
{
	struct dra_op *op = userdata;
	const struct ky_dra_record_device *rd = &op->plan.devices[op->next_program - 1];
	uint64_t age = ky_device_fetch_wait_age_ms(op->fetch);
	(void)t;
	ky_device_fetch_wait_cancel(op->fetch);
	op->fetch = NULL;
	/* Kubelet retries a failed Prepare; the download goes on, and the
	 * retry programs the image from the cache, once. */
	op_fail(op, "device %s: bitstream %s is still downloading (%llu s so far); retry: the download goes on",
		rd->device, rd->bitstream, (unsigned long long)(age / 1000));
}

/* Waits for the image in the cache, as long as kubelet's deadline leaves
 * time to load it and answer (a third of the call's time). */
static void fetch_wait(struct dra_op *op, const struct ky_image_spec *spec)
{
	struct dra_call *c = op->call;
	struct dra_daemon *d = c->d;
	const struct ky_dra_record_device *rd = &op->plan.devices[op->next_program - 1];
	_cleanup_error_ struct ky_error *err = NULL;
	uint64_t now = ky_loop_now_ms(), reserve = c->timeout_ms / 3;
	uint64_t budget = c->deadline_ms > now + reserve ? c->deadline_ms - now - reserve : 0;
	if ((!op->fetch_timer && ky_loop_timer_new(d->loop, fetch_too_slow, op, &op->fetch_timer, &err) < 0) ||
	    ky_device_fetch(d->loop, &d->prefetches, spec, &d->images, fetch_done, op, &op->fetch, &err) < 0) {
		op_fail(op, "device %s: %s", rd->device, ky_error_msg(err));
		return;
	}
	ky_info("bitstream-wait", "claim=%s/%s device=%s id=%s budget_ms=%llu", op->ns, op->name, rd->device, spec->id,
		(unsigned long long)budget);
	ky_loop_timer_arm(op->fetch_timer, budget ? budget : 1, 0);
}

/* Programs the next FPGA of the plan that has an image (the claim's or its
 * resource's), after its download where it needs one; when none is left,
 * goes on. */
static void program_next(struct dra_op *op)
{
	struct dra_daemon *d = op->call->d;
	while (op->next_program < op->plan.n_devices) {
		const struct ky_dra_record_device *rd = &op->plan.devices[op->next_program++];
		struct dra_device dev;
		if (!rd->bitstream)
			continue;
		if (dra_device_find(d, rd->device, &dev) < 0) {
			op_fail(op, "device %s is gone from the node", rd->device);
			return;
		}
		if (!rd->fpga && !ky_device_resource_programs(dev.res))
			continue;
		const struct ky_image_spec *spec = image_of(rd, &dev);
		if (holds(&dev, spec)) {
			/* Loaded only when the id differs: no child, no download. */
			ky_info("fpga-already-programmed", "claim=%s/%s device=%s id=%s", op->ns, op->name, rd->device,
				rd->bitstream);
			continue;
		}
		if (!ky_device_image_cached(spec, &d->images)) {
			fetch_wait(op, spec);
			return;
		}
		program_start(op);
		return;
	}
	ky_fault_point("dra-prepare-programmed");
	step_cdi(op);
}

/* Programs plan device next_program - 1 in a child. */
static void program_start(struct dra_op *op)
{
	struct dra_daemon *d = op->call->d;
	const struct ky_dra_record_device *rd = &op->plan.devices[op->next_program - 1];
	_cleanup_error_ struct ky_error *err = NULL;
	struct dra_device dev;
	if (dra_device_find(d, rd->device, &dev) < 0) {
		op_fail(op, "device %s is gone from the node", rd->device);
		return;
	}
	const struct ky_device *one[] = { dev.dev };
	if (ky_device_program_image_start(d->loop, dev.res, rd->fpga ? &rd->fpga->bitstream : NULL, one, 1,
					  &d->images, program_done, op, &op->prog, &err) < 0) {
		op_fail(op, "device %s: %s", rd->device, ky_error_msg(err));
		return;
	}
	ky_info("fpga-programming", "claim=%s/%s device=%s id=%s pid=%d", op->ns, op->name, rd->device, rd->bitstream,
		(int)ky_device_program_pid(op->prog));
}

/* The claim's VfConfigs, after the record names them. */
static void step_config(struct dra_op *op)
{
	_cleanup_error_ struct ky_error *err = NULL;
	if (dra_claimcfg_apply(op->call->d, &op->plan, &err) < 0) {
		op_fail(op, "claim %s/%s: %s", op->ns, op->name, ky_error_msg(err));
		return;
	}
	op->next_program = 0;
	program_next(op);
}

static void step_cdi(struct dra_op *op)
{
	struct dra_daemon *d = op->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	if (dra_cdi_write(d, &op->plan, &err) < 0) {
		op_fail(op, "%s", ky_error_msg(err));
		return;
	}
	ky_fault_point("dra-prepare-cdi-written");
	if (op->plan.state != KY_DRA_PREPARED) {
		char at[32];
		now_rfc3339(at);
		free(op->plan.updated_at);
		op->plan.state = KY_DRA_PREPARED;
		if (!(op->plan.updated_at = strdup(at)) || dra_checkpoint_put(d, &op->plan, true, &err) < 0) {
			op_fail(op, "%s", err ? ky_error_msg(err) : "out of memory");
			return;
		}
		ky_fault_point("dra-prepare-prepared");
	}
	/* A replica's name is in the health list while a claim holds it. */
	if (!op->replay && dra_record_names_replicas(dra_checkpoint_find(d, op->uid)))
		dra_health_broadcast(d);
	ky_info("claim-prepared", "claim=%s/%s uid=%s devices=%zu replay=%s", op->ns, op->name, op->uid,
		dra_checkpoint_find(d, op->uid) ? dra_checkpoint_find(d, op->uid)->n_devices : 0,
		op->replay ? "yes" : "no");
	ky_dra_record_clear(&op->plan);
	op_finish(op);
}

/* ---- the plan ---- */

static int strdup_to(char **out, const char *s)
{
	return s && !(*out = strdup(s)) ? -ENOMEM : 0;
}

/* "main/sub" -> "main": containers reference the main request. */
static char *base_request(const char *request)
{
	const char *slash = strchr(request, '/');
	return slash ? strndup(request, (size_t)(slash - request)) : strdup(request);
}

/* One of this driver's results, checked against the node and the other
 * claims: filled into rd, or a claim error in *why (malloc'd). */
static int plan_device(struct dra_op *op, const struct dra_configs *cfgs, const struct dra_claim_result *res,
		       struct ky_dra_record_device *rd, char **why)
{
	struct dra_daemon *d = op->call->d;
	struct dra_device dev;
	int r;
	*why = NULL;
	if (strcmp(res->pool, d->opts->node_name) != 0)
		return asprintf(why, "device %s of pool %s is not on this node (pool %s)", res->device, res->pool,
				d->opts->node_name) < 0 ? -ENOMEM : -EINVAL;
	if ((r = dra_device_find(d, res->device, &dev)) == -EINVAL)
		return asprintf(why, "device %s is not one this driver publishes", res->device) < 0 ? -ENOMEM : -EINVAL;
	if (r == -EXDEV)
		return asprintf(why, "device %s is not ours: the config gives it to the device plugin (resource %s)",
				res->device, dev.res->name) < 0 ? -ENOMEM : -EINVAL;
	if (r < 0)
		return asprintf(why, "device %s is not ours: no resource of the config takes it on this node",
				res->device) < 0 ? -ENOMEM : -EINVAL;
	if (!dev.dev->healthy)
		return asprintf(why, "device %s is unhealthy: no driver bound", res->device) < 0 ? -ENOMEM : -EINVAL;
	const struct ky_dra_record *holder = dev.replica >= 0 ? dra_checkpoint_holder_of(d, res->device, op->uid) : NULL;
	if (holder) /* one replica, one claim */
		return asprintf(why, "device %s is already prepared for claim %s/%s", res->device, holder->namespace_,
				holder->name) < 0 ? -ENOMEM : -EBUSY;
	size_t holders = dra_checkpoint_holders(d, dev.dev->pci->addr, op->uid, &holder);
	if (holders && !ky_device_resource_shared(dev.res))
		return asprintf(why, "device %s is already prepared for claim %s/%s", res->device, holder->namespace_,
				holder->name) < 0 ? -ENOMEM : -EBUSY;
	if (holders >= dev.res->replicas)
		return asprintf(why, "device %s is shared by %zu claims already, as many as %s allows", res->device,
				holders, dev.res->name) < 0 ? -ENOMEM : -EBUSY;
	if (!(rd->requests = calloc(2, sizeof(*rd->requests))) || !(rd->requests[0] = base_request(res->request)))
		return -ENOMEM;
	rd->n_requests = 1;
	if (strdup_to(&rd->pool, res->pool) < 0 || strdup_to(&rd->device, res->device) < 0 ||
	    strdup_to(&rd->pci, dev.dev->pci->addr) < 0 || strdup_to(&rd->kind, ky_device_dra_kind(dev.res->kind)) < 0 ||
	    strdup_to(&rd->resource, dev.res->name) < 0 || strdup_to(&rd->share_id, res->share_id) < 0 ||
	    !(rd->cdi_id = ky_cdi_claim_device_id(d->opts->driver_name, op->uid, res->device)) ||
	    (ky_device_resource_programs(dev.res) && strdup_to(&rd->bitstream, dev.res->bitstream.id) < 0))
		return -ENOMEM;
	return dra_claimcfg_plan(d, cfgs, res->request, &dev, op->uid, rd, why);
}

static int make_plan(struct dra_op *op, const struct dra_claim_alloc *a, struct ky_error **err)
{
	struct dra_daemon *d = op->call->d;
	struct ky_dra_record *p = &op->plan;
	char at[32];
	now_rfc3339(at);
	p->version = 0; /* the lowest version that holds what it records */
	p->state = KY_DRA_PREPARING;
	if (!(p->devices = calloc(a->n + 1, sizeof(*p->devices))) || strdup_to(&p->claim_uid, op->uid) < 0 ||
	    strdup_to(&p->namespace_, op->ns) < 0 || strdup_to(&p->name, op->name) < 0 ||
	    strdup_to(&p->driver, d->opts->driver_name) < 0 || strdup_to(&p->updated_at, at) < 0 ||
	    !(p->cdi_spec = dra_cdi_spec_path(d, op->uid)))
		return ky_error_set(err, ENOMEM, "out of memory");
	/* Every config of ours is checked, whichever device it is for. */
	struct dra_configs cfgs;
	int r = dra_claimcfg_parse(d, a->config, &cfgs, err);
	if (r < 0)
		return r;
	for (size_t i = 0; r == 0 && i < a->n; i++) {
		if (strcmp(a->results[i].driver, d->opts->driver_name) != 0)
			continue; /* another driver's: kubelet calls it for those */
		_cleanup_free_ char *why = NULL;
		r = plan_device(op, &cfgs, &a->results[i], &p->devices[p->n_devices], &why);
		p->n_devices++;
		if (r == -ENOMEM || (r < 0 && !why))
			r = ky_error_set(err, ENOMEM, "out of memory");
		else if (r < 0)
			r = ky_error_set(err, -r, "%s", why);
	}
	dra_configs_release(&cfgs);
	return r;
}

/* The node changes only once the plan is in the journal. */
static void step_record(struct dra_op *op)
{
	struct dra_daemon *d = op->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	struct ky_dra_record copy = { 0 };
	/* The checkpoint takes its own copy; the op keeps the plan. */
	/* Atomic, not yet durable: it outlives any kill of this process, and
	 * a power loss takes what it guards (the CDI dir is a tmpfs, an FPGA
	 * forgets its image) while kubelet, never answered, prepares again. */
	if (ky_dra_record_copy(&op->plan, &copy, &err) < 0 || dra_checkpoint_put(d, &copy, false, &err) < 0) {
		op_fail(op, "%s", ky_error_msg(err));
		return;
	}
	op->recorded = true;
	ky_fault_point("dra-prepare-recorded");
	step_config(op);
}

static void on_allocation(void *userdata, struct dra_claim_alloc *a, const struct ky_error *err)
{
	struct dra_op *op = userdata;
	_cleanup_error_ struct ky_error *perr = NULL;
	op->get = NULL;
	op->get_us = now_us() - op->get_start_us;
	if (!a) {
		op_fail(op, "%s", ky_error_msg(err));
		return;
	}
	int r = make_plan(op, a, &perr);
	dra_claim_alloc_free(a);
	if (r < 0) {
		ky_dra_record_clear(&op->plan);
		op_fail(op, "claim %s/%s: %s", op->ns, op->name, ky_error_msg(perr));
		return;
	}
	if (op->plan.n_devices == 0) {
		/* No device of ours: nothing to prepare, nothing to record; a
		 * record left by an earlier try goes. */
		op->recorded = dra_checkpoint_find(op->call->d, op->uid) != NULL;
		rollback(op);
		ky_dra_record_clear(&op->plan);
		op_finish(op);
		return;
	}
	/* A record left "preparing" by a killed Prepare of this claim is
	 * written anew (same UID, same allocation, same spec file), keeping
	 * the journal of what the node held before that Prepare changed it. */
	dra_claimcfg_carry(&op->plan, dra_checkpoint_find(op->call->d, op->uid));
	step_record(op);
}

/* A prepared claim again (kubelet restarted, or retries): answered from
 * its record, with its node state put back where it went missing (the CDI
 * dir is a tmpfs that a reboot empties; an FPGA loses its image). */
static void replay(struct dra_op *op, const struct ky_dra_record *rec)
{
	_cleanup_error_ struct ky_error *err = NULL;
	op->replay = true;
	if (ky_dra_record_copy(rec, &op->plan, &err) < 0) {
		op_fail(op, "%s", ky_error_msg(err));
		return;
	}
	for (size_t i = 0; i < op->plan.n_devices; i++) {
		struct dra_device dev;
		const char *name = op->plan.devices[i].device;
		if (dra_device_find(op->call->d, name, &dev) < 0) {
			op_fail(op, "device %s is gone from the node", name);
			return;
		}
		if (!dev.dev->healthy) {
			op_fail(op, "device %s is unhealthy: no driver bound", name);
			return;
		}
	}
	step_config(op);
}

static void op_start(struct dra_op *op)
{
	struct dra_daemon *d = op->call->d;
	_cleanup_error_ struct ky_error *err = NULL;
	char buf[256];
	const char *problem = dra_claim_ref_problem(op->ns, op->name, op->uid, buf, sizeof(buf));
	if (problem) {
		op_fail(op, "claim %s", problem);
		return;
	}
	/* Another Prepare of this claim under way (kubelet retried after its
	 * deadline while an FPGA load went on): never two at once. */
	for (struct dra_call *c = d->calls; c; c = c->next) {
		for (size_t i = 0; i < c->n; i++) {
			const struct dra_op *o = &c->ops[i];
			if (o != op && o->started && !o->done && strcmp(o->uid, op->uid) == 0) {
				op_fail(op, "claim %s/%s is being prepared already; retry", op->ns, op->name);
				return;
			}
		}
	}
	op->started = true;
	const struct ky_dra_record *rec = dra_checkpoint_find(d, op->uid);
	if (rec && rec->state == KY_DRA_PREPARED) {
		replay(op, rec);
		return;
	}
	op->get_start_us = now_us();
	if (dra_claim_get(d->source, op->ns, op->name, op->uid, on_allocation, op, &op->get, &err) < 0)
		op_fail(op, "%s", ky_error_msg(err));
}

/* ---- the call ---- */

static int prepare(struct dra_daemon *d, bool v1, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		   struct ky_error **err)
{
	dra_pb_prepare_req *r = k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__unpack(
		NULL, req_len, req);
	if (!r)
		return ky_error_set(err, EINVAL, "cannot decode NodePrepareResourcesRequest");
	struct dra_call *c = calloc(1, sizeof(*c));
	if (!c || !(c->ops = calloc(r->n_claims + 1, sizeof(*c->ops)))) {
		free(c);
		k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__free_unpacked(r, NULL);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	/* Kubelet says how long it waits (45 s); without a word, as long. */
	uint64_t timeout_ms = ky_grpc_stream_timeout_ms(s);
	if (!timeout_ms)
		timeout_ms = DRA_PREPARE_TIMEOUT_MS;
	*c = (struct dra_call){ .d = d, .stream = s, .v1 = v1, .ops = c->ops, .n = r->n_claims,
				.pending = r->n_claims + 1, .start_us = now_us(), .timeout_ms = timeout_ms,
				.deadline_ms = ky_loop_now_ms() + timeout_ms };
	KY_LIST_PREPEND(d->calls, c);
	for (size_t i = 0; i < c->n; i++) {
		const dra_pb_claim *cl = r->claims[i];
		struct dra_op *op = &c->ops[i];
		op->call = c;
		op->ns = strdup(cl->namespace_);
		op->name = strdup(cl->name);
		op->uid = strdup(cl->uid);
	}
	k8s__io__kubelet__pkg__apis__dra__v1__node_prepare_resources_request__free_unpacked(r, NULL);
	/* One count more than claims until every claim has started, so an
	 * answer given at once (every claim refused) comes after the loop. */
	for (size_t i = 0; i < c->n; i++) {
		struct dra_op *op = &c->ops[i];
		if (!op->ns || !op->name || !op->uid)
			op_fail(op, "out of memory");
		else
			op_start(op);
	}
	if (--c->pending == 0)
		answer(c);
	return 0;
}

static int prepare_v1(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
		      struct ky_error **err)
{
	return prepare(userdata, true, s, req, req_len, err);
}

static int prepare_v1beta1(void *userdata, struct ky_grpc_stream *s, const uint8_t *req, size_t req_len,
			   struct ky_error **err)
{
	return prepare(userdata, false, s, req, req_len, err);
}

static void prepare_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct dra_daemon *d = userdata;
	for (struct dra_call *c = d->calls; c; c = c->next) {
		if (c->stream == s) {
			c->stream = NULL;
			ky_warn("prepare-closed", "claims=%zu code=%s reason=\"kubelet stopped waiting; the claims are "
						  "prepared all the same\"",
				c->n, ky_grpc_code_name(code));
		}
	}
}

void dra_prepare_methods(struct dra_daemon *d, struct ky_grpc_method *v1, struct ky_grpc_method *v1beta1)
{
	*v1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1 "NodePrepareResources", .stream = prepare_v1,
				       .closed = prepare_closed, .userdata = d };
	*v1beta1 = (struct ky_grpc_method){ .path = DRA_PB_PREFIX_V1BETA1 "NodePrepareResources",
					    .stream = prepare_v1beta1, .closed = prepare_closed, .userdata = d };
}

void dra_prepare_release(struct dra_daemon *d)
{
	while (d->calls)
		call_free(d->calls);
}
