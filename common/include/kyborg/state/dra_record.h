/* The DRA driver's checkpoint: one record per claim prepared on this node,
 * in the state store <state dir>/dra-claims under the claim's UID, written
 * by kyborg-dra-driver durably before it answers NodePrepareResources and
 * deleted after NodeUnprepareResources has undone what Prepare did. It is
 * the journal of a Prepare: "preparing" is written before the node is
 * touched, "prepared" once everything is in place, so after a kill at any
 * step, Unprepare (or Prepare again) knows what to undo or finish, and
 * Unprepare works after the claim is gone from the API server. kyborgctl
 * reads it to know which devices claims hold. This module is the one place
 * that knows its JSON:
 *
 *   { "version": 1, "claimUID": "5c1e...", "namespace": "ns1", "name": "gpu",
 *     "driver": "kyborg.io", "state": "prepared",
 *     "cdiSpec": "/var/run/cdi/kyborg.io-claim_5c1e....json",
 *     "updatedAt": "2026-12-03T08:00:00Z",
 *     "devices": [ { "requests": ["gpu"], "pool": "node-a", "device": "gpu-0000-3b-00-0",
 *                    "pci": "0000:3b:00.0", "kind": "gpu", "resource": "kyborg.io/gpu",
 *                    "shareID": "8c1f...", "cdiID": "kyborg.io/claim=5c1e...-gpu-0000-3b-00-0",
 *                    "bitstream": "d842...",
 *                    "vf": { "mask": 2, "vlan": 100, ... } } ] }
 *
 * "shareID", "bitstream" and "vf" are left out when empty. "vf" (a VF's
 * device) holds the settings the claim's VfConfig set on the PF, in the
 * shape of kyborg/state/vf_record.h: they are the claim's, and the CNI
 * plugin, moving the VF into the pod, neither applies nor restores them
 * (ky_dra_record_find_by_pci). A newer version is refused (-EPROTO); a
 * record without "version" is version 1.
 *
 * Beside the records, an index by PCI function, so that a reader asking
 * "which claim holds this function?" reads one small file, not every
 * record: <state dir>/dra-devices/<PCI address>.json,
 *
 *   { "version": 1, "pci": "0000:18:01.1", "claims": ["5c1e..."] }
 *
 * kept by the driver as it writes and deletes records (ky_dra_links_*,
 * atomically, not durably: the driver rebuilds it from the records when it
 * starts). A link is a hint: a reader believes it only once the record it
 * names holds the function. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "kyborg/net/netlink_vf.h"

struct ky_error;
struct ky_state_lock;
struct ky_state_store;

#define KY_DRA_RECORD_VERSION 1

enum ky_dra_claim_state {
	KY_DRA_PREPARING = 0, /* written before the node is changed */
	KY_DRA_PREPARED = 1,  /* everything in place; the answer went out or may */
};

struct ky_dra_record_device {
	char **requests; /* request names, subrequests stripped ("nic", not "nic/fast") */
	size_t n_requests;
	char *pool;      /* the ResourceSlice pool */
	char *device;    /* the DRA device name, "gpu-0000-3b-00-0" */
	char *pci;       /* its PCI function */
	char *kind;      /* "gpu", "fpga", "vf" */
	char *resource;  /* the config's resource, "kyborg.io/gpu" */
	char *share_id;  /* status.allocation.devices.results[].shareID, or NULL */
	char *cdi_id;    /* "kyborg.io/claim=<uid>-<device>" */
	char *bitstream; /* FPGAs: the image id programmed for the claim, or NULL */
	struct ky_vf_config vf; /* VFs: the settings the claim set on the PF (vf.mask 0: none) */
};

struct ky_dra_record {
	unsigned version;
	char *claim_uid;
	char *namespace_;
	char *name;
	char *driver;
	enum ky_dra_claim_state state;
	char *cdi_spec;   /* the claim's CDI spec file (path) */
	char *updated_at; /* RFC 3339 */
	struct ky_dra_record_device *devices;
	size_t n_devices;
};

const char *ky_dra_claim_state_name(enum ky_dra_claim_state s);
/* Frees what the record holds and zeroes it. */
void ky_dra_record_clear(struct ky_dra_record *rec);
/* <state_dir>/dra-claims, malloc'd; NULL when out of memory. */
char *ky_dra_record_dir(const char *state_dir);

/* -EBADMSG naming the key at fault when doc is not such a record, -EPROTO
 * when it is newer than this binary. */
int ky_dra_record_from_json(const cJSON *doc, struct ky_dra_record *out, struct ky_error **err);
int ky_dra_record_to_json(const struct ky_dra_record *rec, cJSON **out, struct ky_error **err);
/* A deep copy into *out. */
int ky_dra_record_copy(const struct ky_dra_record *rec, struct ky_dra_record *out, struct ky_error **err);

/* Under a held lock (the key is the claim's UID): -ENOENT when there is
 * none, and the errors above. */
int ky_dra_record_load(struct ky_state_lock *l, struct ky_dra_record *out, struct ky_error **err);
/* Without the lock, for readers that change nothing. */
int ky_dra_record_get(struct ky_state_store *s, const char *key, struct ky_dra_record *out, struct ky_error **err);
/* Replaces the record under a held lock: durably (ky_state_write: fsync'd
 * before the rename, and the directory after: kubelet is told a claim is
 * prepared only once its record would survive a power loss) or only
 * atomically (ky_state_write_fast: survives any process kill). */
int ky_dra_record_save(struct ky_state_lock *l, const struct ky_dra_record *rec, bool durable,
		       struct ky_error **err);

/* ---- the index by PCI function ---- */

/* <state_dir>/dra-devices, malloc'd; NULL when out of memory. */
char *ky_dra_link_dir(const char *state_dir);
/* Adds the record's claim to the link of each of its devices' functions
 * (a link that names it already is not written again). */
int ky_dra_links_add(struct ky_state_store *links, const struct ky_dra_record *rec, struct ky_error **err);
/* Takes the claim out of the links of the record's functions; a link left
 * naming no claim goes. */
int ky_dra_links_remove(struct ky_state_store *links, const struct ky_dra_record *rec, struct ky_error **err);
/* Makes the links say exactly what the records say: each function any of
 * them holds links to its claims, every other link goes. */
int ky_dra_links_sync(struct ky_state_store *links, const struct ky_dra_record *recs, size_t n,
		      struct ky_error **err);
/* The claim that holds the PCI function pci (normalised, "0000:18:01.1")
 * under state_dir, for a reader in another binary (the CNI plugin): its
 * record into *out and the index of the device in it into *device.
 * -ENOENT when no claim holds it (no DRA driver on the node: one lstat);
 * -EBADMSG or -EPROTO when the record a link names cannot be read (the
 * caller cannot know what the claim set); nothing is created. */
int ky_dra_record_find_by_pci(const char *state_dir, const char *pci, struct ky_dra_record *out, size_t *device,
			      struct ky_error **err);
