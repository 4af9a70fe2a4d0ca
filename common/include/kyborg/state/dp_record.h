/* The device plugin's allocation record: one per device Allocate handed
 * out, in the state store <state dir>/allocations under the key
 * <resource, '/' as '_'>@<device ID> (kyborg.io_gpu@0000:3b:00.0::1),
 * written by kyborg-device-plugin and read by kyborgctl, which counts the
 * devices as in use where kubelet's own checkpoint is missing. The
 * device-plugin API has no release call: a record means "given to a
 * container at that time", not "in use now". This module is the one place
 * that knows its JSON:
 *
 *   { "version": 1, "resource": "kyborg.io/fpga-nlb", "kind": "fpga",
 *     "device": "0000:af:00.0", "pci": "0000:af:00.0",
 *     "allocatedAt": "2026-12-03T08:00:00Z",
 *     "bitstream": "d8424dc4a4a3c413f89e433683f9040b" }
 *
 * Versions: a record without "version" is version 1, in either of two
 * layouts: the one above, or the earlier one record per resource,
 * {"resource", "kind", "devices": {ID: {"pci", "allocatedAt", ...}}},
 * which reads as one record per device. A newer version is refused
 * (-EPROTO). A key that is absent or not a string reads as NULL. */
#pragma once

#include <stddef.h>
#include <cjson/cJSON.h>

struct ky_error;
struct ky_state_lock;
struct ky_state_store;

#define KY_DP_RECORD_VERSION 1

struct ky_dp_record {
	unsigned version;
	char *resource;     /* the extended resource, "kyborg.io/gpu" */
	char *kind;         /* "gpu", "fpga", "nic" */
	char *device;       /* the device ID kubelet allocated, "0000:3b:00.0::1" */
	char *pci;          /* its PCI function */
	char *allocated_at; /* the last Allocate of the ID, RFC 3339 */
	char *bitstream;    /* FPGAs: the image PreStartContainer left loaded; NULL */
};

/* Frees what the record holds and zeroes it. */
void ky_dp_record_clear(struct ky_dp_record *rec);

/* <state_dir>/allocations, malloc'd; NULL when out of memory. */
char *ky_dp_record_dir(const char *state_dir);
/* The key of a device's record, malloc'd; NULL when out of memory. The
 * caller checks it with ky_state_key_valid(). */
char *ky_dp_record_key(const char *resource, const char *device);

/* The records a JSON document holds: one, or one per device of the
 * earlier per-resource layout. -EBADMSG when it is not an object. */
int ky_dp_records_from_json(const cJSON *doc, struct ky_dp_record **out, size_t *n, struct ky_error **err);
void ky_dp_records_free(struct ky_dp_record *v, size_t n);
int ky_dp_record_to_json(const struct ky_dp_record *rec, cJSON **out, struct ky_error **err);

/* One device's record under a held lock: -ENOENT when there is none,
 * -EBADMSG when it is not one device's record, -EPROTO when newer. */
int ky_dp_record_load(struct ky_state_lock *l, struct ky_dp_record *out, struct ky_error **err);
/* Without the lock, for readers that change nothing: every record the
 * key's document holds. */
int ky_dp_records_get(struct ky_state_store *s, const char *key, struct ky_dp_record **out, size_t *n,
		      struct ky_error **err);
/* Replaces the record atomically, not durably: after a power loss kubelet
 * admits its pods again and their Allocate calls write the records anew. */
int ky_dp_record_save(struct ky_state_lock *l, const struct ky_dp_record *rec, struct ky_error **err);
