/* A node's devices as the ResourceSlices of one pool, and the plan that
 * brings the API server's slices to them (pure).
 *
 * The pool is named after the node and holds every device of the driver on
 * it, sorted by name so that publishing unchanged devices again writes
 * nothing. It is cut into slices of 128 devices, or 64 when unhealthy
 * devices are tainted (the API allows only 64 in a slice holding a tainted
 * device); the cut is made on the sorted list of all devices, healthy or
 * not, so that a device turning unhealthy or healthy again changes its own
 * slice only: one update, no new generation. An empty pool is one empty
 * slice, which says the driver runs and has no device. Slices are named as the kubeletplugin
 * helper names them (1.36+): generateName "<index, 5 hex digits>-<driver>-
 * <node>-", the index being the slice's place in the pool, which is how an
 * existing slice is matched to a desired one after a restart.
 *
 * Slices are compared by digest: a SHA-256 over what this driver owns of
 * the spec, normalised as the server normalises it (map keys in any order,
 * quantities by value so 1024Mi equals 1Gi, a taint's timeAdded ignored,
 * allowMultipleAllocations false equal to absent, fields this driver never
 * writes ignored), with the pool's generation left out: the plan decides it.
 *
 * Every slice of the pool carries the pool's generation, and a consumer
 * reads only the highest one and checks resourceSliceCount, so the
 * generation is what keeps it from combining slices of two states. It is
 * bumped when a consumer could otherwise see old and new contents side by
 * side: two slices updated, or one updated and others created, or a pool
 * started from nothing. It is kept when the change fits in one update
 * (applied at once by the server), as the kubeletplugin helper keeps it
 * (resourceslicecontroller.go, syncPool), and, unlike the helper, when
 * slices are only created beside ones that already match: kubelet deleting
 * a node's slices one by one is answered by creates alone, never by
 * rewriting the slices it has not reached yet. Slices of a lower
 * generation, with a name that carries no index or an index already
 * taken, or of another pool, are obsolete and deleted first. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dra_attrs.h"

struct ky_error;

struct dra_pool {
	const char *driver; /* "kyborg.io": spec.driver, the attributes' domain */
	const char *node;   /* spec.nodeName and the pool's name */
	/* A shared GPU (shares > 1) as one device with allowMultipleAllocations
	 * and a consumable "shares" capacity (KEP-5075, DRAConsumableCapacity);
	 * false: as that many devices "-r0" .. "-r<N-1>". */
	bool consumable;
	/* An unhealthy device with a NoSchedule taint "<driver>/unhealthy"
	 * (DRADeviceTaints); false: left out of the pool. */
	bool taints;
};

/* Longest device name dra_dev_name makes: "fpga-0000-3b-00-0-r1023". */
#define DRA_DEV_NAME_LEN 28

/* One device of the pool: a device, or one pre-split share of it. */
struct dra_entry {
	const struct dra_dev *dev; /* borrowed from the caller's array */
	int replica;               /* -1: the whole device */
	char name[DRA_DEV_NAME_LEN];
};

struct dra_layout {
	struct dra_entry *entries; /* sorted by name */
	size_t n;
	size_t *first;   /* slice i holds entries[first[i] .. first[i + 1]) */
	size_t n_slices; /* at least 1 */
};

/* Devices a slice holds at most: 128, 64 with taints. */
size_t dra_layout_slice_size(const struct dra_pool *pool);
/* Expands, sorts and cuts the devices (each checked with dra_dev_check)
 * into slices. -EINVAL naming the device for a bad one or a name used
 * twice: nothing is built. The layout borrows devs. */
int dra_layout_build(const struct dra_pool *pool, const struct dra_dev *devs, size_t n, struct dra_layout **out,
		     struct ky_error **err);
void dra_layout_free(struct dra_layout *l);
bool dra_entry_tainted(const struct dra_pool *pool, const struct dra_entry *e);

/* The JSON of one device of the pool, checked as the server would. */
int dra_device_json(const struct dra_pool *pool, const struct dra_entry *e, cJSON **out, struct ky_error **err);

/* The whole ResourceSlice object of slice index: generateName,
 * ownerReferences to the Node when node_uid is given, spec with driver,
 * nodeName, pool {name, generation, resourceSliceCount} and devices. */
int dra_slice_json(const struct dra_pool *pool, const struct dra_layout *l, size_t index, int64_t generation,
		   const char *node_uid, cJSON **out, struct ky_error **err);

/* Hex digits of a slice's index: 5, more when the pool needs them. */
size_t dra_slice_index_len(size_t n_slices);
/* The index a slice's name starts with ("0002a-kyborg.io-node-a-x7k2p"),
 * read with exactly index_len hex digits before the first '-'; -1 when the
 * name carries none (a slice of another naming scheme). */
long dra_slice_index(const char *name, size_t index_len);

#define DRA_DIGEST_LEN 32
/* The digest of a ResourceSlice object (the server's or one built here). */
void dra_slice_digest(const cJSON *slice, uint8_t out[DRA_DIGEST_LEN]);

enum {
	DRA_FEATURE_TAINTS = 1u << 0,     /* a device has taints */
	DRA_FEATURE_CONSUMABLE = 1u << 1, /* a device has allowMultipleAllocations */
};
/* Which optional fields the slice's devices use: comparing what was sent
 * with what the server stored tells a feature gate that is off (the server
 * drops the fields of a disabled gate without an error). */
unsigned dra_slice_features(const cJSON *slice);

/* ---- the plan ---- */

/* A slice the server has, as the plan needs it. */
struct dra_slice_state {
	const char *name;
	const char *pool;
	int64_t generation;
	uint8_t digest[DRA_DIGEST_LEN];
};

enum dra_op_kind {
	DRA_OP_DELETE,
	DRA_OP_UPDATE,
	DRA_OP_CREATE,
};

struct dra_op {
	enum dra_op_kind kind;
	size_t slice;  /* the desired slice (update, create) */
	size_t actual; /* the server's slice (delete, update) */
};

struct dra_plan {
	struct dra_op *ops; /* deletes, then updates, then creates */
	size_t n;
	size_t n_delete, n_update, n_create;
	int64_t generation; /* of every slice written */
};

/* Which desired slices a server slice stands for (out[k], n_desired of
 * them): the only ones whose digest dra_plan_make reads; the others are
 * created whatever their digest. 0 or -ENOMEM. */
int dra_plan_matched(const char *pool, size_t n_desired, const struct dra_slice_state *actual, size_t n_actual,
		     bool *out);

/* What brings the server's slices (actual) to the desired ones (their
 * digests, n_desired >= 1, read only where dra_plan_matched says) of the
 * pool named pool. No op at all when they match. 0 or -ENOMEM. */
int dra_plan_make(const char *pool, const uint8_t (*desired)[DRA_DIGEST_LEN], size_t n_desired,
		  const struct dra_slice_state *actual, size_t n_actual, struct dra_plan *out);
void dra_plan_release(struct dra_plan *p);
