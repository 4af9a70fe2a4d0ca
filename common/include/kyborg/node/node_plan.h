/* kyborgctl's planner: which devices a profile chooses on this node, who
 * uses them, and the ordered list of whole-device changes that converge the
 * node to the profile, each flagged when it takes a device from running
 * pods or needs a reboot. Pure: the current state comes in (see
 * node_apply.h for reading it from the kernel and for applying a plan). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "kyborg/base/cleanup.h"
#include "kyborg/node/node_profile.h"
#include "kyborg/pci/pci.h"
#include "kyborg/pci/sriov_sysfs.h"

struct cJSON;
struct ky_error;

/* ---- Who uses a device right now ---- */

struct ky_dev_user {
	char addr[KY_PCI_ADDR_LEN];
	char *who; /* "pod <uid> container <name> (kyborg.io/gpu)", "CNI <network> container <id> interface <ifname>",
		    * "claim <namespace>/<name> (<uid>)" */
};

struct ky_node_usage {
	struct ky_dev_user *users;
	size_t n;
};

/* Records that `who` uses the function at addr (any accepted form), once:
 * the same user of the same function again adds nothing. -EINVAL when
 * addr is not a PCI address, -ENOMEM. */
int ky_node_usage_add(struct ky_node_usage *u, const char *addr, const char *who);
void ky_node_usage_free(struct ky_node_usage *u);
KY_DEFINE_CLEANUP(struct ky_node_usage, ky_node_usage_free)

/* ---- The devices a profile chooses ---- */

/* A device's whole-device state beyond what PCI discovery reads. */
struct ky_dev_current {
	enum ky_eswitch_mode eswitch; /* KY_ESWITCH_UNKNOWN when not read or unreadable */
	char *eswitch_note;           /* why it is unreadable */
	char *command_state;          /* what the GPU's `read` program printed, trimmed; NULL when not run */
	char *command_note;           /* why it could not be read */
	char *image_id;               /* the FPGA port's afu_id; NULL when unknown */
	char *image_note;             /* why it is unknown */
};

struct ky_node_target {
	const struct ky_profile_entry *entry; /* borrowed from the profile */
	const struct ky_pci_dev *dev;         /* borrowed from the PCI list */
	struct ky_dev_current cur;            /* owned; filled by ky_node_read_current() */
};

struct ky_node_targets {
	struct ky_node_target *t;
	size_t n;
	char **notes; /* "devices[1].selector matches no device on this node" */
	size_t n_notes;
};

/* Resolves every entry to its devices, in profile order. -EINVAL naming the
 * field for an address that is not on this node, a device of another kind
 * (a nic entry takes SR-IOV physical functions only), a VF count above the
 * device's total, or a device two entries choose. A selector that matches
 * nothing is a note, not an error: one profile may serve many nodes. */
int ky_node_targets_resolve(const struct ky_profile *p, const struct ky_pci_list *pci,
			    struct ky_node_targets **out, struct ky_error **err);
void ky_node_targets_free(struct ky_node_targets *t);
KY_DEFINE_CLEANUP(struct ky_node_targets, ky_node_targets_free)

/* ---- The plan ---- */

enum ky_action_kind {
	KY_ACT_NUM_VFS,   /* sriov_numvfs, through 0 when both counts are non-zero */
	KY_ACT_ESWITCH,   /* devlink eswitch mode */
	KY_ACT_VF_DRIVER, /* every VF bound to a driver through driver_override */
	KY_ACT_COMMAND,   /* the GPU's admin-configured apply program */
	KY_ACT_IMAGE,     /* the FPGA's whole-device image */
};

enum ky_action_status {
	KY_ACT_PLANNED,
	KY_ACT_DONE,
	KY_ACT_FAILED,
	KY_ACT_NOT_RUN, /* an earlier action failed */
};

struct ky_action {
	enum ky_action_kind kind;
	const struct ky_node_target *target; /* borrowed from the targets */
	char *from, *to;                     /* as shown: "4", "legacy", "iavf on 2 of 4 VFs" */
	bool disruptive;                     /* takes the device (or its VFs) from its users */
	bool reboot;                         /* takes effect after a reboot only */
	char **pods;                         /* the users that lose it (NULL-terminated, may be empty) */
	size_t n_pods;
	/* Filled by ky_node_apply(): */
	enum ky_action_status status;
	char **steps;                        /* what it did to the kernel, in order */
	size_t n_steps;
	char *error;                         /* why it failed, and where it stopped */
};

struct ky_plan {
	struct ky_action *acts;
	size_t n;
	bool force;    /* --force: disruptive actions run anyway */
	bool refused;  /* nothing may change: see refusal */
	char *refusal; /* why: a change would disrupt pods (force is off), or an image failed its check */
};

/* The actions that take the targets from their current state to the
 * profile, per device: VF count, eswitch mode, VF driver (a NIC PF), the
 * command (a GPU), the image (an FPGA). Nothing when all match. */
int ky_node_plan(const struct ky_node_targets *t, const struct ky_pci_list *pci, const struct ky_node_usage *usage,
		 bool force, struct ky_plan **out, struct ky_error **err);
void ky_plan_free(struct ky_plan *p);
KY_DEFINE_CLEANUP(struct ky_plan, ky_plan_free)

const char *ky_action_name(enum ky_action_kind kind);     /* "numVfs", "eswitchMode", ... */
const char *ky_action_status_name(enum ky_action_status s); /* "planned", "done", ... */
/* Appends a step to a.steps. 0 or -ENOMEM. */
int ky_action_step(struct ky_action *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A sysfs log (kyborg/pci/sriov_sysfs.h) that records each write as a step of a. */
struct ky_sysfs_log ky_action_sysfs_log(struct ky_action *a);

/* ---- Reports ---- */

/* What kyborgctl's exit code tells a deployment tool. */
enum ky_plan_result {
	KY_PLAN_CONVERGED, /* nothing to change (plan) or nothing changed (apply) */
	KY_PLAN_CHANGES,   /* plan: changes would be made */
	KY_PLAN_CHANGED,   /* apply: changes made, the node now matches */
	KY_PLAN_REFUSED,   /* nothing changed: a change would take a device from pods, or an image is bad */
	KY_PLAN_FAILED,    /* apply: a change failed; the report says where it stopped */
};
const char *ky_plan_result_name(enum ky_plan_result r);
/* The result of a plan (applied or not). */
enum ky_plan_result ky_plan_result(const struct ky_plan *p, bool applied);

/* { "result", "force", ["refusal"], "notes": [..], "actions": [ { "device", "kind", "entry", "change",
 *   "from", "to", "disruptive", "reboot", "pods", "status", "steps", ["error"] } ] } */
int ky_plan_to_json(const struct ky_plan *p, const struct ky_node_targets *t, bool applied, struct cJSON **out,
		    struct ky_error **err);
/* The same for people: one block per device. -EIO when writing fails. */
int ky_plan_write_text(const struct ky_plan *p, const struct ky_node_targets *t, bool applied, FILE *f,
		       struct ky_error **err);
