/* The ResourceSlices the API server has for one driver on one node, as far
 * as the publisher needs them (pure): each slice's name, uid,
 * resourceVersion, pool, generation, digest (dra_slices.h) and the
 * timeAdded the server gave each taint, sorted by name. Filled from watch
 * events and from the answers to the publisher's own writes, whichever
 * comes first: an object older than what is known (a watch event an
 * answer overtook) is ignored. Never the objects themselves: a slice of
 * 128 devices is about 0.1 MiB of JSON. */
#pragma once

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dra_slices.h"

struct dra_taint_time {
	char *device, *key, *value, *effect, *time;
};

struct dra_known_slice {
	char *name, *uid, *rv, *pool; /* "" when the object had none */
	unsigned long long rv_num;    /* rv as a number, when it is one (etcd's revision) */
	bool rv_numeric;
	int64_t generation;
	uint8_t digest[DRA_DIGEST_LEN];
	struct dra_taint_time *times;
	size_t n_times;
};

struct dra_known {
	struct dra_known_slice *s; /* sorted by name */
	size_t n, cap;
};

void dra_known_release(struct dra_known *k);
struct dra_known_slice *dra_known_get(struct dra_known *k, const char *name);
void dra_known_remove(struct dra_known *k, const char *name);
/* Records a ResourceSlice object, unless a newer state of it is known.
 * 0, -EINVAL (no metadata.name), -ENOMEM (nothing changed). */
int dra_known_upsert(struct dra_known *k, const cJSON *obj);
/* The highest generation among the slices of pool, 0 for none. */
int64_t dra_known_generation(const struct dra_known *k, const char *pool);

/* A resourceVersion read as a number: false when it is not one (it is
 * opaque to clients; kube-apiserver's are etcd revisions, and client-go's
 * mutation cache compares them as numbers too). */
bool dra_rv_parse(const char *rv, unsigned long long *num);

/* Puts the known timeAdded on each taint of slice (an object about to be
 * written over s) with the same device, key, value and effect, as the
 * kubeletplugin helper's copyTaintTimeAdded does: the server would stamp a
 * new one otherwise. */
void dra_known_copy_taint_times(const struct dra_known_slice *s, cJSON *slice);
