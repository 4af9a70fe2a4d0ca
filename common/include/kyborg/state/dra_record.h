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
 *                    "bitstream": "d842..." } ] }
 *
 * "shareID" and "bitstream" are left out when empty. Version 2 adds, per
 * device, the claim's own configuration (issue 17: the opaque parameters
 * of status.allocation.devices.config that apply to it) and the journal of
 * its change, each key absent when it does not apply:
 *
 *     "configPath": "config[1]",             the entry of the allocation's config
 *     "vf": { "pf": "ens1f0", "vfIndex": 1,  a VfConfig
 *             "set": { VF settings },        what the claim sets (mask: its fields)
 *             "driver": "vfio-pci",          or "netdevice"; absent: left as it is
 *             "saved": { VF settings },      the fields "set" changes, as they were,
 *             "savedDriver": "iavf",         the driver and driver_override before
 *             "savedOverride": "" },         (all three written durably before any change)
 *     "fpga": { "bitstream": { "id", "path" | "url", "sha256" },   an FpgaConfig
 *               "previousId": "..." },       the image the port held before
 *     "gpu": { "sharing": "timeSliced", "env": [ "NAME=value" ] }  a GpuConfig
 *
 * VF settings are the CNI record's keys (mask, mac, vlan, qos, vlanProto,
 * minTxRate, maxTxRate, spoofchk, trust, linkState). A record is written
 * with the lowest version that holds it (1 without any of these), so a
 * binary that knows only version 1 still reads what it can undo, or with
 * its own version where that is higher (a record read back keeps its
 * version). A newer version is refused (-EPROTO); a record without
 * "version" is version 1. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "kyborg/net/netlink_vf.h"
#include "kyborg/pci/image_cache.h"

struct ky_error;
struct ky_state_lock;
struct ky_state_store;

#define KY_DRA_RECORD_VERSION 2

enum ky_dra_claim_state {
	KY_DRA_PREPARING = 0, /* written before the node is changed */
	KY_DRA_PREPARED = 1,  /* everything in place; the answer went out or may */
};

/* What a VfConfig asks of the VF's driver. */
enum ky_dra_vf_driver {
	KY_DRA_VF_DRIVER_KEEP = 0,  /* left as it is */
	KY_DRA_VF_DRIVER_NETDEVICE, /* a kernel network driver (the VF's default driver) */
	KY_DRA_VF_DRIVER_VFIO,      /* vfio-pci, for a userspace (DPDK) or VM user */
};
const char *ky_dra_vf_driver_name(enum ky_dra_vf_driver d); /* "", "netdevice", "vfio-pci" */

/* A VfConfig applied to a VF, and the journal of its change: the previous
 * values are written (durably) before the VF changes, so Unprepare puts
 * back exactly what Prepare changed, after any kill. */
struct ky_dra_record_vf {
	char *pf;                 /* the PF's netdev, on which the settings are made */
	int vf_index;
	struct ky_vf_config set;  /* the claim's settings; mask: the fields it sets */
	enum ky_dra_vf_driver driver;
	bool saved;               /* prev, prev_driver and prev_override hold what was there */
	struct ky_vf_config prev; /* the fields set.mask names, before (mask 0: none) */
	char *prev_driver;        /* the driver before ("" unbound); NULL: the claim changes none */
	char *prev_override;      /* driver_override before ("" none); NULL as prev_driver */
};

/* An FpgaConfig: the claim's own bitstream, and what the port held before. */
struct ky_dra_record_fpga {
	struct ky_image_spec bitstream;
	char *prev_id; /* NULL: not read yet */
};

/* A GpuConfig: how the claim shares the GPU, and its environment. */
struct ky_dra_record_gpu {
	char *sharing; /* "exclusive" or "timeSliced" */
	char **env;    /* "NAME=value", NULL-terminated */
	size_t n_env;
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
	/* Version 2: the claim's configuration of this device (NULL: none). */
	char *config_path; /* "config[1]": its entry in status.allocation.devices.config */
	struct ky_dra_record_vf *vf;
	struct ky_dra_record_fpga *fpga;
	struct ky_dra_record_gpu *gpu;
};

struct ky_dra_record {
	unsigned version; /* 0: the lowest that holds it (ky_dra_record_version_needed) */
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
/* The version a record is written with: 2 when a device carries a
 * configuration, 1 otherwise. */
unsigned ky_dra_record_version_needed(const struct ky_dra_record *rec);
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
