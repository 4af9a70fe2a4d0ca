/* kyborgctl's side that touches the node: who uses each device (the CNI
 * plugin's records, kubelet's device-plugin checkpoint and the DRA driver's
 * prepared claims), the devices'
 * whole-device state beyond PCI discovery (devlink eswitch mode, a GPU's
 * state through its `read` program), and the executor that runs a plan's
 * actions in order, stopping at the first failure and saying where. */
#pragma once

#include <stdbool.h>

#include "kyborg/node/node_plan.h"

struct ky_cni_record;
struct ky_dp_record;
struct ky_dra_record;
struct ky_error;

struct ky_usage_sources {
	const char *cni_state_dir;      /* NULL: not read */
	const char *kubelet_checkpoint; /* NULL: not read */
	const char *dp_state_dir;       /* the device plugin's; NULL: not read */
	const char *dra_state_dir;      /* the DRA driver's; NULL: not read */
};

/* Reads who uses which PCI function now: every CNI record of this boot
 * (device.pciID), every device kubelet has assigned to a container
 * (device IDs that are PCI addresses, "ADDR::N" replicas included) and
 * every device of a claim the DRA driver has prepared or is preparing
 * (<dra_state_dir>/dra-claims; whatever the boot: kubelet prepares a claim
 * again after a reboot, and the driver finishes it from its record). The
 * device plugin's allocation records (<dp_state_dir>/allocations) are read
 * only when kubelet's checkpoint is absent: they are never released (the
 * device-plugin API has no release call), so kubelet's record of the pods
 * alive now is the truth where it exists, and without it every device the
 * plugin ever handed out counts as in use (refusing beats disrupting). A
 * missing directory or file means no users; an unreadable record (one of
 * a newer version than this binary knows included) is skipped with a
 * warning log. Creates nothing. */
int ky_node_usage_read(const struct ky_usage_sources *src, struct ky_node_usage **out, struct ky_error **err);
/* What each source says, pure: one CNI record (ignored unless its bootID
 * is boot_id or absent), kubelet's checkpoint document, one of the device
 * plugin's allocation records and one of the DRA driver's claim records
 * (every device's PCI function, used by "claim <namespace>/<name> (<uid>)",
 * in either state: a claim still preparing holds its devices too). */
int ky_node_usage_add_cni_record(struct ky_node_usage *u, const struct ky_cni_record *rec, const char *boot_id);
int ky_node_usage_add_kubelet_checkpoint(struct ky_node_usage *u, const struct cJSON *doc);
int ky_node_usage_add_dp_record(struct ky_node_usage *u, const struct ky_dp_record *rec);
int ky_node_usage_add_dra_record(struct ky_node_usage *u, const struct ky_dra_record *rec);

/* Fills each target's cur: the devlink eswitch mode of NIC PFs whose entry
 * sets one, the state GPU entries' `read` programs print, and the image
 * (afu_id) an FPGA's port holds. What cannot
 * be read stays unknown with a note (the plan then shows "unknown"); only
 * running out of memory fails. */
int ky_node_read_current(struct ky_node_targets *t, struct ky_error **err);

struct ky_apply_opts {
	const char *image_cache_dir; /* FPGA images by URL are fetched into it (content-addressed) */
	const char *fetch_helper;    /* kyborg-fetch: the only binary that links libcurl */
};

/* Runs the plan's actions in order (nothing when it is refused), filling
 * each one's status and steps. First every image the plan loads is
 * resolved (a URL fetched into the cache) and its SHA-256 checked: a
 * mismatch refuses the whole plan (-EBADMSG, p->refused, nothing changed,
 * the old image stays). Then the actions run; at the first failure it
 * stops: that action is failed (its error says what it undid, or where the
 * device was left), the later ones not run. Returns 0 when every action is
 * done, or the failure's -errno with "<device> <change>: ..." in *err. */
int ky_node_apply(struct ky_plan *p, const struct ky_apply_opts *o, struct ky_error **err);
