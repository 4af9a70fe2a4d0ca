/* A call of Prepare or Unprepare in flight (dra_call.h): its ops, one per
 * claim, and its one answer once every op is done. The call is served as
 * a stream that sends that answer (on the wire the same as a unary
 * answer), so an op may wait on a child or a download on the loop. */
#include "dra_call.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/base/error.h"
#include "kyborg/base/list.h"
#include "kyborg/base/log.h"

uint64_t dra_call_now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

struct dra_call_op *dra_call_op_at(const struct dra_call *c, size_t i)
{
	return (struct dra_call_op *)((char *)c->ops + i * c->verb->op_size);
}

bool dra_call_has(const struct dra_daemon *d, const struct dra_call_verb *verb, const char *uid,
		  const struct dra_call_op *self, bool under_way)
{
	for (const struct dra_call *c = d->calls; c; c = c->next) {
		if (c->verb != verb)
			continue;
		for (size_t i = 0; i < c->n; i++) {
			const struct dra_call_op *o = dra_call_op_at(c, i);
			if (o != self && o->uid && (!under_way || (o->started && !o->done)) && strcmp(o->uid, uid) == 0)
				return true;
		}
	}
	return false;
}

static void call_free(struct dra_call *c)
{
	KY_LIST_REMOVE(c->d->calls, c);
	for (size_t i = 0; i < c->n; i++) {
		struct dra_call_op *op = dra_call_op_at(c, i);
		c->verb->free(op);
		free(op->ns);
		free(op->name);
		free(op->uid);
		free(op->error);
	}
	free(c->ops);
	free(c);
}

static void answer(struct dra_call *c)
{
	const struct dra_call_verb *v = c->verb;
	size_t failed = 0;
	char extra[128] = "";
	for (size_t i = 0; i < c->n; i++)
		failed += dra_call_op_at(c, i)->failed;
	if (v->summary)
		v->summary(c, extra, sizeof(extra));
	ky_info(v->name, "claims=%zu failed=%zu dur_us=%llu%s%s", c->n, failed,
		(unsigned long long)(dra_call_now_us() - c->start_us), extra, c->stream ? "" : " answered=no");
	if (c->stream) {
		_cleanup_error_ struct ky_error *err = NULL;
		_cleanup_free_ uint8_t *buf = NULL;
		size_t len = 0;
		int r = v->pack(c, &buf, &len);
		if (r < 0) {
			ky_error_set(&err, -r, "cannot pack %s", v->response);
			ky_error_set_status(&err, KY_GRPC_INTERNAL);
			ky_grpc_stream_fail(c->stream, err);
		} else {
			ky_grpc_stream_answer(c->stream, buf, len);
		}
	}
	call_free(c);
}

void dra_call_op_finish(struct dra_call_op *op)
{
	op->done = true;
	if (--op->call->pending == 0)
		answer(op->call);
}

void dra_call_op_fail(struct dra_call_op *op, const char *fmt, ...)
{
	const struct dra_call_verb *v = op->call->verb;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&op->error, fmt, ap) < 0)
		op->error = NULL;
	va_end(ap);
	op->failed = true;
	char q[512];
	ky_warn(v->failed_event, "claim=%s/%s uid=%s error=%s", op->ns ? op->ns : "", op->name ? op->name : "",
		op->uid ? op->uid : "", ky_log_quote(op->error ? op->error : "out of memory", q, sizeof(q)));
	if (v->failed)
		v->failed(op);
	else
		dra_call_op_finish(op);
}

bool dra_call_op_refuse(struct dra_call_op *op, bool busy, const char *what)
{
	if (busy)
		dra_call_op_fail(op, "claim %s/%s is being %s; retry", op->ns, op->name, what);
	return busy;
}

static void op_start(struct dra_call_op *op)
{
	char buf[256];
	const char *problem = dra_claim_ref_problem(op->ns, op->name, op->uid, buf, sizeof(buf));
	if (problem) {
		dra_call_op_fail(op, "claim %s", problem);
		return;
	}
	op->started = true;
	op->call->verb->start(op);
}

int dra_call_start(struct dra_daemon *d, const struct dra_call_verb *verb, bool v1, struct ky_grpc_stream *s,
		   dra_pb_claim *const *claims, size_t n, struct ky_error **err)
{
	struct dra_call *c = calloc(1, sizeof(*c));
	if (!c || !(c->ops = calloc(n + 1, verb->op_size))) {
		free(c);
		return ky_error_set(err, ENOMEM, "out of memory");
	}
	/* Kubelet says how long it waits (45 s); without a word, as long. */
	uint64_t timeout_ms = ky_grpc_stream_timeout_ms(s);
	if (!timeout_ms)
		timeout_ms = DRA_PREPARE_TIMEOUT_MS;
	*c = (struct dra_call){ .d = d, .verb = verb, .stream = s, .v1 = v1, .ops = c->ops, .n = n,
				.pending = n + 1, .start_us = dra_call_now_us(), .timeout_ms = timeout_ms,
				.deadline_ms = ky_loop_now_ms() + timeout_ms };
	KY_LIST_PREPEND(d->calls, c);
	for (size_t i = 0; i < n; i++) {
		struct dra_call_op *op = dra_call_op_at(c, i);
		op->call = c;
		op->ns = strdup(claims[i]->namespace_);
		op->name = strdup(claims[i]->name);
		op->uid = strdup(claims[i]->uid);
	}
	/* One count more than ops until every op has started, so an answer
	 * given at once (every claim refused) comes after the loop. */
	for (size_t i = 0; i < n; i++) {
		struct dra_call_op *op = dra_call_op_at(c, i);
		if (!op->ns || !op->name || !op->uid)
			dra_call_op_fail(op, "out of memory");
		else
			op_start(op);
	}
	if (--c->pending == 0)
		answer(c);
	return 0;
}

void dra_call_closed(void *userdata, struct ky_grpc_stream *s, int code)
{
	struct dra_daemon *d = userdata;
	for (struct dra_call *c = d->calls; c; c = c->next) {
		if (c->stream == s) {
			c->stream = NULL;
			ky_warn(c->verb->closed_event, "claims=%zu code=%s reason=\"%s\"", c->n,
				ky_grpc_code_name(code), c->verb->closed_reason);
		}
	}
}

void dra_call_release(struct dra_daemon *d)
{
	while (d->calls)
		call_free(d->calls);
}
