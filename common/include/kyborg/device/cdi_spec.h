/* CDI spec files (container-device-interface, cdiVersion 0.5.0): a spec
 * names devices and what each gives a container (device nodes, env), so a
 * CDI-aware runtime resolves "<vendor>/<class>=<name>". The device plugin
 * writes one spec per resource; the DRA driver one per prepared claim,
 * named as the CDI producer names transient specs. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kyborg/device/device_alloc.h"

struct ky_error;

#define KY_CDI_VERSION "0.5.0"

/* A device of a spec: its name and what it gives a container (its specs
 * become deviceNodes, its envs env; the rest is not CDI's). */
struct ky_cdi_device {
	const char *name;
	const struct ky_device_alloc *edits;
};

/* The spec (pure): kind "<vendor>/<class>", edits common to every device
 * (NULL: none) and the devices. NULL on ENOMEM. */
char *ky_cdi_spec_json(const char *kind, const struct ky_device_alloc *common, const struct ky_cdi_device *devs,
		       size_t n);
/* Writes text as dir/name (mode 0644) atomically, dir made when missing:
 * a runtime reads the old spec or the new one, never a mix. */
int ky_cdi_spec_write(const char *dir, const char *name, const char *text, struct ky_error **err);
/* Removes dir/name; a spec already gone is no error. */
int ky_cdi_spec_remove(const char *dir, const char *name, struct ky_error **err);
/* The CDI parser's rules: a vendor or class starts with a letter, ends
 * with a letter or digit, and holds [A-Za-z0-9_.-] (a class no '.'); a
 * device name starts and ends alphanumeric and holds [A-Za-z0-9_.:-]. */
bool ky_cdi_vendor_valid(const char *vendor);
bool ky_cdi_name_valid(const char *name);

/* ---- one spec per resource (the device plugin) ---- */

/* "kyborg-kyborg.io_gpu.json" (malloc'd). */
char *ky_cdi_resource_spec_name(const char *resource);
/* kind = the resource name, one device per healthy ID with the device
 * nodes Allocate gives it. Written as a stream: a document tree for
 * 10,000 devices would cost megabytes of small allocations. */
char *ky_cdi_resource_spec_json(const struct ky_device_resource *res, const struct ky_devlist *list);
int ky_cdi_resource_write(const char *dir, const struct ky_device_resource *res, const struct ky_devlist *list,
			  struct ky_error **err);
void ky_cdi_resource_remove(const char *dir, const struct ky_device_resource *res);

/* ---- one spec per claim (the DRA driver) ---- */

/* kind "<vendor>/claim", device "<claim UID>-<device>", in the file
 * "<vendor>-claim_<claim UID>.json" (all malloc'd; NULL on ENOMEM). */
#define KY_CDI_CLAIM_CLASS "claim"
char *ky_cdi_claim_kind(const char *vendor);
char *ky_cdi_claim_spec_name(const char *vendor, const char *claim_uid);
char *ky_cdi_claim_device_name(const char *claim_uid, const char *device);
/* The fully qualified ID a container is given: "<vendor>/claim=<uid>-<device>". */
char *ky_cdi_claim_device_id(const char *vendor, const char *claim_uid, const char *device);
