/* Keeps the API server's ResourceSlices of one driver on one node in step
 * with the devices the daemon has, on the event loop (no call blocks).
 *
 * How the daemon uses it:
 *   dra_publish_new(loop, client, driver, node, &opts, &p, &err)   at start
 *   dra_publish_set(p, devs, n, &err)   with every device (struct dra_dev,
 *       from dra_dev_from_pci plus shares, health and the FPGA image id),
 *       at start and after every hot-plug, health or config change; it
 *       copies what it keeps, returns at once, and a set that changes
 *       nothing writes nothing; several sets in one turn of the loop are
 *       published once
 *   dra_publish_stop(p, delete_slices, done, userdata)   at SIGTERM, then
 *   dra_publish_free(p)
 *
 * It lists and watches the driver's slices of the node (fieldSelector
 * spec.driver=<driver>,spec.nodeName=<node>, whole objects, few per page)
 * through the core's reflector, which resumes a watch that ends, lists again
 * after 410 and backs off after errors; it keeps of each slice only its
 * name, uid, resourceVersion, pool, generation and digest (dra_known.h,
 * dra_slices.h). Whenever they differ from the desired slices (a set at
 * once; watch events and relists once events pause, 30 ms, at most 200 ms)
 * it runs a round: the plan's deletes (with uid and resourceVersion
 * preconditions), then PUTs with the resourceVersion it knows, then POSTs,
 * four at a time, then a round that checks nothing is left to do. Kubelet
 * deleting the node's slices (at its start, and 30 s after the plugin went
 * away) therefore comes back as watch events and the slices are created
 * again within the round trips that takes (the slices it has not deleted
 * yet are not touched). A 409 re-reads that slice and runs the round again; other
 * failures (the server down, 5xx, 422) back off with jitter. What the
 * server answers becomes the known state at once (a following round never
 * creates a slice twice), a watch event older than it is ignored.
 *
 * Feature gates: a shared GPU is one device with consumable capacity, an
 * unhealthy device one with a NoSchedule taint, when the options ask for it
 * or leave it to the cluster (AUTO). A server whose gate is off drops those
 * fields without an error; seeing them gone from what it stored, AUTO
 * falls back for the rest of the publisher's life (pre-split shares,
 * unhealthy devices left out) and publishes again. A slice the server
 * stores differently for any other reason is taken as stored (logged, and
 * reported through failed), so nothing is ever rewritten in a loop.
 *
 * Shutdown: like the kubeletplugin helper, the default keeps the slices
 * (delete_slices false): a restarted driver finds and adopts them, and
 * kubelet deletes them 30 s after the plugin's socket went away if it does
 * not come back. delete_slices true removes them before done is called. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dra_attrs.h"
#include "kyborg/base/cleanup.h"

struct ky_error;
struct ky_loop;
struct ky_k8s_client;
struct dra_publish;

enum dra_sharing {
	DRA_SHARING_AUTO = 0,       /* consumable capacity, pre-split when the server drops it */
	DRA_SHARING_CONSUMABLE = 1, /* consumable capacity only */
	DRA_SHARING_SPLIT = 2,      /* always N pre-split devices */
};

enum dra_unhealthy {
	DRA_UNHEALTHY_AUTO = 0,  /* tainted, left out when the server drops taints */
	DRA_UNHEALTHY_TAINT = 1, /* always tainted (NoSchedule) */
	DRA_UNHEALTHY_OMIT = 2,  /* always left out of the pool */
};

struct dra_publish_opts {
	/* The Node's UID for the slices' ownerReferences, so that deleting the
	 * Node deletes them; NULL: read from the Node (RBAC nodes get), and
	 * none when the Node cannot be read (404, 403). */
	const char *node_uid;
	bool no_owner; /* no ownerReferences, no Node read */
	enum dra_sharing sharing;
	enum dra_unhealthy unhealthy;
	/* Writes at once; 0: 4 (over HTTP/1.1 each needs a connection beside
	 * the watch's: the client keeps 8). */
	unsigned max_inflight;
	uint32_t page_size;          /* slices per list page; 0: 4 (each up to ~0.6 MiB parsed) */
	uint32_t backoff_initial_ms; /* 0: 100 ms */
	uint32_t backoff_max_ms;     /* 0: 30 s */
	/* Optional, from the loop: the server's slices match the devices
	 * again after a change (generation and slice count as published). */
	void (*published)(void *userdata, int64_t generation, size_t slices);
	/* Optional: a failure it retries (already logged). */
	void (*failed)(void *userdata, const struct ky_error *err);
	void *userdata;
};

/* Starts listing the slices (and reading the Node); the first round runs
 * once both are done and dra_publish_set was called. driver and node are
 * checked (DNS subdomains). The client must outlive the publisher. */
int dra_publish_new(struct ky_loop *loop, struct ky_k8s_client *client, const char *driver, const char *node,
		    const struct dra_publish_opts *opts, struct dra_publish **out, struct ky_error **err);

/* The devices to publish, all of them. -EINVAL naming the device (a bad
 * one, a name twice): then nothing changes. Never blocks, never calls back
 * from inside. */
int dra_publish_set(struct dra_publish *p, const struct dra_dev *devs, size_t n, struct ky_error **err);

/* Stops publishing; done(userdata) runs later from the loop, after the
 * slices are deleted when delete_slices (each DELETE answered or failed).
 * Free the publisher from done or after it. */
void dra_publish_stop(struct dra_publish *p, bool delete_slices, void (*done)(void *userdata), void *userdata);

/* Cancels everything in flight; no callback runs afterwards. Safe from its
 * callbacks. */
void dra_publish_free(struct dra_publish *p);
KY_DEFINE_CLEANUP(struct dra_publish, dra_publish_free)

/* ---- introspection (tests, benchmarks, logs) ---- */

/* Whether the server's slices are known to match the devices last set. */
bool dra_publish_in_step(const struct dra_publish *p);

struct dra_publish_stats {
	unsigned creates, updates, deletes; /* writes that succeeded */
	unsigned conflicts;                 /* 409s, each re-read */
	unsigned errors;                    /* other failed writes and reads */
	unsigned rounds;                    /* rounds that wrote */
	unsigned publishes;                 /* times it came in step */
	unsigned lists, expired;            /* the reflector's lists, 410s */
	int64_t generation;                 /* of the pool as last written */
	size_t slices, devices;             /* desired */
	bool consumable, taints;            /* what it publishes now */
};
void dra_publish_stats(const struct dra_publish *p, struct dra_publish_stats *out);
