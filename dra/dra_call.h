/* A call of kubelet's that carries claims (NodePrepareResources,
 * NodeUnprepareResources), as one op per claim: each op's answer is its
 * own, the call answers once every op is done, and kubelet may close the
 * stream before (the ops go on, the answer is dropped). A verb's table
 * says how its ops start and fail, and how its answer is packed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dra_daemon.h"
#include "dra_proto.h"

struct dra_call;

/* The part of an op the call owns: the first member of a verb's op. */
struct dra_call_op {
	struct dra_call *call;
	char *ns, *name, *uid;
	bool started; /* past the claim reference's check */
	bool done;
	bool failed;  /* error says why (NULL: out of memory) */
	char *error;
};

struct dra_call_verb {
	const char *name;         /* the info line when answered: "prepare" */
	const char *response;     /* for an answer that cannot be packed */
	const char *failed_event; /* the warn line of a failed op */
	const char *closed_event; /* the warn line when kubelet stops waiting */
	const char *closed_reason;
	size_t op_size;           /* the verb's op, a struct dra_call_op first */
	/* Starts an op whose claim reference is sound; it ends in
	 * dra_call_op_fail() or dra_call_op_finish(). */
	void (*start)(struct dra_call_op *op);
	/* After an op failed (NULL: it is finished at once); ends in
	 * dra_call_op_finish(). */
	void (*failed)(struct dra_call_op *op);
	/* Frees the verb's part of an op (a child under way finishes on its own). */
	void (*free)(struct dra_call_op *op);
	/* Extra fields of the info line (" key=value"). NULL: none. */
	void (*summary)(const struct dra_call *c, char *buf, size_t size);
	int (*pack)(const struct dra_call *c, uint8_t **out, size_t *len);
};

struct dra_call {
	struct dra_daemon *d;
	const struct dra_call_verb *verb;
	struct ky_grpc_stream *stream; /* NULL once kubelet is gone */
	bool v1;                       /* v1 answers carry share_id */
	void *ops;                     /* n of verb->op_size */
	size_t n, pending;
	uint64_t start_us;
	uint64_t deadline_ms;          /* ky_loop_now_ms() when kubelet stops waiting */
	uint64_t timeout_ms;           /* how long kubelet waits */
	struct dra_call *prev, *next;
};

/* Starts a call of the claims on stream s (the claims are copied). An
 * error only when nothing started. */
int dra_call_start(struct dra_daemon *d, const struct dra_call_verb *verb, bool v1, struct ky_grpc_stream *s,
		   dra_pb_claim *const *claims, size_t n, struct ky_error **err);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t dra_call_now_us(void);
/* Op i of a call. */
struct dra_call_op *dra_call_op_at(const struct dra_call *c, size_t i);
/* The op is done; the call answers after its last. */
void dra_call_op_finish(struct dra_call_op *op);
/* The op failed with the message (logged), then the verb's failed. */
void dra_call_op_fail(struct dra_call_op *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Fails the op when busy: "claim NS/NAME is being WHAT; retry". Whether it did. */
bool dra_call_op_refuse(struct dra_call_op *op, bool busy, const char *what);
/* Whether a call of verb has an op of the claim other than self
 * (under_way: one started and not done). */
bool dra_call_has(const struct dra_daemon *d, const struct dra_call_verb *verb, const char *uid,
		  const struct dra_call_op *self, bool under_way);
/* The closed handler of a stream method (userdata: the daemon). */
void dra_call_closed(void *userdata, struct ky_grpc_stream *s, int code);
/* Forgets calls in flight (a child under way finishes on its own). */
void dra_call_release(struct dra_daemon *d);
